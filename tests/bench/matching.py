"""`make bench`: matcher throughput against the raw-client ceiling, measured in one run.

1. Ceiling: a raw aiokafka consume → produce pipe (consumer group, manual commits, no
   processing) moving the same number of messages through the same embedded Tansu broker.
2. Matcher: the real matcher service (in-process, real SecantusDB, transactional inbox +
   outbox per event) consuming the same number of offer and demand events.
3. Domain: decisions per second of the pure market with the grid index against a full scan.

Throughput is messages per second between the first and the last output record's broker
timestamp, so consumer-group joins are not counted. Ratios are printed, not asserted."""

import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from concilia.contract import topics
from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_kafka, start_mongodb
from concilia.platform.kafka import ensure_topics
from services.matcher.app import create_app
from services.matcher.domain.events import DemandChanged, OfferChanged
from services.matcher.domain.index import GridIndex
from services.matcher.domain.market import Market
from services.matcher.domain.model import Demand, Offer
from services.matcher.settings import Settings
from tests.support.kafka import read_all
from tests.support.market import (
    ScanIndex,
    at,
    demand_data,
    demand_event,
    offer_data,
    offer_event,
)
from tests.support.places import Place
from tests.support.services import serving, wait_ready
from tests.support.waiting import eventually

SERVICE_TYPES = ("after_school", "childcare", "sport", "elderly_care", "coworking")
OFFERS = 200
DEMANDS = 1000


def random_place(rng: random.Random) -> Place:
    # Central Milan, about 8 km across, centred on Isola.
    return Place("Milano", 45.489 + rng.uniform(-0.04, 0.04), 9.19 + rng.uniform(-0.05, 0.05))


def workload(seed: int = 7) -> list[tuple[str, bytes, str]]:
    """(topic, value, key) for OFFERS offer events then DEMANDS demand events."""
    rng = random.Random(seed)
    messages = []
    for i in range(OFFERS):
        service_type = rng.choice(SERVICE_TYPES)
        event = offer_event(
            f"bench-offer-{i}",
            service_type=service_type,
            near=random_place(rng),
            capacity=rng.randint(1, 6),
            price_eur=rng.choice([0, 80, 150, 250]),
        )
        messages.append((topics.OFFERS, event.to_bytes(), service_type))
    for i in range(DEMANDS):
        service_type = rng.choice(SERVICE_TYPES)
        event = demand_event(f"bench-demand-{i}", service_type=service_type, near=random_place(rng))
        messages.append((topics.DEMANDS, event.to_bytes(), service_type))
    return messages


async def produce_all(bootstrap: str, messages: list[tuple[str, bytes, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(t, v, key=k.encode()) for t, v, k in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def output_rate(bootstrap: str, topic: str, expected: int, deadline: float) -> float:
    """Messages per second on `topic` once `expected` are there (by broker timestamps)."""

    async def all_there() -> bool:
        return len(await read_all(bootstrap, topic)) >= expected

    await eventually(
        all_there, timeout=deadline - time.monotonic(), interval=1, what=f"{expected} on {topic}"
    )
    stamps = await _timestamps(bootstrap, topic)
    span = (max(stamps) - min(stamps)) / 1000
    return (len(stamps) - 1) / span if span > 0 else float("inf")


async def _timestamps(bootstrap: str, topic: str) -> list[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    stamps: list[int] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            stamps += [r.timestamp for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    return stamps


async def raw_pipe(bootstrap: str, count: int) -> float:
    """The ceiling: consume from offers+demands, produce each to a pipe topic, commit."""
    out = "bench.pipe"
    consumer = AIOKafkaConsumer(
        topics.OFFERS,
        topics.DEMANDS,
        bootstrap_servers=bootstrap,
        group_id="bench-raw",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await consumer.start()
    await producer.start()
    moved = 0
    try:
        while moved < count:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    await producer.send_and_wait(out, r.value, key=r.key)
                    await consumer.commit()
                    moved += 1
    finally:
        await producer.stop()
        await consumer.stop()
    return await output_rate(bootstrap, out, count, time.monotonic() + 60)


async def matcher_rate(bootstrap: str, mongodb: str) -> float:
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        mongodb_url=mongodb,
        mongodb_database="bench_matcher",
        http_port=free_port(),
        outbox_poll_seconds=0.05,
    )
    async with serving(create_app(settings), port=settings.port) as url:
        await wait_ready(url)
        return await output_rate(bootstrap, topics.MATCHES, DEMANDS, time.monotonic() + 600)


def domain_rates(seed: int = 11) -> tuple[float, float]:
    """Decisions per second of the pure market: grid index, then full scan."""
    rng = random.Random(seed)
    offers = [
        offer_data(f"o{i}", near=random_place(rng), capacity=rng.randint(1, 3)) for i in range(2000)
    ]
    demands = [demand_data(f"d{i}", near=random_place(rng)) for i in range(2000)]
    rates = []
    for index in (GridIndex, ScanIndex):
        market = Market("after_school", index=index)
        for i, offer in enumerate(offers):
            market.apply(OfferChanged(Offer.from_event(offer), closing=False), at(i))
        started = time.perf_counter()
        for i, demand in enumerate(demands):
            market.apply(DemandChanged(Demand.from_event(demand), closing=False), at(i))
        rates.append(len(demands) / (time.perf_counter() - started))
    return rates[0], rates[1]


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="concilia-bench-"))
    kafka_port, mongo_port = free_port(), free_port()
    kafka = start_kafka(kafka_port, home / "logs")
    mongo = start_mongodb(mongo_port, home / "db", home / "logs")
    bootstrap = f"127.0.0.1:{kafka_port}"
    try:
        await ensure_topics(bootstrap)
        messages = workload()
        await produce_all(bootstrap, messages)
        print(f"workload: {OFFERS} offers + {DEMANDS} demands on {len(SERVICE_TYPES)} types")
        ceiling = await raw_pipe(bootstrap, len(messages))
        print(f"raw aiokafka consume→produce ceiling : {ceiling:8.0f} msg/s")
        rate = await matcher_rate(
            bootstrap, f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
        )
        print(f"matcher (one transaction per batch)  : {rate:8.0f} match events/s")
        print(f"ratio matcher / ceiling              : {rate / ceiling:8.2f}")
        grid, scan = domain_rates()
        print(f"domain, grid index                   : {grid:8.0f} decisions/s")
        print(f"domain, full scan                    : {scan:8.0f} decisions/s")
        print(f"ratio grid / scan (2000 offers)      : {grid / scan:8.2f}")
    finally:
        kafka.stop()
        mongo.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
