"""The outbox relay with several instances, commit order and a row Kafka refuses, on the
real broker and database."""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from concilia.contract.envelope import CloudEvent
from concilia.platform.messages import OutgoingMessage
from concilia.platform.outbox import (
    OUTBOX,
    OutboxRelay,
    add_batch_to_outbox,
    ensure_outbox_indexes,
)
from tests.support.kafka import read_all
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

TOPIC = "welfare.offers.v1"


def a_row(
    subject: str, version: int | None, n: int, *, oid: ObjectId | None = None
) -> dict[str, Any]:
    event = CloudEvent.new(
        type="offer.updated", source="tests", subject=subject, data={"n": n}, id=f"{subject}-{n}"
    )
    return {
        "_id": oid or ObjectId(),
        "topic": TOPIC,
        "key": "childcare",
        "type": event.type,
        "value": event.to_bytes(),
        "aggregate": subject,
        "version": version,
        "attempts": 0,
        "created_at": datetime.now(UTC),
        "published_at": None,
    }


@pytest.fixture
async def db(mongo_client: AsyncMongoClient[dict[str, Any]], database_name: str) -> Any:
    database = mongo_client[database_name]
    await ensure_outbox_indexes(database)
    return database


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    for relay in relays:
        await relay.start()
    try:
        yield
    finally:
        for relay in relays:
            await relay.stop()


async def published(kafka: str, prefix: str) -> list[str]:
    ids = [m.event["id"] for m in await read_all(kafka, TOPIC) if m.value]
    return [i for i in ids if i.startswith(prefix)]


async def all_marked(db: Any) -> bool:
    return await db[OUTBOX].count_documents({"published_at": None, "parked_at": None}) == 0


class TestSeveralRelays:
    async def test_three_relays_on_one_outbox_publish_every_row_once(
        self, kafka: str, db: Any
    ) -> None:
        """Three relay instances over one outbox publish each of 300 rows exactly once."""
        await db[OUTBOX].insert_many([a_row(f"many-{n % 7}", None, n) for n in range(300)])
        relays = [OutboxRelay(db, kafka, "offers", poll_seconds=0.05) for _ in range(3)]
        async with running(*relays):
            await eventually(lambda: all_marked(db), timeout=60, what="every row published")
        ids = await published(kafka, "many-")
        assert len(ids) == 300
        assert len(set(ids)) == 300

    async def test_a_relay_takes_over_when_the_lease_holder_stops(
        self, kafka: str, db: Any
    ) -> None:
        """When the relay holding the lease stops renewing it, another publishes the rest."""
        first = OutboxRelay(db, kafka, "offers", poll_seconds=0.05, lease_seconds=1)
        second = OutboxRelay(db, kafka, "offers", poll_seconds=0.05, lease_seconds=1)
        assert await first.holds_lease()
        assert not await second.holds_lease()
        await db[OUTBOX].insert_one(a_row("takeover", None, 1))
        async with running(second):
            await eventually(lambda: all_marked(db), timeout=30, what="the row published")
        assert await published(kafka, "takeover-") == ["takeover-1"]


class TestOrder:
    async def test_an_aggregates_events_are_published_in_version_order_not_id_order(
        self, kafka: str, db: Any
    ) -> None:
        """Rows written by two processes whose ids sort against their commit order are
        published in the record's version order."""
        later_id, earlier_id = ObjectId(), ObjectId()  # version 3 gets the smaller id
        await db[OUTBOX].insert_many(
            [
                a_row("ordered", 3, 3, oid=later_id),
                a_row("ordered", 2, 2, oid=earlier_id),
            ]
        )
        async with running(OutboxRelay(db, kafka, "offers", poll_seconds=0.05)):
            await eventually(lambda: all_marked(db), timeout=30, what="both rows published")
        assert await published(kafka, "ordered-") == ["ordered-2", "ordered-3"]


class TestAPoisonRow:
    async def test_a_row_kafka_refuses_is_parked_and_counted_and_the_rest_flows(
        self, kafka: str, db: Any
    ) -> None:
        """A row too large for Kafka is tried `max_attempts` times, then parked with a
        metric; the rows behind it are published meanwhile."""
        huge = a_row("huge", None, 0)
        huge["value"] = b"x" * (2 * 1024 * 1024)
        await db[OUTBOX].insert_many([huge, a_row("behind", None, 1), a_row("behind", None, 2)])
        before = _parked()
        relay = OutboxRelay(db, kafka, "offers", poll_seconds=0.05, max_attempts=3)
        async with running(relay):
            await eventually(lambda: all_marked(db), timeout=30, what="the huge row parked")
        parked = await db[OUTBOX].find_one({"_id": huge["_id"]})
        assert parked is not None
        assert parked["attempts"] == 3
        assert parked["published_at"] is None
        assert _parked() == before + 1
        assert await published(kafka, "behind-") == ["behind-1", "behind-2"]
        assert await relay.pending() == 0


class TestABatchRow:
    async def test_a_batch_row_is_published_in_order_and_a_refused_message_sends_no_other_twice(
        self, kafka: str, mongo_client: AsyncMongoClient[dict[str, Any]], db: Any
    ) -> None:
        """One row holding a transaction's messages: the good ones are published once, in
        order, while the one Kafka refuses is retried alone until the row is parked."""
        good = [a_row("batch", None, n) for n in (1, 2)]
        huge = a_row("batch", None, 3)
        huge["value"] = b"x" * (2 * 1024 * 1024)
        messages = [
            OutgoingMessage(topic=TOPIC, key="childcare", event=CloudEvent.from_bytes(r["value"]))
            for r in good
        ]
        async with mongo_client.start_session() as session:
            await session.with_transaction(lambda s: add_batch_to_outbox(db, s, messages))
        row = await db[OUTBOX].find_one({"type": "batch"})
        assert row is not None
        row["messages"].insert(
            1, {"topic": TOPIC, "key": "childcare", "type": "x", "value": huge["value"]}
        )
        await db[OUTBOX].replace_one({"_id": row["_id"]}, row)
        relay = OutboxRelay(db, kafka, "offers", poll_seconds=0.05, max_attempts=3)
        async with running(relay):
            await eventually(lambda: all_marked(db), timeout=30, what="the batch row parked")
        parked = await db[OUTBOX].find_one({"_id": row["_id"]})
        assert parked is not None
        assert (parked["attempts"], parked["taken"]) == (3, [0, 2])
        assert await published(kafka, "batch-") == ["batch-1", "batch-2"]


class TestReadiness:
    async def test_a_relay_that_is_not_running_makes_readiness_fail(
        self, kafka: str, db: Any
    ) -> None:
        """/readyz uses the relay's check: it fails until the relay runs."""
        relay = OutboxRelay(db, kafka, "offers", poll_seconds=0.05)
        with pytest.raises(RuntimeError, match="not running"):
            await relay.check()
        async with running(relay):
            await relay.check()


def _parked() -> float:
    return REGISTRY.get_sample_value("concilia_outbox_parked_total", {"service": "offers"}) or 0.0
