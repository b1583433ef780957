"""From HTTP POST to the .eml files: offers and demands in Isola become matches and e-mails,
through the real broker, database and SMTP sink."""

from typing import Any

import pytest

from concilia.contract import topics
from tests.conftest import bearer
from tests.e2e.conftest import RunningStack
from tests.support.factories import a_demand, an_offer, slot
from tests.support.http import created, fetched
from tests.support.kafka import read_all
from tests.support.mailbox import mails_to
from tests.support.places import (
    NAVIGLI,
    PIAZZALE_ARCHINTO,
    VIA_BORSIERI,
    VIA_CARMAGNOLA,
    VIA_CONFALONIERI,
    VIA_THAON_DI_REVEL,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
PROVIDER = bearer("coop-isola", "provider")
REQUESTER = bearer("comune-milano-hr", "requester")
OPERATOR = bearer("ats-milano", "operator")


async def settled_demand(stack: RunningStack, demand_id: str) -> dict[str, Any]:
    """The demand once the matcher has decided (matched, or waiting with a reason)."""

    async def decided() -> dict[str, Any] | None:
        demand = await fetched(stack.urls["demands"], f"/v1/demands/{demand_id}", REQUESTER)
        return demand if demand["status"] == "matched" or demand.get("waiting_reason") else None

    result: dict[str, Any] = await eventually(decided, timeout=60, what=f"demand {demand_id}")
    return result


class TestAFeasibleDemand:
    async def test_is_matched_to_the_nearest_offer_and_both_parties_get_one_email(
        self, stack: RunningStack
    ) -> None:
        """A family in Via Borsieri gets the closer after-school offer; one mail each side."""
        near = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                near=PIAZZALE_ARCHINTO, title="Doposcuola Archinto", email="archinto@example.org"
            ),
            PROVIDER,
        )
        farther = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(near=VIA_THAON_DI_REVEL, title="Doposcuola Revel", email="revel@example.org"),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(near=VIA_BORSIERI, email="giulia@example.org", name="Giulia Rossi"),
            REQUESTER,
        )

        decided = await settled_demand(stack, demand["id"])

        assert decided["status"] == "matched"
        assert decided["match"]["offer_id"] == near["id"], (near["id"], farther["id"])
        assert decided["match"]["reasons"]["distance_km"] < 0.5
        requester_mails = await eventually(
            lambda: mails_to(stack.mail_dir, "giulia@example.org"), timeout=60, what="mail"
        )
        provider_mails = await eventually(
            lambda: mails_to(stack.mail_dir, "archinto@example.org"), timeout=60, what="mail"
        )
        assert len(requester_mails) == 1
        assert len(provider_mails) == 1
        assert "Doposcuola Archinto" in requester_mails[0].get_body(("plain",)).get_content()
        provider_text = provider_mails[0].get_body(("plain",)).get_content()
        assert "giulia@example.org" not in provider_text
        assert mails_to(stack.mail_dir, "revel@example.org") == []
        offer = await fetched(stack.urls["offers"], f"/v1/offers/{near['id']}", PROVIDER)
        assert offer["remaining_capacity"] == offer["capacity"] - 1


class TestAnInfeasibleDemand:
    async def test_is_refused_with_the_reason_that_ruled_out_most_offers(
        self, stack: RunningStack
    ) -> None:
        """A demand from the Navigli for a service offered only in Isola waits as too_far."""
        await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(service_type="physiotherapy", near=VIA_CARMAGNOLA, min_age=None, max_age=None),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="physiotherapy", near=NAVIGLI, beneficiary_age=40),
            REQUESTER,
        )

        decided = await settled_demand(stack, demand["id"])

        assert decided["status"] == "open"
        assert decided["waiting_reason"] == "too_far"

    async def test_with_no_offer_of_its_kind_is_refused_as_no_provider(
        self, stack: RunningStack
    ) -> None:
        """Nobody offers legal and tax advice yet: the demand waits as no_provider."""
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="legal_tax_advice", beneficiary_age=None),
            REQUESTER,
        )
        decided = await settled_demand(stack, demand["id"])
        assert decided["waiting_reason"] == "no_provider"


