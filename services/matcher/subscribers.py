"""The one entrypoint: offer and demand events in, match events out (via the outbox).

Why the matcher persists its state instead of rebuilding it from the topics at start-up:
Tansu keeps topics in memory only, so after a broker restart there is nothing to replay;
and every decision depends on the seats already reserved, which must survive a crash
exactly once. So each consumed batch of events is handled in ONE MongoDB transaction: the
inbox records (a redelivered event is a no-op), the changed offers and demands, and the
outgoing match events in the outbox. The in-memory market of a service type is only a cache of
what is committed: loaded on first use, dropped after a failed transaction and cleared on
every partition rebalance, so a new owner of a partition never decides on stale state."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRebalanceListener
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.contract.taxonomy import area_of
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.inbox import INBOX
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
from services.matcher.domain.events import MarketEvent, UnknownEventType, parse
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


@dataclass(frozen=True)
class Incoming:
    """One offer or demand event, checked and parsed (what `prepare` hands the batch)."""

    event_id: str
    time: datetime
    market_event: MarketEvent


class MatchingHandler:
    """Handles a batch of offer and demand events: decide (domain) in order, then persist
    every inbox record, changed offer and demand, and outgoing match in ONE transaction."""

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

    @staticmethod
    def prepare(event: CloudEvent | None, record: Record) -> Incoming:
        """Check one record on its own; raises PoisonMessage / ValidationError (→ DLQ)."""
        if event is None:
            raise PoisonMessage("unexpected_tombstone", f"on {record.topic}")
        if not event.type.startswith(_TYPE_PREFIX.get(record.topic, "?")):
            raise PoisonMessage("unknown_type", f"{event.type} on {record.topic}")
        try:
            return Incoming(event.id, event.time, parse(event.type, event.data))
        except UnknownEventType as exc:
            raise PoisonMessage("unknown_type", event.type) from exc

    async def __call__(self, batch: Sequence[Incoming]) -> list[str]:
        ids = [f"{CONSUMER}:{item.event_id}" for item in batch]
        seen = {doc["_id"] for doc in await self._db[INBOX].find({"_id": {"$in": ids}}).to_list()}
        changes: dict[str, tuple[Market, Outcome]] = {}
        outcomes: list[str] = []
        try:
            for key, item in zip(ids, batch, strict=True):
                if key in seen:  # redelivered: its effect is already committed
                    outcomes.append("duplicate")
                    continue
                seen.add(key)
                market = await self.cache.get(item.market_event.service_type)
                outcome = market.apply(item.market_event, item.time)
                merged = changes.setdefault(market.service_type, (market, Outcome()))[1]
                merged.decisions += outcome.decisions
                merged.offers |= outcome.offers
                merged.demands |= outcome.demands
                outcomes.append("processed")
            new_ids = [
                key for key, label in zip(ids, outcomes, strict=True) if label == "processed"
            ]
            await in_transaction(self._client, self._persist(new_ids, list(changes.values())))
        except Exception:
            for service_type in changes:  # the cache may be ahead of the database now
                self.cache.drop(service_type)
            raise
        if any(outcome.decisions for _, outcome in changes.values()):
            self._relay.notify()
        for market, outcome in changes.values():
            self._observe(market, outcome)
        return outcomes

    def _persist(self, new_ids: list[str], changes: list[tuple[Market, Outcome]]) -> Any:
        messages = [match_message(d) for _, outcome in changes for d in outcome.decisions]

        async def work(session: Session) -> None:
            # Only database writes of values computed above: with_transaction may rerun it.
            if not new_ids:
                return
            if await self._db[INBOX].find_one({"_id": {"$in": new_ids}}, session=session):
                # Another member processed some of these meanwhile (a rebalance): retry.
                raise RuntimeError("events already processed by another consumer")
            now = datetime.now(UTC)
            await self._db[INBOX].insert_many(
                [{"_id": key, "at": now} for key in new_ids], session=session
            )
            for market, outcome in changes:
                await store.save(self._db, session, market, outcome)
            await add_to_outbox(self._db, session, messages)

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
