"""The Kafka entry of the matcher: offer, demand and answer events in, match events out
(via the outbox); and the expiry sweep of answer windows, which persists the same way.

Why the matcher persists its state instead of rebuilding it from the topics at start-up:
Tansu keeps topics in memory only, so after a broker restart there is nothing to replay;
and every decision depends on the seats already held, which must survive a crash exactly
once. So each chunk of consumed events (a batch, or the events fetched while the last
chunk committed) is handled in ONE MongoDB transaction: the position reached in each
partition (a redelivered event, at or before it, is a no-op), the changed offers, demands
and matches, and the chunk's outgoing match events as one outbox row. The
same event published twice (at two offsets) changes nothing either: the market ignores a
version it knows and an answer already given. The in-memory market of a service type is
only a cache of what is committed: loaded on first use (its partition claimed first),
dropped with the rest of its partition after a failed transaction and cleared on every
partition rebalance, so a new owner of a partition never decides on stale state. Batches
and expiry sweeps take turns on one lock: they never race on a market, and a rebalance
waits for the batch in flight before the partitions are handed over. Should a member that
lost a partition still try to commit (say it was paused through the rebalance), the
partition's epoch fences it off (store.claim / store.save)."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import ConsumerRebalanceListener
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.contract.taxonomy import area_of
from concilia.platform.batch_consumer import More
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.failpoints import failpoint
from concilia.platform.mongo import Database, Document, Session, in_transaction
from concilia.platform.outbox import OutboxRelay, add_rows_to_outbox, batch_row
from services.matcher import store
from services.matcher.domain.decisions import Outcome
from services.matcher.domain.events import MarketEvent, UnknownEventType, parse
from services.matcher.domain.market import Market
from services.matcher.messages import match_message
from services.matcher.metrics import observe, observe_ages

log = logging.getLogger("concilia.matcher")

CONSUMER = "matcher"
CHUNK = 250  # events per transaction within a batch: the next chunk is decided meanwhile
# How long one call goes on taking the events fetched since its batch (see `_handle`): its
# offsets are committed and a rebalance or expiry sweep gets its turn at least this often.
DRAIN_SECONDS = 1.0
YIELD_EVERY = 16  # events decided between two turns of the event loop (the commit in flight)
_TYPE_PREFIX = {topics.OFFERS: "offer.", topics.DEMANDS: "demand."}

Change = tuple[Market, Outcome, int]  # a market, what changed, its partition


async def _nothing_more() -> list["Incoming"]:
    return []


class MarketCache:
    """Markets by service type, loaded from the database on first use, with the partition
    their events come from. `generation` counts the clears (rebalances)."""

    def __init__(
        self, db: Database, answer_ttl: timedelta, answer_grace: timedelta = timedelta(0)
    ) -> None:
        self._db = db
        self._answer_ttl = answer_ttl
        self._answer_grace = answer_grace
        self._markets: dict[str, Market] = {}
        self._epochs: dict[int, int] = {}  # our claim on each partition
        self._logged: dict[str, store.Logged] = {}
        # Positions as last read or committed (None: none yet); a stale one only makes a
        # transaction fail (positions move only from where it found them) and be retried.
        self.positions: dict[str, int | None] = {}
        self._partitions: dict[str, int] = {}
        self.lock = asyncio.Lock()  # one batch, sweep or rebalance at a time
        self.owned: set[int] = set()
        self.to_load = False  # partitions were assigned: load their markets
        self.handing_over = False  # a rebalance waits for the lock: stop taking more events
        self.generation = 0

    async def get(self, service_type: str, partition: int) -> Market:
        """The market of `service_type`, whose events come from `partition`; the partition
        is claimed before the first of its markets is loaded (that fences others off)."""
        if service_type not in self._markets:
            if partition not in self._epochs:
                self._epochs[partition] = await store.claim(self._db, partition)
            await store.place(self._db, service_type, partition)
            market, logged = await store.load_market(
                self._db, service_type, self._answer_ttl, self._answer_grace
            )
            self._markets[service_type] = market
            self._logged[service_type] = logged
        self._partitions[service_type] = partition
        return self._markets[service_type]

    def epoch_of(self, service_type: str) -> int:
        return self._epochs[self._partitions[service_type]]

    def logged_of(self, service_type: str) -> store.Logged:
        return self._logged[service_type]

    def partition_of(self, service_type: str) -> int:
        return self._partitions[service_type]

    def markets(self) -> list[Market]:
        return [self._markets[st] for st in sorted(self._markets)]

    def drop(self, service_type: str, *, moved: bool) -> None:
        """Forget a market that may be ahead of the database, with every market of its
        partition and our claim on it: the next load claims the partition again, as the
        claim and the markets loaded after it must go together. Unless another member took
        the partition (`moved`: a rebalance is on its way), the next expiry sweep loads them
        all again, so that their answer windows keep running without an event to load them."""
        partition = self._partitions.get(service_type)  # every cached market has one
        if partition is None:
            return
        for other in [st for st, p in self._partitions.items() if p == partition]:
            del self._markets[other], self._logged[other], self._partitions[other]
        self._epochs.pop(partition, None)
        if not moved and partition in self.owned:
            self.to_load = True

    def clear(self) -> None:
        self._markets.clear()
        self._logged.clear()
        self.positions.clear()
        self._partitions.clear()
        self._epochs.clear()
        self.generation += 1

    def assigned(self, partitions: set[int]) -> None:
        self.clear()
        self.owned = partitions
        self.to_load = True

    def in_area(self, area: str) -> list[Market]:
        return [m for st, m in self._markets.items() if area_of(st) == area]


class ClearCacheOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions moved: whatever is cached may have been changed by another member. The
    batch or sweep in flight finishes (commits or fails) before the partitions are given
    up: the lock is taken before the cache is cleared."""

    def __init__(self, cache: MarketCache) -> None:
        self._cache = cache

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self._cache.handing_over = True
        try:
            async with self._cache.lock:
                self._cache.clear()
        finally:
            self._cache.handing_over = False

    async def on_partitions_assigned(self, assigned: Any) -> None:
        async with self._cache.lock:
            self._cache.assigned({tp.partition for tp in assigned})


