"""The batch consumer against the real broker: poison records, retries, the fallback, and
the records a draining handler takes with `more()`."""

import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.platform.batch_consumer import BatchHandler, More, subscribe_batch
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.kafka import make_broker
from tests.support.kafka import consumer_options, produce, read_all
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

TOPIC = topics.NOTIFICATIONS  # any topic of the contract; this module has its own broker


def an_event(kind: str) -> bytes:
    return CloudEvent.new(type=kind, source="tests", subject=str(uuid.uuid4()), data={}).to_bytes()


def prepare(event: CloudEvent | None, record: Record) -> str:
    if event is None or event.type == "poison":
        raise PoisonMessage("unknown_type", "poison")
    return event.type


class TestBatches:
    async def test_a_poison_record_is_dead_lettered_and_a_failing_one_is_isolated(
        self, kafka: str
    ) -> None:
        """A poison record goes to the DLQ at once; a record whose batch keeps failing is
        retried, then the batch is replayed one by one and only that record is
        dead-lettered; every other record is handled, and a transient failure is retried."""
        handled: list[str] = []
        transient = {"left": 1}

        async def handle(batch: Sequence[str]) -> list[str]:
            if "always-fails" in batch:
                raise RuntimeError("this record cannot be handled")
            if "fails-once" in batch and transient["left"]:
                transient["left"] -= 1
                raise ConnectionError("database blip")
            handled.extend(batch)
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
            **consumer_options(),
        )
        kinds = ["a", "poison", "fails-once", "b", "always-fails", "c"]
        for kind in kinds:
            await produce(kafka, TOPIC, an_event(kind), key="same-partition")
        await broker.start()
        try:
            await eventually(
                lambda: {"a", "b", "c", "fails-once"} <= set(handled),
                timeout=60,
                what="the good records handled",
            )
            dead = await eventually(
                lambda: _dead_letters(kafka), timeout=60, what="two dead letters"
            )
        finally:
            await broker.stop()

        assert "always-fails" not in handled
        assert set(dead) == {"handler_failed", "unknown_type"}
        assert dead.count("handler_failed") == 1  # the poison one may repeat with its batch


async def _dead_letters(kafka: str) -> list[str] | None:
    reasons = [
        m.headers.get(topics.DLQ_REASON_HEADER, "")
        for m in await read_all(kafka, topics.dlq(TOPIC))
    ]
    return reasons if len(set(reasons)) >= 2 else None


async def two_partitions(kafka: str) -> str:
    """A new topic of two partitions holding one record in each: "p0" and "p1"."""
    topic = f"drain-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    for partition in (0, 1):
        await produce(kafka, topic, an_event(f"p{partition}"), key="k", partition=partition)
    return topic


async def committed(kafka: str, topic: str, group_id: str) -> list[int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group_id)
    await consumer.start()
    try:
        return [await consumer.committed(TopicPartition(topic, p)) for p in (0, 1)]
    finally:
        await consumer.stop()


def draining(kafka: str, topic: str, group_id: str, handle: BatchHandler[str]) -> KafkaBroker:
    """A broker whose draining consumer of `topic` hands `handle` one record per batch."""
    broker = make_broker(kafka, "tests")
    subscribe_batch(
        broker,
        topic,
        group_id=group_id,
        service="tests",
        prepare=prepare,
        handle_batch=handle,
        max_records=1,  # the first batch holds one record: the other comes with more()
        drain=True,
        **consumer_options(),
    )
    return broker


class TestDraining:
    async def test_records_taken_with_more_are_acknowledged_with_the_call(self, kafka: str) -> None:
        """The handler takes the other partition's record with more() and succeeds: both
        partitions' offsets are committed past their record, so neither comes again."""
        topic, group_id = await two_partitions(kafka), f"drain-{uuid.uuid4().hex[:6]}"
        calls: list[list[str]] = []

        async def handle(batch: Sequence[str], more: More[str]) -> list[str]:
            items = list(batch)

            async def took_both() -> bool:
                items.extend(await more())
                return len(items) == 2

            await eventually(took_both, what="the other record, taken with more()")
            calls.append(items)
            return ["processed"] * len(items)

        broker = draining(kafka, topic, group_id, handle)
        await broker.start()
        try:
            await eventually(lambda: calls, what="the first call")
            await eventually(
                lambda: _all_committed(kafka, topic, group_id), what="both offsets committed"
            )
        finally:
            await broker.stop()
        assert sorted(calls[0]) == ["p0", "p1"]

    async def test_records_taken_with_more_are_redelivered_when_the_call_fails(
        self, kafka: str
    ) -> None:
        """The handler takes the other partition's record with more(), then fails (an
        outage): both records come again and are handled. Without the seek back, the
        record taken with more() would be skipped, its partition's position past it."""
        topic, group_id = await two_partitions(kafka), f"drain-{uuid.uuid4().hex[:6]}"
        failed: list[list[str]] = []
        handled: list[str] = []

        async def handle(batch: Sequence[str], more: More[str]) -> list[str]:
            items = list(batch)
            if not failed:

                async def took_both() -> bool:
                    items.extend(await more())
                    return len(items) == 2

                await eventually(took_both, what="the other record, taken with more()")
                failed.append(items)
                raise ConnectionError("database unreachable")
            handled.extend(items)
            return ["processed"] * len(items)

        broker = draining(kafka, topic, group_id, handle)
        await broker.start()
        try:
            await eventually(
                lambda: sorted(handled) == ["p0", "p1"], timeout=60, what="both handled"
            )
            await eventually(
                lambda: _all_committed(kafka, topic, group_id), what="both offsets committed"
            )
        finally:
            await broker.stop()
        assert sorted(failed[0]) == ["p0", "p1"]
        assert sorted(handled) == ["p0", "p1"]  # each once


async def _all_committed(kafka: str, topic: str, group_id: str) -> bool:
    return await committed(kafka, topic, group_id) == [1, 1]
