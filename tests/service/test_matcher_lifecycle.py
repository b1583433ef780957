"""The match lifecycle (README) through the matcher in-process, against the real
embedded broker and database: answers, declines, expiry and withdrawal."""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.demands import DemandType
from concilia.contract.envelope import CloudEvent, utcnow
from concilia.contract.matches import MatchType
from concilia.contract.offers import OfferType
from concilia.embedded.processes import free_port
from services.matcher.app import create_app
from services.matcher.settings import Settings
from tests.support.kafka import events_of, produce
from tests.support.market import answer_event, demand_event, offer_event
from tests.support.places import PIAZZA_GAE_AULENTI, PIAZZALE_ARCHINTO
from tests.support.services import serving, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

TTL_SECONDS = 600  # long enough for the answers below; the expiry test uses old events


@pytest.fixture(scope="module")
async def matcher(kafka: str, mongodb: str) -> AsyncIterator[str]:
    """One matcher for the module, sweeping answer windows five times a second."""
    settings = Settings(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database="t_matcher_lifecycle",
        http_port=free_port(),
        match_answer_ttl_seconds=TTL_SECONDS,
        match_expiry_sweep_seconds=0.2,
        match_expiry_grace_seconds=0,
    )
    async with serving(create_app(settings), port=settings.port) as url:
        await wait_ready(url)
        yield kafka


def unique(name: str) -> str:
    return f"lc-{name}-{uuid.uuid4().hex[:8]}"


def at_time(event: CloudEvent, when: datetime) -> CloudEvent:
    return event.model_copy(update={"time": when})


async def send(bootstrap: str, topic: str, event: CloudEvent) -> None:
    await produce(bootstrap, topic, event.to_bytes(), key=event.data["service_type"])


async def wait_for(
    bootstrap: str, demand_id: str, type_: str, count: int = 1, timeout: float = 60
) -> list[dict[str, Any]]:
    """The match events of `type_` about `demand_id`, once there are `count` of them."""

    async def found() -> list[dict[str, Any]] | None:
        mine = [
            e
            for e in await events_of(bootstrap, topics.MATCHES, type_)
            if e["subject"] == demand_id
        ]
        return mine if len(mine) >= count else None

    return await eventually(found, timeout=timeout, what=f"{count} {type_} for {demand_id}")


async def answer(bootstrap: str, type_: str, proposal: dict[str, Any], service_type: str) -> None:
    """The answer event the demands (or offers) service publishes for a party."""
    data = proposal["data"]
    if type_.startswith("demand."):
        event = answer_event(
            type_,
            data["match_id"],
            service_type=service_type,
            when=utcnow(),
            demand_id=data["demand_id"],
        )
        await send(bootstrap, topics.DEMANDS, event)
    else:
        event = answer_event(
            type_,
            data["match_id"],
            service_type=service_type,
            when=utcnow(),
            offer_id=data["offer_id"],
        )
        await send(bootstrap, topics.OFFERS, event)


