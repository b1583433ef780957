"""The outbox relay with several instances, commit order and a row Kafka refuses, on the
real broker and database."""

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, UnknownError
from bson import ObjectId
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient

from concilia.contract.envelope import CloudEvent
from concilia.platform.messages import OutgoingMessage
from concilia.platform.outbox import (
    OUTBOX,
    OutboxRelay,
    add_batch_to_outbox,
    batch_row,
    ensure_outbox_indexes,
)
from tests.support.commands import Commands
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


def batch_of(subject: str, *numbers: int) -> dict[str, Any]:
    """A transaction's batch row holding the events `subject-n`, as a consumer stages it."""
    return batch_row(
        [
            OutgoingMessage(
                topic=TOPIC,
                key="childcare",
                event=CloudEvent.new(
                    type="offer.updated",
                    source="tests",
                    subject=subject,
                    data={"n": n},
                    id=f"{subject}-{n}",
                ),
            )
            for n in numbers
        ]
    )


async def marked(db: Any, row: dict[str, Any]) -> bool:
    doc = await db[OUTBOX].find_one({"_id": row["_id"]}, {"published_at": 1})
    return doc is not None and doc["published_at"] is not None


class TestRowsHandedOver:
    async def test_a_row_handed_over_after_its_commit_is_published_without_reading_the_outbox(
        self, kafka: str, mongodb: str, database_name: str, db: Any
    ) -> None:
        """The lease holder publishes and marks a row its process committed and handed
        over, from memory: no read of the outbox."""
        commands = Commands()  # the relay's own, on a client of its own
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            mongodb, tz_aware=True, event_listeners=[commands]
        )
        relay = OutboxRelay(client[database_name], kafka, "matcher", poll_seconds=30)
        try:
            async with running(relay):
                warm_up = batch_of("handed", 0)
                await db[OUTBOX].insert_one(warm_up)
                relay.committed(warm_up)
                await eventually(lambda: marked(db, warm_up), what="the first row published")
                before = commands.count("find", OUTBOX)
                row = batch_of("handed", 1, 2)
                await db[OUTBOX].insert_one(row)
                relay.committed(row)
                await eventually(lambda: marked(db, row), what="the row published")
                assert commands.count("find", OUTBOX) == before
        finally:
            await client.close()
        assert await published(kafka, "handed-") == ["handed-0", "handed-1", "handed-2"]

    async def test_rows_committed_by_another_instance_are_read_while_rows_are_handed_over(
        self, kafka: str, db: Any
    ) -> None:
        """A row another instance committed (never handed over) is published too, while
        this process keeps handing over rows: the outbox is read every poll interval."""
        relay = OutboxRelay(db, kafka, "matcher", poll_seconds=0.2)
        foreign = batch_of("elsewhere", 1)
        handed: list[dict[str, Any]] = []
        async with running(relay):
            warm_up = batch_of("busy", 0)  # the relay has read the outbox: all is handed now
            await db[OUTBOX].insert_one(warm_up)
            relay.committed(warm_up)
            await eventually(lambda: marked(db, warm_up), what="the first row published")
            handed.append(warm_up)
            await db[OUTBOX].insert_one(foreign)
            deadline = time.monotonic() + 30
            while not await marked(db, foreign):
                assert time.monotonic() < deadline, "the other instance's row was never read"
                row = batch_of("busy", len(handed))
                await db[OUTBOX].insert_one(row)
                relay.committed(row)
                handed.append(row)
                await eventually(lambda: marked(db, row), what="the handed row published")  # noqa: B023
        assert await published(kafka, "elsewhere-") == ["elsewhere-1"]
        assert await published(kafka, "busy-") == [f"busy-{n}" for n in range(len(handed))]

    async def test_a_row_read_before_it_was_handed_over_is_published_once(
        self, kafka: str, db: Any
    ) -> None:
        """A commit the relay read from the outbox before the committer handed it over is
        not published again from memory."""
        relay = OutboxRelay(db, kafka, "matcher", poll_seconds=30)
        early, later = batch_of("early", 1), batch_of("early", 2)
        await db[OUTBOX].insert_one(early)
        async with running(relay):
            await eventually(lambda: marked(db, early), what="the row read and published")
            relay.committed(early)
            await db[OUTBOX].insert_one(later)
            relay.committed(later)
            await eventually(lambda: marked(db, later), what="the next row published")
        assert await published(kafka, "early-") == ["early-1", "early-2"]

    async def test_a_relay_without_the_lease_leaves_a_handed_row_to_the_holder(
        self, kafka: str, db: Any
    ) -> None:
        """Two instances: a row handed to the one that does not hold the lease is published
        once, by the holder, from the outbox."""
        holder = OutboxRelay(db, kafka, "matcher", poll_seconds=0.05)
        other = OutboxRelay(db, kafka, "matcher", poll_seconds=0.05)
        assert await holder.holds_lease()
        row = batch_of("other", 1)
        async with running(holder, other):
            await db[OUTBOX].insert_one(row)
            other.committed(row)
            await eventually(lambda: marked(db, row), what="the row published")
        assert await published(kafka, "other-") == ["other-1"]


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


class TestABrokerError:
    async def test_an_error_that_is_not_a_refusal_is_waited_out_and_never_parks(
        self, kafka: str, db: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The broker answers UNKNOWN_SERVER_ERROR five times (aiokafka does not call it
        retriable, but it says nothing about the row): with three attempts allowed the row
        is still published once the broker is well again, not parked and lost."""
        await db[OUTBOX].insert_one(a_row("blip", None, 0))
        real, failures = AIOKafkaProducer.send, {"left": 5}

        async def unwell(self: AIOKafkaProducer, topic: str, *args: Any, **kwargs: Any) -> Any:
            if failures["left"]:
                failures["left"] -= 1
                raise UnknownError("the broker's storage hiccuped")
            return await real(self, topic, *args, **kwargs)

        monkeypatch.setattr(AIOKafkaProducer, "send", unwell)
        relay = OutboxRelay(db, kafka, "offers", poll_seconds=0.05, max_attempts=3)
        async with running(relay):
            await eventually(lambda: all_marked(db), timeout=60, what="the row published")
        row = await db[OUTBOX].find_one({})
        assert row is not None
        assert (row["published_at"] is not None, row.get("parked_at")) == (True, None)
        assert await published(kafka, "blip-") == ["blip-0"]

    async def test_commits_during_an_outage_do_not_shorten_the_relay_s_backoff(
        self, kafka: str, db: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The broker is unreachable while the service keeps committing (each commit wakes
        the relay): the relay still waits its backoff between tries, instead of setting up
        a connection every few milliseconds."""
        await db[OUTBOX].insert_one(a_row("outage", None, 0))
        tries = {"count": 0}

        async def unreachable(self: AIOKafkaProducer, *args: Any, **kwargs: Any) -> Any:
            tries["count"] += 1
            raise KafkaConnectionError("broker unreachable")

        monkeypatch.setattr(AIOKafkaProducer, "send", unreachable)
        relay = OutboxRelay(db, kafka, "offers", poll_seconds=0.05)
        started = time.monotonic()

        async def commits_for_two_seconds() -> bool:
            relay.notify()  # a commit
            return time.monotonic() - started > 2

        async with running(relay):
            await eventually(commits_for_two_seconds, interval=0.01, what="two busy seconds")
        # Backoff 0.1, 0.2, 0.4, 0.8 s...: about five tries in two seconds, not hundreds.
        assert 2 <= tries["count"] <= 8
