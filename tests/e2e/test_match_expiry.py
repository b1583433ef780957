"""A proposal nobody answers in time (README: match lifecycle), with an answer window of seconds."""

import httpx
import pytest

from concilia.contract import topics
from tests.e2e.conftest import RunningStack
from tests.e2e.test_match_lifecycle import (
    PROVIDER,
    REQUESTER,
    demand_when,
    match_state,
    press,
    the_only_link,
)
from tests.support.factories import a_demand, an_offer
from tests.support.http import created, fetched
from tests.support.kafka import events_of
from tests.support.places import VIA_CONFALONIERI
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ANSWER_TTL_SECONDS = 10


async def seat_freed(stack: RunningStack, offer_id: str) -> None:
    """Wait until the offers service has released the expired proposal's seat."""

    async def free() -> bool:
        offer = await fetched(stack.urls["offers"], f"/v1/offers/{offer_id}", PROVIDER)
        return bool(offer["remaining_capacity"] == offer["capacity"])

    await eventually(free, timeout=30, what=f"the seat of {offer_id} freed")


class TestAProposalNobodyAnswers:
    async def test_expires_closes_the_demand_frees_the_seat_and_its_links_answer_410(
        self, stack: RunningStack
    ) -> None:
        """Without the family's answer the demand closes as expired, the seat comes back,
        both are told, and the link says it has expired."""
        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                service_type="nutrition",
                near=VIA_CONFALONIERI,
                email="dieta@example.org",
                min_age=None,
                max_age=None,
            ),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(
                service_type="nutrition",
                email="elena@example.org",
                name="Elena Costa",
                beneficiary_age=40,
            ),
            REQUESTER,
        )
        await demand_when(stack, demand["id"], "a proposal", lambda d: match_state(d))
        link = await the_only_link(stack, "elena@example.org")

        closed = await demand_when(
            stack, demand["id"], "the expiry", lambda d: d["status"] == "expired", timeout=60
        )

        assert closed["match"] is None
        await seat_freed(stack, offer["id"])
        answered = await press(link, "accept")
        assert answered.status_code == 410
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(link)).status_code == 410


class TestAProposalTheFamilyAcceptedButTheProviderIgnored:
    async def test_expires_and_the_family_is_matched_again_elsewhere_or_waits(
        self, stack: RunningStack
    ) -> None:
        """The family said yes in time, the provider never answered: the proposal expires and
        the family's request stays open for another offer (never that one again)."""
        silent = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                service_type="mobility",
                near=VIA_CONFALONIERI,
                email="silent@example.org",
                min_age=None,
                max_age=None,
            ),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(
                service_type="mobility",
                email="paolo@example.org",
                name="Paolo Ferri",
                beneficiary_age=None,
            ),
            REQUESTER,
        )
        await demand_when(stack, demand["id"], "a proposal", lambda d: match_state(d))
        link = await the_only_link(stack, "paolo@example.org")
        assert (await press(link, "accept")).status_code == 200

        reopened = await demand_when(
            stack, demand["id"], "open again", lambda d: d["status"] == "open", timeout=60
        )

        assert reopened["match"] is None
        await seat_freed(stack, silent["id"])
        about = [
            e
            for e in await events_of(stack.bootstrap, topics.MATCHES)
            if e["subject"] == demand["id"]
        ]
        [expired] = [e for e in about if e["type"] == "match.expired"]
        assert expired["data"]["requester_answer"] == "accepted"
        assert expired["data"]["next_step"] == "rematch"
        assert [e["type"] for e in about].count("match.proposed") == 1  # never that offer again