class TestAnswers:
    async def test_both_parties_accepting_publishes_match_accepted(self, matcher: str) -> None:
        """A proposal accepted by the provider and the requester becomes match.accepted."""
        kind, offer_id, demand_id = "errands", unique("offer"), unique("demand")
        await send(
            matcher, topics.OFFERS, at_time(offer_event(offer_id, service_type=kind), utcnow())
        )
        await send(
            matcher, topics.DEMANDS, at_time(demand_event(demand_id, service_type=kind), utcnow())
        )
        [proposal] = await wait_for(matcher, demand_id, MatchType.PROPOSED)
        assert proposal["data"]["state"] == "proposed"
        assert proposal["data"]["expires_at"] is not None

        await answer(matcher, OfferType.MATCH_ACCEPTED, proposal, kind)
        await answer(matcher, DemandType.MATCH_ACCEPTED, proposal, kind)

        [accepted] = await wait_for(matcher, demand_id, MatchType.ACCEPTED)
        data = accepted["data"]
        assert data["match_id"] == proposal["data"]["match_id"]
        assert (data["state"], data["requester_answer"], data["provider_answer"]) == (
            "accepted",
            "accepted",
            "accepted",
        )
        assert data["offer"] == proposal["data"]["offer"]
        assert data["expires_at"] == proposal["data"]["expires_at"]

    async def test_a_decline_rematches_the_demand_to_the_other_offer(self, matcher: str) -> None:
        """The provider declines: match.declined, then a proposal of the other offer."""
        kind, demand_id = "nutrition", unique("demand")
        offers = {unique("offer-a"): PIAZZALE_ARCHINTO, unique("offer-b"): PIAZZA_GAE_AULENTI}
        for offer_id, place in offers.items():
            event = offer_event(offer_id, service_type=kind, near=place, radius_km=None)
            await send(matcher, topics.OFFERS, at_time(event, utcnow()))
        demand = demand_event(demand_id, service_type=kind, max_distance_km=5)
        await send(matcher, topics.DEMANDS, at_time(demand, utcnow()))
        # The decline goes on the offers topic behind both offers: both are known by then.
        [first] = await wait_for(matcher, demand_id, MatchType.PROPOSED)

        await answer(matcher, OfferType.MATCH_DECLINED, first, kind)

        [declined] = await wait_for(matcher, demand_id, MatchType.DECLINED)
        assert declined["data"]["declined_by"] == "provider"
        assert declined["data"]["next_step"] == "rematch"
        _, second = await wait_for(matcher, demand_id, MatchType.PROPOSED, count=2)
        assert second["data"]["offer_id"] == (set(offers) - {first["data"]["offer_id"]}).pop()
        assert second["data"]["match_id"] != first["data"]["match_id"]


class TestEnds:
    async def test_an_unanswered_proposal_expires_and_closes_the_demand(self, matcher: str) -> None:
        """A proposal whose window has passed is published as match.expired (closed)."""
        kind, offer_id, demand_id = "smart_working_advice", unique("offer"), unique("demand")
        long_ago = utcnow() - timedelta(seconds=2 * TTL_SECONDS)
        await send(
            matcher, topics.OFFERS, at_time(offer_event(offer_id, service_type=kind), long_ago)
        )
        await send(
            matcher, topics.DEMANDS, at_time(demand_event(demand_id, service_type=kind), long_ago)
        )
        [proposal] = await wait_for(matcher, demand_id, MatchType.PROPOSED)

        [expired] = await wait_for(matcher, demand_id, MatchType.EXPIRED)

        assert expired["data"]["match_id"] == proposal["data"]["match_id"]
        assert expired["data"]["state"] == "expired"
        assert expired["data"]["next_step"] == "closed"
        assert expired["time"].startswith(proposal["data"]["expires_at"][:19])

    async def test_a_withdrawn_demand_cancels_its_match_and_serves_the_next_one(
        self, matcher: str
    ) -> None:
        """Withdrawing a matched demand publishes match.cancelled; its seat goes to the
        demand waiting behind it."""
        kind, offer_id = "legal_tax_advice", unique("offer")
        first, second = unique("demand-1"), unique("demand-2")
        offer = offer_event(offer_id, service_type=kind, capacity=1)
        await send(matcher, topics.OFFERS, at_time(offer, utcnow()))
        await send(
            matcher, topics.DEMANDS, at_time(demand_event(first, service_type=kind), utcnow())
        )
        await wait_for(matcher, first, MatchType.PROPOSED)
        await send(
            matcher, topics.DEMANDS, at_time(demand_event(second, service_type=kind), utcnow())
        )
        [waiting] = await wait_for(matcher, second, MatchType.NOT_FOUND)
        assert waiting["data"]["reason"] == "full"

        withdrawal = demand_event(
            first, DemandType.WITHDRAWN, service_type=kind, version=2, status="withdrawn"
        )
        await send(matcher, topics.DEMANDS, at_time(withdrawal, utcnow()))

        [cancelled] = await wait_for(matcher, first, MatchType.CANCELLED)
        assert cancelled["data"]["cause"] == "demand_withdrawn"
        assert cancelled["data"]["next_step"] == "none"
        [served] = await wait_for(matcher, second, MatchType.PROPOSED)
        assert served["data"]["offer_id"] == offer_id
