"""The matcher's storage on the real SecantusDB: a waiting demand answered again with a new
reason is kept as a reason document, not a rewrite of the demand, and a reload (restart,
rebalance) still knows its latest reason and answer count, before and after the market's
reason documents are folded into fewer."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from concilia.contract.matches import NotFoundReason
from concilia.contract.topics import DEMANDS, OFFERS
from concilia.platform.outbox import ensure_outbox_indexes
from services.matcher import store
from services.matcher.domain.events import MarketEvent
from services.matcher.subscribers import Incoming, MatchingHandler
from tests.support.commands import Commands
from tests.support.market import at, published, requester_declines, submitted, withdrawn
from tests.support.matcher import a_handler
from tests.support.places import PIAZZA_GAE_AULENTI, SAN_SIRO

pytestmark = pytest.mark.service


def incoming(minutes: int, event: MarketEvent, topic: str, offset: int) -> Incoming:
    return Incoming(f"{topic}-{offset}", at(minutes), event, topic, 0, offset)


async def told_no_provider_then_too_far(client: Any, db: Any) -> MatchingHandler:
    """A matcher on `db` whose demand "a" waited for no provider, then for a far offer."""
    await store.ensure_indexes(db)
    await ensure_outbox_indexes(db)
    matcher = a_handler(client, db)
    await matcher([incoming(0, submitted("a", near=SAN_SIRO), DEMANDS, 0)])
    await matcher([incoming(1, published("offer-1"), OFFERS, 0)])
    return matcher


async def reloaded(client: Any, db: Any) -> tuple[NotFoundReason | None, int]:
    """The demand's reason and answer count as a new process loads them."""
    market = await a_handler(client, db).cache.get("after_school", 0)
    record = market.demands["a"]
    return record.waiting_reason, record.not_found_answers


