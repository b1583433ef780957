"""End offsets on the real broker after concurrent produce: Tansu's ListOffsets answer can
stay behind the records it holds (a stale end hid unconsumed demands from the lag gauge and
the fault soak's settle); the end we use, and the lag measured from it, count every record."""

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from concilia.contract import topics
from concilia.platform.lag import KafkaGauges
from concilia.platform.metrics import CONSUMER_LAG
from concilia.platform.offsets import true_ends
from tests.support.kafka import read_all

pytestmark = pytest.mark.service

PRODUCERS, EACH = 6, 1000
TOPIC = topics.DEMANDS


async def produce_concurrently(bootstrap: str) -> int:
    """PRODUCERS producers sending EACH records at once to one partition; how many."""

    async def one(number: int) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5
        )
        await producer.start()
        try:
            sent = [
                await producer.send(TOPIC, f"{number}-{n}".encode(), partition=0)
                for n in range(EACH)
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    await asyncio.gather(*(one(n) for n in range(PRODUCERS)))
    return PRODUCERS * EACH


class TestEndOffsets:
    async def test_every_record_is_counted_after_concurrent_produce(self, kafka: str) -> None:
        """The end offset, the lag of a group that read nothing and the topic reader all
        count every record the broker acknowledged."""
        produced = await produce_concurrently(kafka)
        partition = TopicPartition(TOPIC, 0)
        probe = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
        await probe.start()
        try:
            assert (await true_ends(probe, [partition]))[partition] == produced
        finally:
            await probe.stop()

        gauges = KafkaGauges(kafka, {"nobody-yet": [TOPIC]})
        clients = await gauges._connect()
        try:
            await gauges.measure(*clients)
        finally:
            for reader in clients[1].values():
                await reader.stop()
            await clients[0].close()
        assert CONSUMER_LAG.labels("nobody-yet", TOPIC, "0")._value.get() == produced
        assert len(await read_all(kafka, TOPIC)) == produced
