"""What one fetch costs Tansu as a partition holds more record batches.

Tansu 0.6's memory engine lists every stored batch of a partition on each fetch that finds
new records there (tansu-storage `dynostore.rs`, `fetch`), so a consumer that keeps up pays
more per fetch the longer the broker runs. This fills one partition with single-record
batches (one per `send_and_wait`, as a producer without linger makes them) and, at each
size, times 20 rounds of "produce one record, fetch it" with the stack's fetch wait,
with the broker's CPU per round read from /proc. Not part of `make test` or `make bench`:

    PYTHONPATH=. .venv/bin/python -m tests.bench.broker_fetch
"""

import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_kafka
from tests.bench.matching import cpu_seconds
from tests.bench.probes import one_partition

SIZES = [int(n) for n in os.environ.get("BENCH_BATCHES", "1000,5000,10000,20000").split(",")]
ROUNDS = 20
TOPIC = "bench.fetch"


async def rounds(
    producer: AIOKafkaProducer, consumer: AIOKafkaConsumer, broker_pid: int | None
) -> tuple[list[float], float]:
    """ROUNDS times: one record produced, then fetched; the times (ms) and the broker's CPU
    per round (ms)."""
    partition = TopicPartition(TOPIC, 0)
    times = []
    cpu = cpu_seconds(broker_pid)
    for _ in range(ROUNDS):
        started = time.perf_counter()
        await producer.send_and_wait(TOPIC, b"y" * 200)
        got = await consumer.getmany(partition, timeout_ms=60_000)
        if not got.get(partition):
            raise RuntimeError("the record produced did not come back within 60 s")
        times.append((time.perf_counter() - started) * 1000)
    return times, (cpu_seconds(broker_pid) - cpu) / ROUNDS * 1000


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="concilia-fetch-"))
    port = free_port()
    kafka = start_kafka(port, home)
    bootstrap = f"127.0.0.1:{port}"
    results = []
    try:
        async with one_partition(bootstrap, TOPIC) as (producer, consumer, partition):
            stored = 0
            for size in SIZES:
                last = None
                while stored < size:
                    last = await producer.send_and_wait(TOPIC, b"x" * 200)
                    stored += 1
                if last is not None:
                    consumer.seek(partition, last.offset + 1)
                times, broker_ms = await rounds(producer, consumer, kafka.pid)
                stored += ROUNDS
                row = {
                    "batches": size,
                    "round_p50_ms": round(statistics.median(times), 1),
                    "round_max_ms": round(max(times), 1),
                    "broker_cpu_ms_per_round": round(broker_ms, 1),
                }
                results.append(row)
                print(
                    f"{size:>7,} batches stored: produce + fetch one record p50 "
                    f"{row['round_p50_ms']} ms (max {row['round_max_ms']}), the broker's CPU "
                    f"{row['broker_cpu_ms_per_round']} ms a round",
                    flush=True,
                )
    finally:
        kafka.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
