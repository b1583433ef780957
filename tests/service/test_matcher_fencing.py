"""Ownership fences the matcher's writes (real SecantusDB): a member that lost a market to
another can never commit, and a rebalance waits for the batch in flight."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from concilia.contract.topics import DEMANDS, OFFERS
from concilia.platform.batch_consumer import More
from concilia.platform.outbox import OUTBOX, ensure_outbox_indexes
from services.matcher import store
from services.matcher.subscribers import (
    ClearCacheOnRebalance,
    Incoming,
    MarketCache,
    MatchingHandler,
)
from tests.support.market import at, published, submitted
from tests.support.matcher import TTL, QuietRelay, a_handler

pytestmark = pytest.mark.service


def submitted_at(minutes: int, demand_id: str, offset: int) -> Incoming:
    """A demand submitted at `minutes`, at `offset` of partition 0."""
    return Incoming(f"{demand_id}-event", at(minutes), submitted(demand_id), DEMANDS, 0, offset)


async def partition_moved(client: Any, db: Any) -> tuple[MatchingHandler, MatchingHandler]:
    """The old owner, which handled an after_school offer on partition 0, and the new owner
    of partition 0, which has claimed it by loading the after_school market."""
    await store.ensure_indexes(db)
    await ensure_outbox_indexes(db)
    old, new = a_handler(client, db), a_handler(client, db)
    await old([Incoming("offer-event", at(0), published("offer-1", capacity=1), OFFERS, 0, 0)])
    await new.cache.get("after_school", 0)
    return old, new


class TestFencing:
    async def test_a_member_that_lost_the_market_commits_nothing(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """After another member claimed the market, the old owner's batch fails with
        MarketMoved and leaves no trace; the new owner decides on the committed state."""
        db = mongo_client[database_name]
        old, new = await partition_moved(mongo_client, db)
        demand = Incoming("demand-event", at(1), submitted("demand-1"), DEMANDS, 0, 0)
        with pytest.raises(store.MarketMoved):
            await old([demand])
        assert await db[store.DEMANDS].count_documents({}) == 0
        assert await db[OUTBOX].count_documents({}) == 0

        assert await new([demand]) == ["processed"]
        offer = await db[store.OFFERS].find_one({"_id": "offer-1"})
        assert offer is not None
        assert offer["reserved"] == 1
        assert await db[OUTBOX].count_documents({}) == 1

    async def test_claiming_a_partition_fences_off_every_market_of_it(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """The old owner's batch fails even on a market of the partition that the new
        owner has not loaded yet: the claim is on the partition, not market by market."""
        db = mongo_client[database_name]
        old, _ = await partition_moved(mongo_client, db)
        sport = published("sport-offer", service_type="sport")
        with pytest.raises(store.MarketMoved):
            await old([Incoming("sport-event", at(1), sport, OFFERS, 0, 1)])
        assert await db[store.OFFERS].count_documents({"_id": "sport-offer"}) == 0
        assert await db[OUTBOX].count_documents({}) == 0

    async def test_a_redelivered_batch_has_one_effect(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """The same records handled again (a batch redelivered after a crash before the
        offsets were committed) are duplicates: no decision, no write, no outbox row."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        first = a_handler(mongo_client, db)
        batch = [
            Incoming("offer-event", at(0), published("offer-1", capacity=1), OFFERS, 0, 0),
            Incoming("demand-event", at(1), submitted("demand-1"), DEMANDS, 0, 0),
        ]
        assert await first(batch) == ["processed", "processed"]
        rows = await db[OUTBOX].find().to_list()

        restarted = a_handler(mongo_client, db)  # a new process: nothing cached
        assert await restarted(batch) == ["duplicate", "duplicate"]
        assert await restarted([*batch, submitted_at(2, "demand-2", 1)]) == [
            "duplicate",
            "duplicate",
            "processed",
        ]
        assert await store.events_handled(db) == 3
        offer = await db[store.OFFERS].find_one({"_id": "offer-1"})
        assert offer is not None
        assert offer["reserved"] == 1
        after = await db[OUTBOX].find().to_list()
        assert after[: len(rows)] == rows
        assert [m["type"] for row in after[len(rows) :] for m in row["messages"]] == [
            "match.not_found"
        ]

    async def test_a_position_in_a_document_of_its_own_is_moved_into_the_fence(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """A position as earlier versions kept it (a document per topic partition) still
        counts: the event at it is a duplicate, the next one is handled, and the position
        is then in the partition's fence document only."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        legacy = store.position_key(DEMANDS, 0)
        await db[store.MARKETS].insert_one({"_id": legacy, "offset": 0})
        batch = [submitted_at(0, "demand-1", 0), submitted_at(1, "demand-2", 1)]
        assert await a_handler(mongo_client, db)(batch) == ["duplicate", "processed"]
        assert await db[store.MARKETS].count_documents({"_id": legacy}) == 0
        assert await store.events_handled(db) == 2
        assert await db[store.DEMANDS].distinct("_id") == ["demand-2"]

    async def test_a_rebalance_waits_for_the_batch_in_flight(self, mongo_client: Any) -> None:
        """Partitions are given up only once the batch holding the lock has finished."""
        cache = MarketCache(mongo_client["unused"], TTL)
        listener = ClearCacheOnRebalance(cache)
        generation = cache.generation
        async with cache.lock:  # a batch in flight
            revoking = asyncio.create_task(listener.on_partitions_revoked(set()))
            for _ in range(5):
                await asyncio.sleep(0)  # let the listener run as far as it can
            assert not revoking.done()
            assert cache.generation == generation
        await revoking
        assert cache.generation == generation + 1


def fetched_once(*items: Incoming) -> More[Incoming]:
    """A `more` that hands `items` over the first time, then nothing."""
    fetched = [list(items)]

    async def more() -> list[Incoming]:
        return fetched.pop() if fetched else []

    return more


class TestEventsTakenWhileCommitting:
    async def test_are_decided_and_committed_in_the_same_call(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """A demand fetched while the offer's transaction commits (`more`) is decided in
        the same call, in its own transaction after the offer's."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        more = fetched_once(submitted_at(1, "demand-1", 0))
        offer = Incoming("offer-event", at(0), published("offer-1", capacity=1), OFFERS, 0, 0)
        assert await a_handler(mongo_client, db)([offer], more=more) == ["processed"] * 2
        assert await store.events_handled(db) == 2
        assert await db[store.MATCHES].count_documents({"demand_id": "demand-1"}) == 1
        [row] = await db[OUTBOX].find().to_list()  # the offer alone decided nothing
        assert [m["type"] for m in row["messages"]] == ["match.proposed"]

    async def test_a_failed_commit_redelivers_the_call_with_one_effect(
        self, mongo_client: Any, database_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The demand's transaction fails after the offer's committed: the call fails and
        forgets its markets, so the redelivered call skips the offer and matches the
        demand (a market kept in memory would have it matched already, and write nothing)."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        more = fetched_once(submitted_at(1, "demand-1", 0))
        real, saves = store.save, []

        async def second_fails(*args: Any) -> None:
            saves.append(args)
            if len(saves) == 2:
                raise ConnectionError("the database went away")
            await real(*args)

        monkeypatch.setattr(store, "save", second_fails)
        offer = Incoming("offer-event", at(0), published("offer-1", capacity=1), OFFERS, 0, 0)
        matcher = a_handler(mongo_client, db)
        with pytest.raises(ConnectionError):
            await matcher([offer], more=more)
        assert await store.events_handled(db) == 1
        assert await db[store.MATCHES].count_documents({}) == 0

        redelivered = [offer, submitted_at(1, "demand-1", 0)]
        assert await matcher(redelivered) == ["duplicate", "processed"]
        assert await db[store.MATCHES].count_documents({"demand_id": "demand-1"}) == 1
        offer_doc = await db[store.OFFERS].find_one({"_id": "offer-1"})
        assert offer_doc is not None
        assert offer_doc["reserved"] == 1


class TestAFailedTransaction:
    async def test_leaves_the_answer_windows_of_its_partition_running(
        self, mongo_client: Any, database_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A sport batch fails: every market of its partition is forgotten (they may be ahead
        of the database), after_school's too. The next expiry sweep loads them again, so the
        after_school proposal still expires when its window ends, though no event of its
        type has come since."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        matcher = MatchingHandler(
            mongo_client,
            db,
            QuietRelay(),
            MarketCache(db, timedelta(minutes=60)),  # type: ignore[arg-type]
        )
        matcher.cache.assigned({0})
        offer = Incoming("offer-event", at(0), published("offer-1", capacity=1), OFFERS, 0, 0)
        assert await matcher([offer, submitted_at(1, "demand-1", 1)]) == ["processed"] * 2
        assert await matcher.expire_due(at(2)) == 0  # the assigned markets are loaded

        async def fails(*args: Any) -> None:
            raise ConnectionError("the database went away")

        monkeypatch.setattr(store, "save", fails)
        sport = published("offer-2", service_type="sport")
        with pytest.raises(ConnectionError):
            await matcher([Incoming("sport-event", at(2), sport, OFFERS, 0, 1)])
        monkeypatch.undo()

        assert await matcher.expire_due(at(62)) == 1
        [match] = await db[store.MATCHES].find({"demand_id": "demand-1"}).to_list()
        assert match["state"] == "expired"
