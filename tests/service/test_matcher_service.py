"""The matcher in-process against the real embedded broker and database."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.demands import DemandType
from concilia.contract.matches import MatchType
from concilia.embedded.processes import free_port
from services.matcher.app import create_app
from services.matcher.settings import Settings
from tests.support.kafka import events_of, produce, read_all
from tests.support.market import T0, demand_event, offer_event
from tests.support.places import BICOCCA, VIA_CARMAGNOLA, VIA_CONFALONIERI
from tests.support.services import serving, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
async def matcher(kafka: str, mongodb: str) -> AsyncIterator[str]:
    """One matcher for the module (joining a consumer group on Tansu takes seconds)."""
    settings = Settings(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database="t_matcher_service",
        http_port=free_port(),
    )
    # The events below are of 2025 (T0): a clock frozen there keeps their windows open.
    async with serving(create_app(settings, clock=lambda: T0), port=settings.port) as url:
        await wait_ready(url)
        yield kafka


async def send(bootstrap: str, topic: str, event: Any) -> None:
    await produce(bootstrap, topic, event.to_bytes(), key=event.data["service_type"])


async def matches_of(bootstrap: str, demand_id: str) -> list[dict[str, Any]]:
    return [e for e in await events_of(bootstrap, topics.MATCHES) if e["subject"] == demand_id]


async def wait_for_match(
    bootstrap: str, demand_id: str, type_: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    """The first match event (of `type_`) about `demand_id`, once it is on the topic."""

    async def match() -> dict[str, Any] | None:
        mine = [
            e for e in await matches_of(bootstrap, demand_id) if type_ is None or e["type"] == type_
        ]
        return mine[0] if mine else None

    return await eventually(match, timeout=timeout, what=f"a {type_} event for {demand_id}")


class TestMatching:
    async def test_an_offer_and_a_demand_give_one_proposal_with_that_offer(
        self, matcher: str
    ) -> None:
        """A published offer and a nearby demand give exactly one match.proposed for it."""
        await send(matcher, topics.OFFERS, offer_event("svc-offer-1", service_type="sport"))
        await send(matcher, topics.DEMANDS, demand_event("svc-demand-1", service_type="sport"))

        # The topics are not ordered with each other: the demand may first be answered
        # not_found (no_provider), then served when the offer arrives.
        event = await wait_for_match(matcher, "svc-demand-1", MatchType.PROPOSED)

        assert event["data"]["offer_id"] == "svc-offer-1"
        assert event["data"]["provider_ref"] == "provider-svc-offer-1"
        assert event["data"]["requester_ref"] == "requester-svc-demand-1"
        assert event["data"]["offer"]["title"] == "Doposcuola in Isola"
        proposals = [
            e for e in await matches_of(matcher, "svc-demand-1") if e["type"] == MatchType.PROPOSED
        ]
        assert len(proposals) == 1

    async def test_a_redelivered_demand_changes_nothing(self, matcher: str) -> None:
        """The same demand event produced twice still gives one distinct match."""
        offer = offer_event("svc-offer-2", service_type="culture", capacity=1)
        demand = demand_event("svc-demand-2", service_type="culture")
        await send(matcher, topics.OFFERS, offer)
        await send(matcher, topics.DEMANDS, demand)
        await wait_for_match(matcher, "svc-demand-2", MatchType.PROPOSED)
        before = await matches_of(matcher, "svc-demand-2")

        await send(matcher, topics.DEMANDS, demand)
        # A later demand on the same partition: once it is answered, the duplicate was seen.
        await send(matcher, topics.DEMANDS, demand_event("svc-demand-3", service_type="culture"))
        later = await wait_for_match(matcher, "svc-demand-3")

        assert later["type"] == MatchType.NOT_FOUND
        assert later["data"]["reason"] == "full"  # the one seat is still reserved once
        assert await matches_of(matcher, "svc-demand-2") == before


class TestPoisonMessages:
    async def test_poison_messages_go_to_the_dlq_and_the_partition_keeps_flowing(
        self, matcher: str
    ) -> None:
        """Garbage bytes and an unknown type are dead-lettered; a later demand is matched."""
        key = "courses"
        await produce(matcher, topics.DEMANDS, b"\x00 not a cloud event", key=key)
        unknown = demand_event("svc-demand-4", DemandType.SUBMITTED, service_type=key)
        unknown = unknown.model_copy(update={"type": "demand.something", "id": "poison-type"})
        await produce(matcher, topics.DEMANDS, unknown.to_bytes(), key=key)
        await send(
            matcher, topics.OFFERS, offer_event("svc-offer-5", service_type=key, near=BICOCCA)
        )
        await send(
            matcher,
            topics.DEMANDS,
            demand_event("svc-demand-5", service_type=key, near=VIA_CARMAGNOLA),
        )

        later = await wait_for_match(matcher, "svc-demand-5")

        assert later["type"] == MatchType.NOT_FOUND
        assert later["data"]["reason"] in {"too_far", "no_provider"}  # topics race
        dead = await read_all(matcher, topics.dlq(topics.DEMANDS))
        reasons = {m.headers.get(topics.DLQ_REASON_HEADER) for m in dead}
        assert {"invalid_envelope", "unknown_type"} <= reasons
        await send(
            matcher,
            topics.OFFERS,
            offer_event("svc-offer-6", service_type=key, near=VIA_CONFALONIERI),
        )
        served = await wait_for_match(matcher, "svc-demand-5", MatchType.PROPOSED)
        assert served["data"]["offer_id"] == "svc-offer-6"
