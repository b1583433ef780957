"""The commands a PyMongo client sends, for tests of how many round trips a write takes."""

from collections import Counter

from pymongo import monitoring


class Commands(monitoring.CommandListener):
    """Counts the commands a client starts, by (command name, collection)."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()

    def count(self, name: str, collection: str) -> int:
        return self.sent[(name, collection)]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.sent[(event.command_name, target if isinstance(target, str) else "")] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
