"""A city-sized, interleaved workload for `make bench`: offers and demands built from the
Isola sample data (its service-type mix, hours, prices, ages, languages), placed across
Milan, with new offers arriving all along while demands wait; and the producers that
publish it, all at once or paced."""

import asyncio
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from concilia.contract import topics
from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.offers import OfferEventData, OfferType
from concilia.contract.taxonomy import area_of
from concilia.sample.demands import demands as sample_demands
from concilia.sample.offers import offers as sample_offers

TODAY = date(2026, 11, 26)
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
# Milan inside the ring road and a bit beyond: about 14 km × 13 km.
LAT, LON = (45.42, 45.54), (9.10, 9.28)

Message = tuple[str, bytes, str]  # topic, CloudEvent bytes, key


def _offer_templates() -> list[dict[str, Any]]:
    return [dict(s.payload) for s in sample_offers(TODAY)]


def _demand_templates() -> list[dict[str, Any]]:
    return [dict(s.payload) for s in sample_demands(TODAY)]


OFFER_TEMPLATES = _offer_templates()
DEMAND_TEMPLATES = _demand_templates()


def offer_data(rng: random.Random, offer_id: str) -> OfferEventData:
    body = dict(rng.choice(OFFER_TEMPLATES))
    body.pop("contact")
    if body.get("location"):
        body["location"] = {
            "address": "Milano",
            "lat": round(rng.uniform(*LAT), 5),
            "lon": round(rng.uniform(*LON), 5),
        }
    body["capacity"] = rng.randint(1, 8)
    body["price_eur"] = rng.choice([0, 40, 80, 120, 180, 250])
    return OfferEventData.model_validate(
        {
            **body,
            "id": offer_id,
            "organization_id": "org-bench",
            "provider_ref": f"provider-{offer_id}",
            "status": "open",
            "version": 1,
            "area": str(area_of(body["service_type"])),
            "created_at": T0,
        }
    )


def demand_data(rng: random.Random, demand_id: str) -> DemandEventData:
    body = dict(rng.choice(DEMAND_TEMPLATES))
    body.pop("requester")
    body["location"] = {"lat": round(rng.uniform(*LAT), 3), "lon": round(rng.uniform(*LON), 3)}
    return DemandEventData.model_validate(
        {
            **body,
            "id": demand_id,
            "organization_id": "org-bench",
            "requester_ref": f"requester-{demand_id}",
            "status": "open",
            "version": 1,
            "area": str(area_of(body["service_type"])),
            "created_at": T0,
        }
    )


def offer_message(data: OfferEventData, n: int) -> Message:
    event = CloudEvent.new(
        id=stable_id(OfferType.PUBLISHED, data.id, data.version),
        type=OfferType.PUBLISHED,
        source="offers",
        subject=data.id,
        time=T0 + timedelta(seconds=n),
        data=data.model_dump(mode="json"),
    )
    return topics.OFFERS, event.to_bytes(), str(data.service_type)


def demand_message(data: DemandEventData, n: int) -> Message:
    event = CloudEvent.new(
        id=stable_id(DemandType.SUBMITTED, data.id, data.version),
        type=DemandType.SUBMITTED,
        source="demands",
        subject=data.id,
        time=T0 + timedelta(seconds=n),
        data=data.model_dump(mode="json"),
    )
    return topics.DEMANDS, event.to_bytes(), str(data.service_type)


def interleaved(
    offers: int, demands: int, *, seed: int = 7, prefix: str = "b", start: int = 0
) -> Iterator[Message]:
    """`offers` offer and `demands` demand events, shuffled together: offers keep arriving
    while demands wait. Event times advance one second per event from `start`."""
    rng = random.Random(seed)
    kinds = ["offer"] * offers + ["demand"] * demands
    rng.shuffle(kinds)
    counts = {"offer": 0, "demand": 0}
    for n, kind in enumerate(kinds):
        i = counts[kind]
        counts[kind] += 1
        if kind == "offer":
            yield offer_message(offer_data(rng, f"{prefix}-offer-{i}"), start + n)
        else:
            yield demand_message(demand_data(rng, f"{prefix}-demand-{i}"), start + n)


async def produce(bootstrap: str, messages: list[Message]) -> None:
    """Publish all of `messages` as fast as the broker takes them (batched)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(t, v, key=k.encode()) for t, v, k in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def paced(
    bootstrap: str, messages: list[Message], rate: int, demands_topic: str = topics.DEMANDS
) -> dict[str, int]:
    """Publish `rate` messages a second, evenly; each demand's publish time (ms)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=0)
    await producer.start()
    published: dict[str, int] = {}
    futures = []
    try:
        started = time.perf_counter()
        tick = 0.01  # 10 ms slices of rate/100 messages
        per_tick = rate // 100
        for n in range(0, len(messages), per_tick):
            due = started + (n // per_tick) * tick
            if (ahead := due - time.perf_counter()) > 0:
                await asyncio.sleep(ahead)  # pacing the load, not synchronisation
            for topic, value, key in messages[n : n + per_tick]:
                stamp = int(time.time() * 1000)
                futures.append(
                    await producer.send(topic, value, key=key.encode(), timestamp_ms=stamp)
                )
                if topic == demands_topic:
                    published[json.loads(value)["subject"]] = stamp
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return published
