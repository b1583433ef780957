"""`make bench`: the matcher against honest ceilings, all measured in one run on the same
embedded Tansu and SecantusDB with the same city-sized workload (tests/bench/workload.py).

1. pipe ceiling and persisted ceiling (tests/bench/ceilings.py) over the workload;
2. the real matcher (`python -m services.matcher`, its own process as in production:
   batches, one transaction each with positions, state, fence and outbox) over the same
   workload: events per second;
3. latency: 1,000 events/s paced for 60 s into the running matcher; for every demand, the
   time from its publication to its first decision on welfare.matches.v1 (broker record
   timestamps on one machine clock); p50 and p99; and the matcher's own view of the same
   phase from its /metrics (event age when taken and when committed, tests/bench/event_ages.py);
4. write path (tests/bench/write_path.py): POST /v1/demands against raw inserts, both at
   concurrency 32;
5. the pure market's per-event cost at 10k and 100k open records, and the resident memory
   holding 100k (tests/bench/market_scale.py, its own process).

Prints a table, then as its LAST line one JSON object with the keys that the performance
targets name (README, "Benchmarks and soak")."""

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.embedded.processes import ChildProcess, free_port
from concilia.embedded.servers import start_kafka, start_mongodb
from concilia.platform.kafka import DEFAULT_PARTITIONS, ensure_topics
from concilia.platform.mongo import Document
from concilia.platform.offsets import read_true_ends, true_ends
from concilia.platform.outbox import OUTBOX, PENDING
from services.matcher import store
from tests.bench import ceilings, event_ages, write_path
from tests.bench.probes import Timed, broker_probe, database_probe, window_rows
from tests.bench.workload import Message, interleaved, paced, produce
from tests.support.services import matcher_process, wait_ready
from tests.support.waiting import eventually

# The city: thousands of offers, tens of thousands of demands. BENCH_SMOKE=1 shrinks it all
# to check the bench itself runs (its figures then mean nothing). BENCH_MATCHER_ONLY=1 runs
# only the ceilings, the matcher and the paced latency (for iterating on the matcher), at
# BENCH_SCALE (default 1) times the city and for BENCH_PACED_SECONDS; `make bench` runs all.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
MATCHER_ONLY = os.environ.get("BENCH_MATCHER_ONLY") == "1"
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
OFFERS, DEMANDS = (300, 2_700) if SMOKE else (round(2_500 * SCALE), round(22_500 * SCALE))
DRAIN_SECONDS = 90  # after the paced load: a demand not decided by then counts as this late
PACED_RATE = 1_000
PACED_SECONDS = 5 if SMOKE else int(os.environ.get("BENCH_PACED_SECONDS", "60"))
WRITE_SECONDS = 3 if SMOKE else 20
# BENCH_PROBES=1: time small operations on the database and the broker during the paced
# phase (tests/bench/probes.py), printed beside its latency window by window.
PROBES = os.environ.get("BENCH_PROBES") == "1"


class FirstDecisions:
    """For every demand, the broker timestamp (ms) of its first decision on the topic. Each
    `read()` reads only what was appended since the last one: the bench shares the
    machine's two cores with the matcher, and re-reading the whole topic every second took
    CPU from the matcher it measures."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.first: dict[str, int] = {}
        self._parts: list[TopicPartition] = []

    async def start(self) -> None:
        await self._consumer.start()
        await self._probe.start()
        partitions = self._consumer.partitions_for_topic(topics.MATCHES) or ()
        self._parts = [TopicPartition(topics.MATCHES, p) for p in partitions]
        self._consumer.assign(self._parts)
        await self._consumer.seek_to_beginning(*self._parts)

    async def stop(self) -> None:
        await self._probe.stop()
        await self._consumer.stop()

    async def read(self) -> dict[str, int]:
        ends = await true_ends(self._probe, self._parts)
        left = {tp for tp in self._parts if await self._consumer.position(tp) < ends[tp]}
        while left:
            batch = await self._consumer.getmany(*left, timeout_ms=2000, max_records=5000)
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    subject = json.loads(r.value)["subject"] if r.value else None
                    if subject is not None:
                        self.first[subject] = min(self.first.get(subject, r.timestamp), r.timestamp)
                if await self._consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        return self.first


def cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far: per-event costs from it are
    far steadier than rates on a shared two-core machine."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_client(url: str) -> AsyncMongoClient[Document]:
    """The bench's own client: no call waits more than 60 s. SecantusDB has held a commit
    for many minutes here (see the write path below); the bench then fails with a timeout
    instead of waiting for ever."""
    return AsyncMongoClient(url, timeoutMS=60_000)


async def close(client: AsyncMongoClient[Document]) -> None:
    """Close without waiting on a database that stopped answering."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(client.close(), timeout=10)


