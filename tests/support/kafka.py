"""Read what is really on a topic (from the beginning, no consumer group)."""

import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from concilia.platform.offsets import true_ends
from concilia.platform.settings import ConsumerOptions, ServiceSettings
from tests.support.waiting import eventually


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        assert self.value is not None
        parsed: dict[str, Any] = json.loads(self.value)
        return parsed


def consumer_options() -> ConsumerOptions:
    """The consumer options the services under test get (fetch wait, session: tests/conftest.py),
    for a test's own subscriber."""
    return ServiceSettings().consumer_options()


async def read_all(bootstrap: str, *topics: str, timeout_ms: int = 1000) -> list[Message]:
    """Every message currently on `topics`, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        if not partitions:
            await consumer._client.force_metadata_update()  # topics created after start
            partitions = [
                TopicPartition(t, p)
                for t in topics
                for p in (consumer.partitions_for_topic(t) or ())
            ]
        consumer.assign(partitions)
        ends = await true_ends(consumer, partitions)
        await consumer.seek_to_beginning(*partitions)
        messages: list[Message] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=timeout_ms)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    messages.append(
                        Message(
                            r.topic,
                            r.partition,
                            r.offset,
                            r.key.decode() if r.key else None,
                            r.value,
                            {k: v.decode() for k, v in r.headers},
                        )
                    )
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return messages
    finally:
        await consumer.stop()


async def events_of(bootstrap: str, topic: str, type_: str | None = None) -> list[dict[str, Any]]:
    """The CloudEvents on `topic` (optionally of one type), skipping tombstones."""
    return [
        m.event
        for m in await read_all(bootstrap, topic)
        if m.value is not None and (type_ is None or m.event.get("type") == type_)
    ]


async def wait_for_events(
    bootstrap: str, topic: str, type_: str | None, count: int, timeout: float = 30
) -> list[dict[str, Any]]:
    """Wait until at least `count` events (of `type_`) are on `topic`; return them all."""

    async def enough() -> list[dict[str, Any]] | None:
        found = await events_of(bootstrap, topic, type_)
        return found if len(found) >= count else None

    return await eventually(enough, timeout=timeout, what=f"{count} {type_} on {topic}")


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes | None,
    key: str,
    headers: list[tuple[str, bytes]] | None = None,
    partition: int | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key.encode(), headers=headers, partition=partition
        )
    finally:
        await producer.stop()
