"""`concilia dlq list|replay TOPIC` on the real broker: dead letters shown, then re-published
to their source topic once."""

import asyncio
import contextlib
import io
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from concilia.cli import main
from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.platform.consumer import Record, subscribe
from concilia.platform.faults import Backoff
from concilia.platform.kafka import make_broker
from concilia.platform.lag import KafkaGauges
from concilia.platform.metrics import DLQ_MESSAGES
from tests.support.kafka import consumer_options, produce, read_all
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

TOPIC = topics.MATCHES


def run_cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


async def dead_letters_held(kafka: str) -> float:
    """`concilia_dlq_messages` of the topic's DLQ, as a service measures it."""
    gauges = KafkaGauges(kafka, {"any-group": [TOPIC]})
    admin, readers = await gauges._connect()
    try:
        await gauges.measure(admin, readers)
    finally:
        for reader in readers.values():
            await reader.stop()
        await admin.close()
    value: float = DLQ_MESSAGES.labels(topics.dlq(TOPIC))._value.get()
    return value


class TestDeadLetterCommands:
    async def test_dead_letters_are_listed_and_replayed_to_their_topic_once(
        self, kafka: str
    ) -> None:
        """A dead-lettered event is listed with its reason and origin, `replay` puts it back
        on its source topic with its key and CloudEvent id, and a second replay sends
        nothing."""
        event = CloudEvent.new(type="match.proposed", source="tests", subject="m1", data={})

        async def handle(parsed: CloudEvent | None, record: Record) -> str:
            raise RuntimeError("a bug in this release")

        broker = make_broker(kafka, "tests")
        subscribe(
            broker,
            TOPIC,
            group_id=f"dlq-{uuid.uuid4().hex[:6]}",
            service="tests",
            handle=handle,
            max_attempts=2,
            backoff=Backoff(0.01, 0.05),
            **consumer_options(),
        )
        await produce(kafka, TOPIC, event.to_bytes(), key="childcare")
        await broker.start()
        try:
            await eventually(lambda: read_all(kafka, topics.dlq(TOPIC)), what="a dead letter")
        finally:
            await broker.stop()

        listing = await asyncio.to_thread(run_cli, "dlq", "list", TOPIC, "--bootstrap", kafka)
        assert "handler_failed" in listing
        assert f"from {TOPIC}[" in listing
        assert "# 1 dead letter(s)" in listing

        assert await dead_letters_held(kafka) >= 1
        replayed = await asyncio.to_thread(run_cli, "dlq", "replay", TOPIC, "--bootstrap", kafka)
        assert "# 1 dead letter(s) replayed" in replayed
        assert await dead_letters_held(kafka) == 0  # the alert on it stops, too
        again = await asyncio.to_thread(run_cli, "dlq", "replay", TOPIC, "--bootstrap", kafka)
        assert "# 0 dead letter(s) replayed" in again

        on_topic = [m for m in await read_all(kafka, TOPIC) if m.event["id"] == event.id]
        assert len(on_topic) == 2  # the original and exactly one replay
        assert {m.key for m in on_topic} == {"childcare"}
        assert on_topic[1].headers.get("content-type") == "application/cloudevents+json"

    async def test_a_fetch_that_comes_back_empty_does_not_mark_letters_replayed(
        self, kafka: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A slow broker answers one fetch with nothing: the replay reads on until it has
        every letter, and replays them, instead of marking the unread ones as replayed
        (which would lose them for good)."""
        event = CloudEvent.new(type="offer.published", source="tests", subject="o1", data={})
        headers = [(topics.DLQ_SOURCE_TOPIC_HEADER, topics.OFFERS.encode())]
        await produce(kafka, topics.dlq(topics.OFFERS), event.to_bytes(), "sport", headers)
        real = AIOKafkaConsumer.getmany
        empty_once = {"left": 1}

        async def slow(self: AIOKafkaConsumer, *partitions: Any, **options: Any) -> Any:
            if partitions and empty_once["left"]:  # the reading of the letters
                empty_once["left"] -= 1
                return {}
            return await real(self, *partitions, **options)

        monkeypatch.setattr(AIOKafkaConsumer, "getmany", slow)
        await asyncio.to_thread(run_cli, "dlq", "replay", topics.OFFERS, "--bootstrap", kafka)
        assert not empty_once["left"]  # the empty fetch did happen
        on_topic = [m for m in await read_all(kafka, topics.OFFERS) if m.event["id"] == event.id]
        assert len(on_topic) == 1
