"""The commands a PyMongo client sends, for tests of how many round trips a write takes."""

from collections import Counter

from pymongo import monitoring


class Commands(monitoring.CommandListener):
    """Counts the commands a client starts, by (command name, collection), and the
    statements of its update commands, by collection."""

    def __init__(self) -> None:
        self.sent: Counter[tuple[str, str]] = Counter()
        self.updated: Counter[str] = Counter()

    def count(self, name: str, collection: str) -> int:
        return self.sent[(name, collection)]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        self.sent[(event.command_name, collection)] += 1
        if event.command_name == "update":
            self.updated[collection] += len(event.command.get("updates", ()))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
