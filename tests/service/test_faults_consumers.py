"""Consumers wait out a paused database instead of dead-lettering (README: reliability), on the real
broker and a SecantusDB of their own that the test stops (SIGSTOP) and resumes."""

import signal
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.embedded.processes import ChildProcess, free_port
from concilia.embedded.servers import start_mongodb
from concilia.platform.batch_consumer import subscribe_batch
from concilia.platform.consumer import Record, subscribe
from concilia.platform.faults import Backoff
from concilia.platform.kafka import make_broker
from tests.support.kafka import consumer_options, produce, read_all
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

TOPIC = topics.NOTIFICATIONS  # any contract topic: this module has its own broker
QUICK = Backoff(base_seconds=0.05, cap_seconds=0.5)


@pytest.fixture
def pausable_db(stack_home: Path) -> AsyncIterator[tuple[ChildProcess, str]]:
    """A database of this test's own, so pausing it disturbs no other test."""
    port = free_port()
    name = f"pausable-{port}"
    child = start_mongodb(port, stack_home / name, stack_home / "logs" / name)
    yield child, f"mongodb://127.0.0.1:{port}/?directConnection=true"
    child.kill(signal.SIGCONT)
    child.stop()


def impatient_client(url: str) -> AsyncMongoClient[dict[str, object]]:
    """Fails fast while the server is paused, as a loaded production client would."""
    return AsyncMongoClient(
        url, serverSelectionTimeoutMS=300, socketTimeoutMS=300, connectTimeoutMS=300
    )


def an_event(n: int) -> bytes:
    return CloudEvent.new(type="t", source="tests", subject=str(n), data={"n": n}).to_bytes()


async def dead_letters(kafka: str) -> int:
    return len(await read_all(kafka, topics.dlq(TOPIC)))


class TestAPausedDatabase:
    async def test_a_single_consumer_waits_out_a_paused_database_and_loses_nothing(
        self, kafka: str, pausable_db: tuple[ChildProcess, str]
    ) -> None:
        """Every message reaches the database once it answers again, none is dead-lettered,
        however many outage retries it took (far more than the poison budget)."""
        db_process, url = pausable_db
        client = impatient_client(url)
        collection = client["faults"][f"single_{uuid.uuid4().hex[:6]}"]
        outages = {"seen": 0}

        async def handle(event: CloudEvent | None, record: Record) -> str:
            assert event is not None
            try:
                await collection.update_one(
                    {"_id": event.subject}, {"$set": {"n": event.data["n"]}}, upsert=True
                )
            except Exception:
                outages["seen"] += 1
                raise
            return "processed"

        broker = make_broker(kafka, "tests")
        subscribe(
            broker,
            TOPIC,
            group_id=f"single-{uuid.uuid4().hex[:6]}",
            service="tests",
            handle=handle,
            max_attempts=2,
            backoff=QUICK,
            **consumer_options(),
        )
        await broker.start()
        try:
            await produce(kafka, TOPIC, an_event(0), key="k")
            await eventually(lambda: collection.count_documents({}), what="the first write")
            db_process.kill(signal.SIGSTOP)
            for n in range(1, 11):
                await produce(kafka, TOPIC, an_event(n), key="k")
            await eventually(lambda: outages["seen"] >= 6, what="outage retries", timeout=60)
            db_process.kill(signal.SIGCONT)
            await eventually(
                lambda: _stored(collection, range(11)), what="all 11 messages stored", timeout=60
            )
        finally:
            db_process.kill(signal.SIGCONT)
            await broker.stop()
            await client.close()
        assert await dead_letters(kafka) == 0

    async def test_a_batch_consumer_waits_out_a_paused_database_and_loses_nothing(
        self, kafka: str, pausable_db: tuple[ChildProcess, str]
    ) -> None:
        """The batch consumer shares the policy: a paused database is waited out, no record
        is dead-lettered and the batch goes through once the database answers."""
        db_process, url = pausable_db
        client = impatient_client(url)
        collection = client["faults"][f"batch_{uuid.uuid4().hex[:6]}"]
        outages = {"seen": 0}

        def prepare(event: CloudEvent | None, record: Record) -> str:
            assert event is not None
            return event.subject

        async def handle(batch: Sequence[str]) -> list[str]:
            try:
                for subject in batch:
                    await collection.update_one({"_id": subject}, {"$set": {}}, upsert=True)
            except Exception:
                outages["seen"] += 1
                raise
            return ["processed"] * len(batch)

        broker = make_broker(kafka, "tests")
        subscribe_batch(
            broker,
            TOPIC,
            group_id=f"batch-{uuid.uuid4().hex[:6]}",
            service="tests",
            prepare=prepare,
            handle_batch=handle,
            max_attempts=2,
            backoff=QUICK,
            **consumer_options(),
        )
        await broker.start()
        try:
            await produce(kafka, TOPIC, an_event(99), key="k")
            await eventually(lambda: collection.count_documents({}), what="the first write")
            db_process.kill(signal.SIGSTOP)
            for n in range(100, 110):
                await produce(kafka, TOPIC, an_event(n), key="k")
            await eventually(lambda: outages["seen"] >= 6, what="outage retries", timeout=60)
            db_process.kill(signal.SIGCONT)
            await eventually(
                lambda: _stored(collection, range(99, 110)),
                what="all 11 records stored",
                timeout=60,
            )
        finally:
            db_process.kill(signal.SIGCONT)
            await broker.stop()
            await client.close()
        assert await dead_letters(kafka) == 0


async def _stored(collection: Any, subjects: range) -> bool:
    """Every subject in `subjects` has its document (the topic may hold other tests' too)."""
    wanted = [str(n) for n in subjects]
    return await collection.count_documents({"_id": {"$in": wanted}}) == len(wanted)  # type: ignore[no-any-return]
