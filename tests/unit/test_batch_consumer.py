"""The batch consumer's decisions on one batch, with fakes for Kafka: what is handled in one
call, what is dead-lettered, what is sought back. Delivery itself is tested on the real
broker in tests/service/test_batch_consumer.py."""

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from concilia.contract.envelope import CloudEvent
from concilia.platform.batch_consumer import BatchConsumer, More
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.faults import Backoff, Retries

TOPIC = "welfare.tests.v1"


def a_record(kind: str, offset: int, partition: int = 0) -> Record:
    event = CloudEvent.new(type=kind, source="tests", subject=str(uuid.uuid4()), data={})
    value = event.to_bytes()
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, None, value, None, 0, len(value), ())


def prepare(event: CloudEvent | None, record: Record) -> str:
    if event is None or event.type == "poison":
        raise PoisonMessage("unknown_type", "poison")
    return event.type


class FakeConsumer:
    """Hands out `waiting` on the first getmany, and notes where it was sought."""

    def __init__(self, waiting: Sequence[Record] = ()) -> None:
        self.waiting = list(waiting)
        self.sought: dict[TopicPartition, int] = {}

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        taken, self.waiting = self.waiting, []
        return {TopicPartition(TOPIC, 0): taken} if taken else {}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought[partition] = offset


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def __call__(self, record: Record, reason: str, error: str) -> None:
        self.sent.append((record.offset, reason))


def consumer_of(handle: Any, letters: Letters, *, drain: bool = False) -> BatchConsumer[str]:
    return BatchConsumer(
        letters,
        "tests",
        prepare,
        handle,
        max_records=100,
        retries=Retries(3, Backoff(base_seconds=0)),
        drain=drain,
    )


class TestOneBatch:
    async def test_a_poison_record_is_dead_lettered_and_the_rest_handled_in_one_call(
        self,
    ) -> None:
        """The poison record goes to the DLQ; the two others reach the handler together."""
        calls: list[list[str]] = []

        async def handle(items: Sequence[str]) -> list[str]:
            calls.append(list(items))
            return ["processed"] * len(items)

        letters = Letters()
        records = [a_record("a", 0), a_record("poison", 1), a_record("b", 2)]
        await consumer_of(handle, letters).consume(records, FakeConsumer())
        assert calls == [["a", "b"]]
        assert letters.sent == [(1, "unknown_type")]

    async def test_a_batch_failing_every_attempt_is_replayed_one_by_one(self) -> None:
        """Once the attempts are spent, each record is handled alone and only the one that
        fails on its own is dead-lettered."""
        handled: list[str] = []

        async def handle(items: Sequence[str]) -> list[str]:
            if "bad" in items:
                raise RuntimeError("cannot handle this one")
            handled.extend(items)
            return ["processed"] * len(items)

        letters = Letters()
        records = [a_record("a", 0), a_record("bad", 1), a_record("b", 2)]
        batches = consumer_of(handle, letters)
        with pytest.raises(RuntimeError):  # attempts 1 and 2: the batch is redelivered
            await batches.consume(records, FakeConsumer())
        with pytest.raises(RuntimeError):
            await batches.consume(records, FakeConsumer())
        await batches.consume(records, FakeConsumer())  # attempt 3: one by one
        assert handled == ["a", "b"]
        assert letters.sent == [(1, "handler_failed")]


class TestDraining:
    async def test_what_more_took_is_sought_back_when_the_call_fails(self) -> None:
        """The records fetched with `more()` are rewound with the batch for redelivery."""

        async def handle(items: Sequence[str], more: More[str] | None = None) -> list[str]:
            assert more is not None
            assert await more() == ["c"]
            raise ConnectionError("database down")  # an outage: waited out, redelivered

        consumer = FakeConsumer([a_record("c", 7)])
        with pytest.raises(ConnectionError):
            await consumer_of(handle, Letters(), drain=True).consume([a_record("a", 6)], consumer)
        assert consumer.sought == {TopicPartition(TOPIC, 0): 7}

    async def test_what_more_took_is_acknowledged_with_the_call(self) -> None:
        """The handler's outcomes cover the batch and what `more()` added, nothing sought."""

        async def handle(items: Sequence[str], more: More[str] | None = None) -> list[str]:
            assert more is not None
            extra = await more()
            return ["processed"] * (len(items) + len(extra))

        consumer = FakeConsumer([a_record("c", 7), a_record("d", 8)])
        await consumer_of(handle, Letters(), drain=True).consume([a_record("a", 6)], consumer)
        assert consumer.sought == {}
        assert consumer.waiting == []
