"""The one entrypoint: offer and demand events in, match events out (via the outbox).

Why the matcher persists its state instead of rebuilding it from the topics at start-up:
Tansu keeps topics in memory only, so after a broker restart there is nothing to replay;
and every decision depends on the seats already reserved, which must survive a crash
exactly once. So each consumed event is handled in ONE MongoDB transaction: the inbox
record (a redelivered event is a no-op), the changed offers and demands, and the outgoing
match events in the outbox. The in-memory market of a service type is only a cache of
what is committed: loaded on first use, dropped after a failed transaction and cleared on
every partition rebalance, so a new owner of a partition never decides on stale state."""

import logging
from typing import Any

from aiokafka import ConsumerRebalanceListener
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.contract.taxonomy import area_of
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.inbox import first_delivery
from concilia.platform.metrics import (
    MATCHES,
    NOT_FOUND,
    OPEN_OFFERS,
    TIME_TO_MATCH,
    WAITING_DEMANDS,
)
from concilia.platform.mongo import Database, Document, Session, in_transaction
from concilia.platform.outbox import OutboxRelay, add_to_outbox
from services.matcher import store
from services.matcher.domain.decisions import Outcome, Proposal
from services.matcher.domain.events import UnknownEventType, parse
from services.matcher.domain.market import Market
from services.matcher.messages import match_message

log = logging.getLogger("concilia.matcher")

CONSUMER = "matcher"
_TYPE_PREFIX = {topics.OFFERS: "offer.", topics.DEMANDS: "demand."}


class MarketCache:
    """Markets by service type, loaded from the database on first use."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._markets: dict[str, Market] = {}

    async def get(self, service_type: str) -> Market:
        if service_type not in self._markets:
            self._markets[service_type] = await store.load_market(self._db, service_type)
        return self._markets[service_type]

    def drop(self, service_type: str) -> None:
        self._markets.pop(service_type, None)

    def clear(self) -> None:
        self._markets.clear()

    def in_area(self, area: str) -> list[Market]:
        return [m for st, m in self._markets.items() if area_of(st) == area]


class ClearCacheOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions moved: whatever is cached may have been changed by another member."""

    def __init__(self, cache: MarketCache) -> None:
        self._cache = cache

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._cache.clear()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._cache.clear()


class MatchingHandler:
    """Handles one offer or demand event: parse, decide (domain), persist, stage events."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        db: Database,
        relay: OutboxRelay,
        cache: MarketCache,
    ) -> None:
        self._client = client
        self._db = db
        self._relay = relay
        self.cache = cache

    async def __call__(self, event: CloudEvent | None, record: Record) -> str | None:
        if event is None:
            raise PoisonMessage("unexpected_tombstone", f"on {record.topic}")
        if not event.type.startswith(_TYPE_PREFIX.get(record.topic, "?")):
            raise PoisonMessage("unknown_type", f"{event.type} on {record.topic}")
        try:
            market_event = parse(event.type, event.data)  # ValidationError → DLQ
        except UnknownEventType as exc:
            raise PoisonMessage("unknown_type", event.type) from exc
        service_type = market_event.service_type
        market = await self.cache.get(service_type)
        try:
            outcome = market.apply(market_event, event.time)
            first = await in_transaction(self._client, self._persist(event.id, market, outcome))
        except Exception:
            self.cache.drop(service_type)  # the cache may be ahead of the database now
            raise
        if not first:
            if outcome.changed:
                self.cache.drop(service_type)
            return "duplicate"
        if outcome.decisions:
            self._relay.notify()
        self._observe(market, outcome)
        return "processed"

    def _persist(self, event_id: str, market: Market, outcome: Outcome) -> Any:
        messages = [match_message(d) for d in outcome.decisions]

        async def work(session: Session) -> bool:
            # Only database writes of values computed above: with_transaction may rerun it.
            if not await first_delivery(self._db, session, CONSUMER, event_id):
                return False
            await store.save(self._db, session, market, outcome)
            await add_to_outbox(self._db, session, messages)
            return True

        return work

    def _observe(self, market: Market, outcome: Outcome) -> None:
        area = str(area_of(market.service_type))
        for decision in outcome.decisions:
            if isinstance(decision, Proposal):
                MATCHES.labels(area, market.service_type).inc()
                waited = (decision.time - decision.submitted_at).total_seconds()
                TIME_TO_MATCH.observe(max(0.0, waited))
            else:
                NOT_FOUND.labels(str(decision.reason)).inc()
        markets = self.cache.in_area(area)
        OPEN_OFFERS.labels(area).set(sum(m.open_offers for m in markets))
        WAITING_DEMANDS.labels(area).set(sum(m.waiting_demands for m in markets))
