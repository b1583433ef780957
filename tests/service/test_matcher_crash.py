"""The matcher as a real subprocess, killed with SIGKILL mid-stream and restarted."""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.matches import MatchType
from concilia.embedded.processes import ChildProcess
from tests.support.kafka import events_of, produce, wait_for_events
from tests.support.market import demand_event, offer_event
from tests.support.places import PIAZZA_GAE_AULENTI, PIAZZALE_ARCHINTO
from tests.support.services import matcher_process, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

DEMANDS = 30
CAPACITY = 10  # per offer, two offers: 20 seats for 30 demands
OFFERS = {"crash-offer-a": PIAZZALE_ARCHINTO, "crash-offer-b": PIAZZA_GAE_AULENTI}
DATABASE = "t_matcher_crash"


def start_matcher(kafka: str, mongodb: str, logs: Path, name: str) -> tuple[ChildProcess, str]:
    return matcher_process(kafka, mongodb, logs, name, database=DATABASE)


class TestCrash:
    async def test_a_killed_matcher_resumes_with_one_match_per_demand_and_no_overbooking(
        self, kafka: str, mongodb: str, stack_home: Path, mongo_client: Any
    ) -> None:
        """SIGKILL mid-stream, restart: every demand has one match id, no offer overbooked."""
        logs = stack_home / "logs" / "matcher-crash"
        first, url = start_matcher(kafka, mongodb, logs, "matcher-1")
        second: ChildProcess | None = None
        try:
            await wait_ready(url)
            for offer_id, place in OFFERS.items():
                offer = offer_event(
                    offer_id, service_type="childcare", capacity=CAPACITY, near=place
                )
                await produce(kafka, topics.OFFERS, offer.to_bytes(), key="childcare")
            # Offers and demands are different topics: wait until the offers are known, so
            # every demand gets exactly one answer.
            offers = mongo_client[DATABASE]["offers"]
            await eventually(
                lambda: _count_is(offers, 2), timeout=60, what="both offers in the matcher"
            )

            async def produce_demands() -> None:
                for n in range(DEMANDS):
                    event = demand_event(f"crash-demand-{n:02d}", service_type="childcare")
                    await produce(kafka, topics.DEMANDS, event.to_bytes(), key="childcare")

            producing = asyncio.create_task(produce_demands())
            await wait_for_events(kafka, topics.MATCHES, None, 5, timeout=60)
            first.kill()  # SIGKILL, mid-stream
            second, url = start_matcher(kafka, mongodb, logs, "matcher-2")
            await producing
            await wait_ready(url)

            await wait_for_distinct_matches(kafka, expected=DEMANDS)
            events = await events_of(kafka, topics.MATCHES)
            reserved = {d["_id"]: d["reserved"] async for d in offers.find({})}
        finally:
            first.stop()
            if second is not None:
                second.stop()

        match_ids: dict[str, set[str]] = {}
        offer_of: dict[str, str] = {}
        for event in events:
            match_ids.setdefault(event["subject"], set()).add(event["data"]["match_id"])
            if event["type"] == MatchType.PROPOSED:
                offer_of[event["data"]["match_id"]] = event["data"]["offer_id"]
        assert len(match_ids) == DEMANDS
        assert all(len(ids) == 1 for ids in match_ids.values()), match_ids
        assert Counter(offer_of.values()) == dict.fromkeys(OFFERS, CAPACITY)
        assert reserved == dict.fromkeys(OFFERS, CAPACITY)
        not_found = {e["data"]["reason"] for e in events if e["type"] == MatchType.NOT_FOUND}
        assert not_found == {"full"}


async def _count_is(collection: Any, count: int) -> bool:
    return bool(await collection.count_documents({}) == count)


async def wait_for_distinct_matches(kafka: str, expected: int) -> None:
    async def enough() -> bool:
        events = await events_of(kafka, topics.MATCHES)
        return len({e["data"]["match_id"] for e in events}) >= expected

    await eventually(enough, timeout=120, what=f"{expected} distinct match ids")