@dataclass(frozen=True)
class Incoming:
    """One offer, demand or answer event, checked and parsed (what `prepare` hands on)."""

    event_id: str
    time: datetime
    market_event: MarketEvent
    topic: str
    partition: int
    offset: int
    published: float | None = None  # its record's timestamp, s since the epoch


@dataclass(frozen=True)
class Transaction:
    """A batch's transaction (`run`, which may be run again) and the outbox row it stages,
    handed to the relay once committed."""

    run: Callable[[Session], Awaitable[None]]
    row: dict[str, Any] | None


class MatchingHandler:
    """Handles a batch of events: decide (domain) in order, then persist the positions
    reached, every changed offer, demand and match, and the outgoing match events in ONE
    transaction. `expire_due` does the same for the answer windows that ended (no positions)."""

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
        self.lock = cache.lock

    @staticmethod
    def prepare(event: CloudEvent | None, record: Record) -> Incoming:
        """Check one record on its own; raises PoisonMessage / ValidationError (→ DLQ)."""
        if event is None:
            raise PoisonMessage("unexpected_tombstone", f"on {record.topic}")
        if not event.type.startswith(_TYPE_PREFIX.get(record.topic, "?")):
            raise PoisonMessage("unknown_type", f"{event.type} on {record.topic}")
        try:
            market_event = parse(event.type, event.data)
        except UnknownEventType as exc:
            raise PoisonMessage("unknown_type", event.type) from exc
        published = record.timestamp / 1000 if record.timestamp >= 0 else None  # -1: none
        return Incoming(
            event.id,
            event.time,
            market_event,
            record.topic,
            record.partition,
            record.offset,
            published,
        )

    async def __call__(
        self, batch: Sequence[Incoming], /, more: More[Incoming] | None = None
    ) -> list[str]:
        async with self.lock:
            return await self._handle(batch, more or _nothing_more)

    async def _handle(self, batch: Sequence[Incoming], more: More[Incoming]) -> list[str]:
        """Decide in chunks, each persisted in its own transaction while the next is decided:
        the matcher's CPU and the database's overlap. The next chunk is the rest of the batch,
        then whatever `more` has fetched since, for up to DRAIN_SECONDS; so at any rate the
        events that arrive while a transaction commits are decided meanwhile, not after it.
        The call is acknowledged (its offsets committed) only after its last chunk is; a
        failure drops the markets it touched and redelivers it all, and the positions skip
        whatever chunks were committed."""
        deadline = time.monotonic() + DRAIN_SECONDS
        reached: dict[str, int] = {}
        known: set[str] = set()  # position keys read for this call
        touched: dict[str, Market] = {}
        outcomes: list[str] = []
        committing: asyncio.Task[None] | None = None
        pending = list(batch)
        try:
            while pending:
                keys = {store.position_key(i.topic, i.partition) for i in pending} - known
                reached.update(await self._positions(keys))
                known |= keys
                for start in range(0, len(pending), CHUNK):
                    chunk = pending[start : start + CHUNK]
                    before = dict(reached)
                    published: list[float] = []
                    changes = await self._decide(chunk, reached, touched, outcomes, published)
                    moved = {
                        key: offset for key, offset in reached.items() if before.get(key) != offset
                    }
                    work = self._persist(store.Positions(before, moved), list(changes.values()))
                    if committing is not None:
                        await committing
                    committing = asyncio.create_task(
                        self._commit(work, list(changes.values()), moved, published)
                    )
                if time.monotonic() > deadline or self.cache.handing_over:
                    break
                pending = await more()  # fetched while the last chunk was decided
                if not pending and committing is not None:
                    await committing
                    pending = await more()  # fetched while it committed
            if committing is not None:
                await committing
        except BaseException as exc:
            if committing is not None and not committing.done():
                with contextlib.suppress(BaseException):
                    await committing  # never leave a transaction running behind a retry
            taken = isinstance(exc, store.MarketMoved)  # by another member
            for service_type in touched:  # the cache may be ahead of the database now
                self.cache.drop(service_type, moved=taken)
            self.cache.positions.clear()
            raise
        for market in touched.values():
            market.saved()  # closed records are in the database now: out of memory
        return outcomes

    async def _decide(
        self,
        chunk: Sequence[Incoming],
        reached: dict[str, int],
        touched: dict[str, Market],
        outcomes: list[str],
        published: list[float],
    ) -> dict[str, Change]:
        """Apply a chunk's events to their markets, in order; what changed, by market.
        `published` gets the publication times of the events applied (for EVENT_AGE)."""
        changes: dict[str, Change] = {}
        taken = time.time()
        for item in chunk:
            key = store.position_key(item.topic, item.partition)
            if item.offset <= reached.get(key, -1):  # redelivered: already committed
                outcomes.append("duplicate")
                continue
            reached[key] = item.offset
            market = await self.cache.get(item.market_event.service_type, item.partition)
            touched[market.service_type] = market
            outcome = market.apply(item.market_event, item.time)
            changes.setdefault(market.service_type, (market, Outcome(), item.partition))[1].merge(
                outcome
            )
            outcomes.append("processed")
            if item.published is not None:
                published.append(item.published)
            if len(outcomes) % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the chunk in flight go on meanwhile
        observe_ages("taken", published, taken)
        return changes

    async def expire_due(self, now: datetime) -> int:
        """Expire the proposals of the cached (owned) markets whose window ended before
        `now`, and persist that like a batch; how many decisions that made."""
        async with self.lock:
            generation = self.cache.generation
            if self.cache.to_load:
                await self._load_owned()
            changes: list[Change] = []
            try:
                for market in self.cache.markets():
                    outcome = market.expire_due(now)
                    if outcome.changed:
                        partition = self.cache.partition_of(market.service_type)
                        changes.append((market, outcome, partition))
                if changes and generation != self.cache.generation:
                    raise RuntimeError("partitions moved during the expiry sweep")
                await self._commit(self._persist(store.Positions({}, {}), changes), changes)
            except Exception as exc:
                moved = isinstance(exc, store.MarketMoved)
                for market, _, _ in changes:
                    self.cache.drop(market.service_type, moved=moved)
                raise
            for market, _, _ in changes:
                market.saved()
            return sum(len(outcome.decisions) for _, outcome, _ in changes)

    async def _load_owned(self) -> None:
        """After an assignment: load the markets of the owned partitions, so that their
        windows run out and their gap is exported even if no event comes."""
        for service_type, partition in await store.markets_on(self._db, self.cache.owned):
            await self.cache.get(service_type, partition)
        self.cache.to_load = False

    async def _positions(self, keys: set[str]) -> dict[str, int]:
        """Where these topic partitions were left (read once, then kept as committed)."""
        unknown = keys - self.cache.positions.keys()
        if unknown:
            found = await store.positions(self._db, unknown)
            self.cache.positions.update({key: found.get(key) for key in unknown})
        return {key: p for key in keys if (p := self.cache.positions[key]) is not None}

    async def _commit(
        self,
        work: Transaction | None,
        changes: list[Change],
        moved: dict[str, int] | None = None,
        published: Sequence[float] = (),
    ) -> None:
        """Run a transaction `_persist` prepared (none if nothing changed); `published`: the
        publication times of the events it holds."""
        if work is None:
            return
        await in_transaction(self._client, work.run)
        observe_ages("committed", published, time.time())
        self.cache.positions.update(moved or {})
        if work.row is not None:
            self._relay.committed(work.row)
        for market, outcome, _ in changes:
            self._observe(market, outcome)

    def _persist(self, positions: store.Positions, changes: list[Change]) -> Transaction | None:
        """The transaction of these changes, its documents and messages worked out now
        (the records may change again before it runs); None if nothing changed."""
        if not positions.moved and not any(outcome.changed for _, outcome, _ in changes):
            return None
        messages = [match_message(d) for _, outcome, _ in changes for d in outcome.decisions]
        batch = store.writes(
            positions,
            [
                store.Changed(
                    market,
                    outcome,
                    partition,
                    self.cache.epoch_of(market.service_type),
                    self.cache.logged_of(market.service_type),
                )
                for market, outcome, partition in changes
            ],
        )

        row = batch_row(messages) if messages else None

        async def run(session: Session) -> None:
            # Only database writes of values computed above: with_transaction may rerun it.
            await store.save(self._db, session, batch)
            await add_rows_to_outbox(self._db, session, [row] if row else [])
            failpoint("matcher.in_transaction")

        return Transaction(run, row)

    def _observe(self, market: Market, outcome: Outcome) -> None:
        # The gap gauges are exported from the markets every few seconds (gauges.py).
        observe(market.service_type, outcome.decisions)
