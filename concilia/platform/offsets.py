"""End offsets that can be trusted on Tansu as on Apache Kafka.

Tansu 0.6 answers ListOffsets (what aiokafka's `end_offsets` asks) with a stale end after
concurrent produce: 11,250 for a partition holding 12,000 records, measured, and it stays
stale until the next produce. Its fetch responses carry the true high watermark. So the end
is the larger of the two: ListOffsets, then one fetch from there (on Apache Kafka they agree
and the fetch returns nothing). Everything that reads "up to the end" uses this: the lag
gauges, `concilia dlq`, the tests' topic reader and the bench."""

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition


async def true_ends(
    probe: AIOKafkaConsumer, partitions: list[TopicPartition], wait_seconds: float = 2.0
) -> dict[TopicPartition, int]:
    """The end offset of each partition: ListOffsets' answer, or the high watermark of a
    fetch from there when that is larger. `probe` is assigned `partitions` and its
    positions moved (seek again before reading)."""
    reported: dict[TopicPartition, int] = await probe.end_offsets(partitions)
    probe.assign(partitions)
    asked_at = {tp: probe.last_poll_timestamp(tp) for tp in partitions}
    for tp in partitions:
        probe.seek(tp, reported[tp])
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while asyncio.get_running_loop().time() < deadline and any(
        probe.last_poll_timestamp(tp) == asked_at[tp] for tp in partitions
    ):
        await probe.getmany(timeout_ms=50, max_records=1)  # a fetch answers with the end
    return {tp: max(reported[tp], probe.highwater(tp) or 0) for tp in partitions}


async def read_true_ends(
    bootstrap: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """`true_ends` by a short-lived consumer of no group (a group's consumer fetching from
    ends it was just assigned failed in aiokafka's coordination)."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        return await true_ends(probe, partitions)
    finally:
        await probe.stop()
