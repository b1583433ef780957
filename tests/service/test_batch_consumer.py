"""The batch consumer against the real broker: poison records, retries, the fallback."""

import uuid
from collections.abc import Sequence

import pytest

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.platform.batch_consumer import subscribe_batch
from concilia.platform.consumer import PoisonMessage, Record
from concilia.platform.kafka import make_broker
from tests.support.kafka import produce, read_all
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