class TestReasonDocuments:
    async def test_a_reason_answered_again_survives_a_reload_without_rewriting_the_demand(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """no_provider, then too_far once a far offer arrives: the demand document keeps
        the first answer, a reason document the second, and a reload gets the second."""
        db = mongo_client[database_name]
        await told_no_provider_then_too_far(mongo_client, db)

        demand = await db[store.DEMANDS].find_one({"_id": "a"})
        assert demand is not None
        assert (demand["waiting_reason"], demand["not_found_answers"]) == ("no_provider", 1)
        assert await db[store.REASONS].count_documents({}) == 1
        assert await reloaded(mongo_client, db) == (NotFoundReason.TOO_FAR, 2)

    async def test_folded_reason_documents_keep_the_latest_reason_and_leave_the_demand_alone(
        self, mongo_client: Any, database_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once a market has FOLD_AT reason documents, the next answer replaces them with
        one document holding each demand's latest reason; the demand document is not
        rewritten, and a reload gets the latest reason and count."""
        db = mongo_client[database_name]
        matcher = await told_no_provider_then_too_far(mongo_client, db)
        monkeypatch.setattr(store, "FOLD_AT", 2)
        await matcher([incoming(2, withdrawn("offer-1", version=2), OFFERS, 1)])

        demand = await db[store.DEMANDS].find_one({"_id": "a"})
        assert demand is not None
        assert (demand["waiting_reason"], demand["not_found_answers"]) == ("no_provider", 1)
        [folded] = await db[store.REASONS].find({}).to_list()
        assert folded["answers"] == [["a", "no_provider", 3]]
        assert await reloaded(mongo_client, db) == (NotFoundReason.NO_PROVIDER, 3)

    async def test_a_fold_splits_the_latest_reasons_over_documents_of_bounded_size(
        self, mongo_client: Any, database_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Three waiting demands folded with one entry per document: three documents, and
        a reload still gets every demand's latest reason."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        matcher = a_handler(mongo_client, db)
        names = ["a", "b", "c"]
        await matcher(
            [incoming(0, submitted(n, near=SAN_SIRO), DEMANDS, i) for i, n in enumerate(names)]
        )
        await matcher([incoming(1, published("offer-1"), OFFERS, 0)])  # too far: 3 entries
        monkeypatch.setattr(store, "FOLD_AT", 2)
        monkeypatch.setattr(store, "REASONS_PER_DOCUMENT", 1)
        await matcher([incoming(2, withdrawn("offer-1", version=2), OFFERS, 1)])

        docs = await db[store.REASONS].find({}).to_list()
        assert sorted(e for doc in docs for e in doc["answers"]) == [
            [n, "no_provider", 3] for n in names
        ]
        assert [len(doc["answers"]) for doc in docs] == [1, 1, 1]
        market = await a_handler(mongo_client, db).cache.get("after_school", 0)
        assert {n: market.demands[n].not_found_answers for n in names} == dict.fromkeys(names, 3)


async def waited_then_matched(client: Any, db: Any) -> MatchingHandler:
    """A matcher on `db` whose demand "a" waited, then got offer-1 when it came."""
    await store.ensure_indexes(db)
    await ensure_outbox_indexes(db)
    matcher = a_handler(client, db)
    await matcher([incoming(0, submitted("a"), DEMANDS, 0)])
    await matcher([incoming(1, published("offer-1"), OFFERS, 0)])
    return matcher


class TestProposalsWithoutRewrites:
    async def test_a_waiting_demand_matched_later_is_matched_after_a_reload(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """A demand that waited, then got a proposal when a near offer came, keeps its
        waiting document (one replace fewer per proposal); a reload finds it matched by
        that proposal, with its proposal count."""
        db = mongo_client[database_name]
        matcher = await waited_then_matched(mongo_client, db)
        live = matcher.cache.markets()[0].demands["a"]
        assert live.match_id is not None

        demand = await db[store.DEMANDS].find_one({"_id": "a"})
        assert demand is not None
        assert (demand["state"], demand["match_id"]) == ("waiting", None)
        market = await a_handler(mongo_client, db).cache.get("after_school", 0)
        record = market.demands["a"]
        assert (record.state, record.match_id, record.offer_id, record.proposals) == (
            live.state,
            live.match_id,
            "offer-1",
            1,
        )
        assert market.waiting_demands == 0

    async def test_a_second_proposal_after_a_reload_gets_a_new_id(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """Declined after a reload, the demand's next proposal counts on from the first:
        its id is not the first one's again."""
        db = mongo_client[database_name]
        first = await waited_then_matched(mongo_client, db)
        await first([incoming(2, published("offer-2", near=PIAZZA_GAE_AULENTI), OFFERS, 1)])
        match_id = first.cache.markets()[0].demands["a"].match_id
        assert match_id is not None

        again = a_handler(mongo_client, db)
        await again([incoming(3, requester_declines(match_id, "a"), DEMANDS, 1)])
        record = again.cache.markets()[0].demands["a"]
        assert record.proposals == 2
        assert record.match_id not in (None, match_id)


@asynccontextmanager
async def counting(
    mongodb: str, database_name: str
) -> AsyncIterator[tuple[MatchingHandler, Commands, Any]]:
    """A handler on a client whose commands are counted, and the client's database."""
    commands = Commands()
    client: Any = AsyncMongoClient(mongodb, tz_aware=True, event_listeners=[commands])
    try:
        db = client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        yield a_handler(client, db), commands, db
    finally:
        await client.close()


class TestRoundTrips:
    async def test_new_and_known_offers_in_one_transaction_take_two_commands(
        self, mongodb: str, database_name: str
    ) -> None:
        """Offers new to the database and offers already in it, interleaved in one batch,
        are written in one insert and one update command, not one command per run."""
        async with counting(mongodb, database_name) as (matcher, commands, db):
            known = [f"offer-{n}" for n in (1, 3, 5)]  # then 1 to 6: 2, 4 and 6 are new
            await matcher([incoming(n, published(o), OFFERS, n) for n, o in enumerate(known)])
            inserts, updates = (
                commands.count("insert", "offers"),
                commands.count("update", "offers"),
            )
            mixed = [published(f"offer-{n}", version=2, capacity=2) for n in range(1, 7)]
            await matcher([incoming(10 + n, e, OFFERS, 3 + n) for n, e in enumerate(mixed)])
            assert commands.count("insert", "offers") - inserts == 1
            assert commands.count("update", "offers") - updates == 1
            assert await db[store.OFFERS].count_documents({}) == 6

    async def test_the_fence_check_and_positions_are_one_update_per_partition(
        self, mongodb: str, database_name: str
    ) -> None:
        """A transaction over both topics of two partitions checks and moves them in two
        update statements (one per partition's fence document), not one per position."""
        async with counting(mongodb, database_name) as (matcher, commands, db):
            batch = [
                Incoming(f"{topic}-{p}", at(p), event, topic, p, 0)
                for p, service_type in enumerate(("after_school", "sport"))
                for topic, event in (
                    (OFFERS, published(f"offer-{p}", service_type=service_type)),
                    (DEMANDS, submitted(f"demand-{p}", service_type=service_type)),
                )
            ]
            assert await matcher(batch) == ["processed"] * 4
            assert commands.updated[store.MARKETS] == 2 + 2  # each market placed, each fence
            assert await store.events_handled(db) == 4


class TestOwnedMarkets:
    async def test_the_markets_of_assigned_partitions_are_found_even_without_proposals(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """A market whose demands only wait (no proposal) is found by the partition its
        events came from, so a new owner loads it and exports its gap."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        matcher = a_handler(mongo_client, db)
        waiting = Incoming("w", at(0), submitted("a"), DEMANDS, 3, 0)
        await matcher([waiting])

        assert await store.markets_on(db, {3}) == [("after_school", 3)]
        assert await store.markets_on(db, {0, 1}) == []
