"""The matcher's batch handler over a real database, with a relay that publishes nothing:
for tests of what the handler stores, not of what reaches Kafka."""

from datetime import timedelta
from typing import Any

from services.matcher.subscribers import MarketCache, MatchingHandler

TTL = timedelta(days=3650)  # test events are old: every proposal stays open


class QuietRelay:
    """The relay is not under test: committed rows are left in the outbox."""

    def notify(self) -> None:
        pass

    def committed(self, row: dict[str, Any]) -> None:
        pass


def a_handler(client: Any, db: Any) -> MatchingHandler:
    """A handler with an empty cache, as a matcher that just started."""
    return MatchingHandler(client, db, QuietRelay(), MarketCache(db, TTL))  # type: ignore[arg-type]
