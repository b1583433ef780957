"""A matcher restarted with a proposal pending still ends its answer window, even if no
event about that market ever comes again (real broker and database, injected clock)."""

import uuid
from datetime import timedelta
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.envelope import utcnow
from concilia.contract.matches import MatchType
from concilia.embedded.processes import free_port
from services.matcher.app import create_app
from services.matcher.settings import Settings
from tests.support.kafka import events_of, produce
from tests.support.market import demand_event, offer_event
from tests.support.services import serving, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

KIND = "training"


def settings_for(kafka: str, mongodb: str) -> Settings:
    return Settings(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database="t_matcher_restart",
        http_port=free_port(),
        match_answer_ttl_seconds=3600,
        match_expiry_sweep_seconds=0.2,
    )


async def about(kafka: str, demand_id: str, type_: str) -> list[dict[str, Any]] | None:
    found = [e for e in await events_of(kafka, topics.MATCHES, type_) if e["subject"] == demand_id]
    return found or None


class TestRestart:
    async def test_a_restarted_matcher_expires_a_proposal_made_before_it_stopped(
        self, kafka: str, mongodb: str
    ) -> None:
        """Proposed by one matcher, expired by the next one (its clock two hours ahead)
        without any new event: markets with pending proposals are loaded at assignment."""
        offer_id, demand_id = (
            f"rs-offer-{uuid.uuid4().hex[:8]}",
            f"rs-demand-{uuid.uuid4().hex[:8]}",
        )
        now = utcnow()
        first = settings_for(kafka, mongodb)
        async with serving(create_app(first), port=first.port) as url:
            await wait_ready(url)
            for topic, event in (
                (topics.OFFERS, offer_event(offer_id, service_type=KIND)),
                (topics.DEMANDS, demand_event(demand_id, service_type=KIND)),
            ):
                event = event.model_copy(update={"time": now})
                await produce(kafka, topic, event.to_bytes(), key=KIND)
            await eventually(
                lambda: about(kafka, demand_id, MatchType.PROPOSED), timeout=60, what="a proposal"
            )

        later = settings_for(kafka, mongodb)
        two_hours_on = lambda: utcnow() + timedelta(hours=2)  # noqa: E731
        async with serving(create_app(later, clock=two_hours_on), port=later.port) as url:
            await wait_ready(url)
            [expired] = await eventually(
                lambda: about(kafka, demand_id, MatchType.EXPIRED), timeout=60, what="expiry"
            )

        assert expired["data"]["next_step"] == "closed"
