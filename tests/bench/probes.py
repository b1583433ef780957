"""The paced phase window by window, and what the servers answer meanwhile.

`windows` cuts the paced latencies into 10 s windows by publication time, so a table shows
whether the latency holds or grows over the minute. `Probes` (BENCH_PROBES=1) times, every
100 ms while the load runs, a two-command transaction on the matcher's database server and
"produce one record, fetch it" on a fresh one-partition topic of the broker: small
operations that do not queue behind the matcher, so they tell the servers' own latency
from the matcher's queue."""

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from concilia.embedded.servers import TANSU_FETCH_MAX_WAIT_MS
from concilia.platform.mongo import Document

WINDOW_MS = 10_000
EVERY_SECONDS = 0.1  # between two probes
TOPIC = "bench.probe"

Timed = list[tuple[int, float]]  # (when, ms since the epoch; how long, ms)


def windows(published: dict[str, int], decided: dict[str, int], cut: int) -> list[list[int]]:
    """The latencies (ms, sorted) of the demands published in each window from the first
    publication; an undecided demand counts as decided at `cut`."""
    start = min(published.values(), default=0)
    found: dict[int, list[int]] = {}
    for demand, at in published.items():
        found.setdefault((at - start) // WINDOW_MS, []).append(decided.get(demand, cut) - at)
    return [sorted(found.get(n, [])) for n in range(max(found, default=-1) + 1)]


def window_medians(timed: Timed, start: int, count: int) -> list[float | None]:
    """The median of `timed` in each of `count` windows from `start`."""
    found: dict[int, list[float]] = {}
    for at, ms in timed:
        found.setdefault((at - start) // WINDOW_MS, []).append(ms)
    return [statistics.median(found[n]) if n in found else None for n in range(count)]


@contextlib.asynccontextmanager
async def repeating(probe: Callable[[], Awaitable[None]]) -> AsyncIterator[Timed]:
    """While the block runs: `probe` every EVERY_SECONDS, each run timed."""
    timed: Timed = []

    async def repeat() -> None:
        while True:
            started = time.perf_counter()
            await probe()
            timed.append((int(time.time() * 1000), (time.perf_counter() - started) * 1000))
            await asyncio.sleep(EVERY_SECONDS)  # the probes' period, not synchronisation

    task = asyncio.create_task(repeat())
    try:
        yield timed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def database_probe(url: str) -> AsyncIterator[Timed]:
    """While the block runs: an update and an insert in one transaction, timed."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, timeoutMS=60_000)
    probes = client["bench_probe"]["probes"]
    await probes.update_one({"_id": "counter"}, {"$set": {"n": 0}}, upsert=True)

    async def transaction() -> None:
        async with client.start_session() as session, await session.start_transaction():
            await probes.update_one({"_id": "counter"}, {"$inc": {"n": 1}}, session=session)
            await probes.insert_one({"at": time.time()}, session=session)

    try:
        async with repeating(transaction) as timed:
            yield timed
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def one_partition(
    bootstrap: str, topic: str
) -> AsyncIterator[tuple[AIOKafkaProducer, AIOKafkaConsumer, TopicPartition]]:
    """A new one-partition `topic`, a producer without linger and a consumer assigned to it
    with the stack's fetch wait."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS,
    )
    await producer.start()
    await consumer.start()
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    try:
        yield producer, consumer, partition
    finally:
        await consumer.stop()
        await producer.stop()


@contextlib.asynccontextmanager
async def broker_probe(bootstrap: str) -> AsyncIterator[Timed]:
    """While the block runs: one record produced to a fresh topic and fetched back, timed."""
    async with one_partition(bootstrap, TOPIC) as (producer, consumer, partition):
        consumer.seek(partition, 0)

        async def round_trip() -> None:
            await producer.send_and_wait(TOPIC, b"probe")
            await consumer.getone(partition)

        async with repeating(round_trip) as timed:
            yield timed


def window_rows(
    published: dict[str, int],
    decided: dict[str, int],
    cut: int,
    database: Timed,
    broker: Timed,
) -> list[tuple[str, str]]:
    """Table rows: each window's p50 and p99, with the probes' medians when they ran."""
    latencies = windows(published, decided, cut)
    start = min(published.values(), default=0)
    db = window_medians(database, start, len(latencies))
    kafka = window_medians(broker, start, len(latencies))
    rows = []
    for n, window in enumerate(latencies):
        if not window:
            continue
        text = f"p50 {window[len(window) // 2]} ms, p99 {window[int(len(window) * 0.99) - 1]} ms"
        if db[n] is not None and kafka[n] is not None:
            text += f"; probes: database txn {db[n]:.1f} ms, broker round trip {kafka[n]:.1f} ms"
        rows.append((f"  published {n * 10}–{n * 10 + 10} s", text))
    return rows