async def paced_ceiling(bootstrap: str, home: Path, load: list[Message]) -> list[int]:
    """The persisted ceiling's latency under `load`, on a SecantusDB server of its own."""
    port = free_port()
    server = start_mongodb(port, home / "db-paced", home / "logs")
    client = bench_client(f"mongodb://127.0.0.1:{port}/?directConnection=true")
    try:
        return await ceilings.persisted_latency(
            bootstrap, (client, client["ceiling"]), load, PACED_RATE
        )
    finally:
        await close(client)
        server.stop()


async def events_handled(client: AsyncMongoClient[Document], database: str) -> int:
    return await store.events_handled(client[database])


async def matcher_run(
    bootstrap: str, mongo: ChildProcess, mongodb: str, total: int, load: list[Message], logs: Path
) -> tuple[float, dict[str, Any], list[tuple[str, str]]]:
    """The matcher over the workload (events/s), then the paced latency phase (`load`);
    with the CPU the matcher and the database used per event of the workload, and the
    paced latency window by window (table rows)."""
    database = "bench_matcher"
    client = bench_client(mongodb)
    # Its own process, as in production: the bench's producer and decision reader (this
    # process) do not share the matcher's event loop or CPU.
    matcher, url = matcher_process(
        bootstrap,
        mongodb,
        logs,
        "bench-matcher",
        database=database,
        env={
            "AUTH_JWT_SECRET": secrets.token_urlsafe(32),
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        await wait_ready(url)
        first = await eventually(
            lambda: _count_once(client, database), timeout=120, interval=0.05, what="start"
        )
        started, done_first = time.perf_counter(), first
        cpu = cpu_seconds(matcher.pid), cpu_seconds(mongo.pid)
        await eventually(
            lambda: _reached(client, database, total),
            timeout=900,
            interval=0.05,
            what=f"{total} events matched",
        )
        rate = (total - done_first) / (time.perf_counter() - started)
        handled = await events_handled(client, database) - done_first
        matcher_cpu = (cpu_seconds(matcher.pid) - cpu[0]) / handled * 1e6
        database_cpu = (cpu_seconds(mongo.pid) - cpu[1]) / handled * 1e6
        # How many decisions the workload made: it varies from run to run (the order in
        # which the two topics are read changes how often a waiting demand is told again
        # why it waits), and the CPU per event with it.
        await eventually(
            lambda: _published_all(client, database), timeout=60, what="the outbox drained"
        )
        decisions = await decisions_published(bootstrap)

        watcher = FirstDecisions(bootstrap)
        await watcher.start()
        ages_before = await event_ages.scrape(url)
        print(f"paced: {len(load):,} events at {PACED_RATE:,}/s", flush=True)
        try:
            async with contextlib.AsyncExitStack() as probing:
                database_times: Timed = (
                    await probing.enter_async_context(database_probe(mongodb)) if PROBES else []
                )
                broker_times: Timed = (
                    await probing.enter_async_context(broker_probe(bootstrap)) if PROBES else []
                )
                published = await paced(bootstrap, load, PACED_RATE)
            deadline = time.monotonic() + DRAIN_SECONDS
            while True:
                decided = await watcher.read()
                if all(d in decided for d in published) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)  # polling the topic: the bench waits, not a sync
            cut = int(time.time() * 1000)
            ages = event_ages.summary(ages_before, await event_ages.scrape(url))
        finally:
            await watcher.stop()
    finally:
        matcher.stop()
        await close(client)
    # A demand still undecided at the cut counts as decided then: a lower bound, never less.
    latencies = sorted(decided.get(d, cut) - published[d] for d in published)
    series = window_rows(published, decided, cut, database_times, broker_times)
    return (
        rate,
        {
            **percentiles(latencies),
            "matcher_us": matcher_cpu,
            "database_us": database_cpu,
            "undecided": sum(1 for d in published if d not in decided),
            "decisions": decisions,
            "ages": ages,
        },
        series,
    )


def percentiles(latencies: list[int]) -> dict[str, float]:
    """p50, p99 and max of sorted latencies (ms), and how many."""
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
        "demands": len(latencies),
    }