class TestCapacity:
    async def test_an_offer_is_never_overbooked_and_the_overflow_waits_as_full(
        self, stack: RunningStack
    ) -> None:
        """Two seats, three families: two matched, the third waits with reason full."""
        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(service_type="babysitting", near=VIA_CONFALONIERI, capacity=2),
            PROVIDER,
        )
        demands = [
            await created(
                stack.urls["demands"],
                "/v1/demands",
                a_demand(service_type="babysitting", email=f"family{i}@example.org"),
                REQUESTER,
            )
            for i in range(3)
        ]

        decided = [await settled_demand(stack, d["id"]) for d in demands]

        assert [d["status"] for d in decided].count("matched") == 2
        waiting = [d for d in decided if d["status"] == "open"]
        assert len(waiting) == 1
        assert waiting[0]["waiting_reason"] == "full"
        final = await eventually(
            lambda: _offer_with_capacity(stack, offer["id"], 0), timeout=30, what="offer full"
        )
        assert final["status"] == "full"


async def _offer_with_capacity(
    stack: RunningStack, offer_id: str, remaining: int
) -> dict[str, Any] | None:
    offer: dict[str, Any] = await fetched(stack.urls["offers"], f"/v1/offers/{offer_id}", PROVIDER)
    return offer if offer["remaining_capacity"] == remaining else None


class TestWaitingDemands:
    async def test_are_served_oldest_first_when_a_new_offer_arrives(
        self, stack: RunningStack
    ) -> None:
        """Two demands wait for a coworking desk; a one-seat offer goes to the older one."""
        first = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="coworking", beneficiary_age=None, email="first@example.org"),
            REQUESTER,
        )
        await settled_demand(stack, first["id"])
        second = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="coworking", beneficiary_age=None, email="second@example.org"),
            REQUESTER,
        )
        await settled_demand(stack, second["id"])

        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                service_type="coworking",
                capacity=1,
                min_age=None,
                max_age=None,
                availability=[
                    slot(d, "08:00", "20:00") for d in ("mon", "tue", "wed", "thu", "fri")
                ],
            ),
            PROVIDER,
        )

        served = await eventually(
            lambda: _matched(stack, first["id"]), timeout=60, what="oldest demand matched"
        )
        assert served["match"]["offer_id"] == offer["id"]
        still = await fetched(stack.urls["demands"], f"/v1/demands/{second['id']}", REQUESTER)
        assert still["status"] == "open"


async def _matched(stack: RunningStack, demand_id: str) -> dict[str, Any] | None:
    demand: dict[str, Any] = await fetched(
        stack.urls["demands"], f"/v1/demands/{demand_id}", REQUESTER
    )
    return demand if demand["status"] == "matched" else None


class TestPersonalData:
    async def test_no_public_topic_carries_a_name_an_email_or_a_street(
        self, stack: RunningStack
    ) -> None:
        """Names, e-mail addresses and home addresses appear only on welfare.contacts.v1."""
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(
                service_type="nutrition",
                near=VIA_BORSIERI,
                name="Zelinda Quartararo",
                email="zelinda.q@example.org",
                beneficiary_age=None,
            ),
            REQUESTER,
        )
        await settled_demand(stack, demand["id"])

        public = await read_all(stack.bootstrap, *topics.PUBLIC)
        contacts = await read_all(stack.bootstrap, topics.CONTACTS)

        assert public, "public topics should carry events"
        for message in public:
            raw = (message.value or b"").decode()
            assert "Zelinda" not in raw
            assert "zelinda.q@example.org" not in raw
            assert "Borsieri" not in raw
            assert "@example.org" not in raw
        assert any(b"zelinda.q@example.org" in (m.value or b"") for m in contacts)