async def _published_all(client: AsyncMongoClient[Document], database: str) -> bool:
    return await client[database][OUTBOX].count_documents(PENDING) == 0


async def decisions_published(bootstrap: str) -> int:
    """How many events welfare.matches.v1 holds."""
    partitions = [TopicPartition(topics.MATCHES, p) for p in range(DEFAULT_PARTITIONS)]
    return sum((await read_true_ends(bootstrap, partitions)).values())


async def _count_once(client: AsyncMongoClient[Document], database: str) -> int:
    return await events_handled(client, database)


async def _reached(client: AsyncMongoClient[Document], database: str, total: int) -> bool:
    return await events_handled(client, database) >= total


def print_table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def market_scale() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.market_scale"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    scale: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return scale


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="concilia-bench-"))
    kafka_port, mongo_port = free_port(), free_port()
    kafka = start_kafka(kafka_port, home / "logs")
    mongo = start_mongodb(mongo_port, home / "db", home / "logs")
    bootstrap = f"127.0.0.1:{kafka_port}"
    mongodb = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
    client = bench_client(mongodb)
    rows: list[tuple[str, str]] = []
    try:
        await ensure_topics(bootstrap)
        messages = list(interleaved(OFFERS, DEMANDS))
        await produce(bootstrap, messages)
        total = len(messages)
        print(
            f"workload: {OFFERS:,} offers and {DEMANDS:,} demands interleaved, sample-data "
            f"type mix, across Milan; {total:,} events",
            flush=True,
        )
        pipe = await ceilings.pipe(bootstrap, total, "pipe", None)
        rows.append(("pipe ceiling (batched raw pipe)", f"{pipe:,.0f} events/s"))
        cpu = time.process_time(), cpu_seconds(mongo.pid)
        persisted = await ceilings.pipe(
            bootstrap, total, "persisted", (client, client["bench_ceiling"])
        )
        ceiling_cpu = [
            (after - before) / total * 1e6
            for before, after in zip(
                cpu, (time.process_time(), cpu_seconds(mongo.pid)), strict=True
            )
        ]
        rows.append(("persisted ceiling (+1 txn/batch)", f"{persisted:,.0f} events/s"))
        rows.append(
            (
                "  its CPU per event: client, database",
                f"{ceiling_cpu[0]:,.0f} µs, {ceiling_cpu[1]:,.0f} µs",
            )
        )
        print(f"ceilings: pipe {pipe:,.0f}/s, persisted {persisted:,.0f}/s", flush=True)
        # The paced load: one offer for nine demands, as the workload, after it in time.
        load = list(
            interleaved(
                PACED_RATE * PACED_SECONDS // 10,
                PACED_RATE * PACED_SECONDS * 9 // 10,
                seed=99,
                prefix="q",
                start=total,
            )
        )
        # On a database server of its own, like the write path below: the matcher's
        # database then holds only the matcher's writes.
        ceiling_latency = percentiles(await paced_ceiling(bootstrap, home, load))
        rows.append(
            (
                f"persisted ceiling: event → commit at {PACED_RATE:,}/s",
                f"p50 {ceiling_latency['p50']:.0f} ms, p99 {ceiling_latency['p99']:.0f} ms",
            )
        )
        print(f"persisted ceiling latency {ceiling_latency}", flush=True)
        matcher, latency, series = await matcher_run(
            bootstrap, mongo, mongodb, total, load, home / "logs"
        )
        rows.append(("matcher", f"{matcher:,.0f} events/s"))
        rows.append(
            (
                "  its CPU per event: matcher, database",
                f"{latency['matcher_us']:,.0f} µs, {latency['database_us']:,.0f} µs "
                f"({latency['decisions'] / total:.2f} decisions per event)",
            )
        )
        rows.append(("matcher / persisted ceiling", f"{matcher / persisted:.2f}"))
        rows.append(
            (
                f"event → decision at {PACED_RATE:,}/s for {PACED_SECONDS} s",
                f"p50 {latency['p50']:.0f} ms, p99 {latency['p99']:.0f} ms, "
                f"max {latency['max']:.0f} ms ({latency['demands']:,} demands, "
                f"{latency['undecided']:,} undecided {DRAIN_SECONDS} s after: counted then)",
            )
        )
        rows += series
        rows.append(("  the matcher's /metrics: event age", latency["ages"]))
        print(f"matcher {matcher:,.0f}/s; latency {latency}", flush=True)
        if MATCHER_ONLY:
            print_table(rows)
            print(
                json.dumps(
                    {
                        "persisted_ceiling_events_per_s": round(persisted),
                        "matcher_events_per_s": round(matcher),
                        "matcher_ratio": round(matcher / persisted, 3),
                        "p99_event_to_match_ms_at_1k": round(latency["p99"]),
                    }
                )
            )
            return
        # The write path and its raw-insert ceiling share a database server of their own:
        # the matcher, stopped mid-backlog, leaves SecantusDB busy with its last commit
        # (twice it held every later write for over ten minutes).
        mongo.kill()
        writes_port = free_port()
        mongo = start_mongodb(writes_port, home / "db-writes", home / "logs")
        writes_db = f"mongodb://127.0.0.1:{writes_port}/?directConnection=true"
        api, inserts = await write_path.measure(bootstrap, writes_db, home / "logs", WRITE_SECONDS)
        rows.append(("POST /v1/demands, concurrency 32", f"{api:,.0f} requests/s"))
        rows.append(("raw inserts, concurrency 32", f"{inserts:,.0f} documents/s"))
        rows.append(("write path ratio", f"{api / inserts:.2f}"))
    finally:
        await close(client)
        kafka.stop()
        mongo.stop()
        shutil.rmtree(home, ignore_errors=True)
    scale = market_scale()  # alone on the machine: the servers are stopped
    growth = scale["us_per_event_100k"] / scale["us_per_event_10k"]
    rows.append(("market per event, 10k open", f"{scale['us_per_event_10k']:,.0f} µs"))
    rows.append(("market per event, 100k open", f"{scale['us_per_event_100k']:,.0f} µs"))
    rows.append(("cost growth 10k → 100k", f"{growth:.2f}"))
    rows.append(("load 100k open (restart)", f"{scale['load_s_100k']:.1f} s"))
    rows.append(("RSS holding 100k open", f"{scale['rss_mb_100k']:.0f} MB"))

    print_table(rows)
    print(
        json.dumps(
            {
                "pipe_ceiling_events_per_s": round(pipe),
                "persisted_ceiling_events_per_s": round(persisted),
                "matcher_events_per_s": round(matcher),
                "matcher_ratio": round(matcher / persisted, 3),
                "p99_event_to_match_ms_at_1k": round(latency["p99"]),
                "cost_growth_10k_to_100k": round(growth, 2),
                "rss_mb_at_100k_open": round(scale["rss_mb_100k"]),
                "write_path_ratio": round(api / inserts, 3),
            }
        )
    )


if __name__ == "__main__":
    # Stopped like Ctrl-C: the servers and services it started are stopped too, not left.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(asyncio.run(main()))
