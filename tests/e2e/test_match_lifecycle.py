"""The match lifecycle end to end (README, lifecycle), as families and providers live it: only by
the links in their e-mails, on the four services with the real broker, database and SMTP
sink. The answer window here is long enough to click; test_match_expiry.py makes it short."""

from typing import Any

import httpx
import pytest

from concilia.contract import topics
from tests.conftest import bearer
from tests.e2e.conftest import RunningStack
from tests.support.factories import a_demand, an_offer
from tests.support.http import created, fetched
from tests.support.kafka import events_of
from tests.support.mailbox import links_in, mails_to, text_of
from tests.support.places import (
    PIAZZA_GAE_AULENTI,
    PIAZZALE_ARCHINTO,
    VIA_BORSIERI,
    VIA_CONFALONIERI,
    VIA_THAON_DI_REVEL,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ANSWER_TTL_SECONDS = 600
PROVIDER = bearer("coop-isola-ragazzi", "provider")
OTHER_PROVIDER = bearer("sport-isola", "provider")
REQUESTER = bearer("genitori-isola", "requester")


async def demand_now(stack: RunningStack, demand_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await fetched(
        stack.urls["demands"], f"/v1/demands/{demand_id}", REQUESTER
    )
    return found


async def demand_when(
    stack: RunningStack, demand_id: str, what: str, check: Any, timeout: float = 60
) -> dict[str, Any]:
    """The demand once `check(demand)` holds."""

    async def probe() -> dict[str, Any] | None:
        demand = await demand_now(stack, demand_id)
        return demand if check(demand) else None

    result: dict[str, Any] = await eventually(probe, timeout=timeout, what=what)
    return result


async def offer_with_seats(stack: RunningStack, offer_id: str, remaining: int) -> None:
    """Wait until the offers service shows `remaining` free seats (it learns of a match's
    end on its own consumer, after the demands service may have)."""

    async def probe() -> bool:
        offer = await fetched(stack.urls["offers"], f"/v1/offers/{offer_id}", PROVIDER)
        return bool(offer["remaining_capacity"] == remaining)

    await eventually(probe, timeout=30, what=f"{remaining} free seats on {offer_id}")


def match_state(demand: dict[str, Any]) -> str | None:
    return (demand.get("match") or {}).get("state")


async def the_only_link(stack: RunningStack, address: str, subject_part: str = "") -> str:
    """The one answer link in the newest proposal e-mail to `address`."""

    def proposal() -> list[str] | None:
        for message in reversed(mails_to(stack.mail_dir, address)):
            links = links_in(message)
            if links and subject_part in str(message["Subject"]):
                return links
        return None

    links = await eventually(proposal, timeout=60, what=f"a proposal e-mail to {address}")
    assert len(links) == 1, links
    return links[0]


async def press(link: str, answer: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(link, data={"answer": answer})


async def open_page(link: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(link)


class TestBothPartiesAcceptByTheirLinks:
    async def test_the_contacts_are_exchanged_only_once_both_have_accepted(
        self, stack: RunningStack
    ) -> None:
        """Giulia and the Archinto after-school both click accept: the match is accepted
        and only then does each side learn the other's name and e-mail."""
        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                near=PIAZZALE_ARCHINTO, title="Doposcuola Archinto", email="archinto@example.org"
            ),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(near=VIA_BORSIERI, email="giulia@example.org", name="Giulia Rossi"),
            REQUESTER,
        )
        await demand_when(stack, demand["id"], "a proposal", lambda d: match_state(d) == "proposed")
        family_link = await the_only_link(stack, "giulia@example.org")
        provider_link = await the_only_link(stack, "archinto@example.org")
        assert family_link.startswith(stack.urls["demands"] + "/r/")
        assert provider_link.startswith(stack.urls["offers"] + "/r/")
        [family_mail] = mails_to(stack.mail_dir, "giulia@example.org")
        [provider_mail] = mails_to(stack.mail_dir, "archinto@example.org")
        assert provider_link not in text_of(family_mail)
        assert family_link not in text_of(provider_mail)
        assert "archinto@example.org" not in text_of(family_mail)
        assert "Giulia" not in text_of(provider_mail)
        assert "giulia@example.org" not in text_of(provider_mail)

        before = await demand_now(stack, demand["id"])
        page = await open_page(family_link)
        assert page.status_code == 200
        assert "Doposcuola Archinto" in page.text
        assert await demand_now(stack, demand["id"]) == before  # a GET changes nothing

        assert (await press(family_link, "accept")).status_code == 200
        assert (await press(family_link, "accept")).status_code == 409  # single use
        matches = await fetched(stack.urls["offers"], f"/v1/offers/{offer['id']}/matches", PROVIDER)
        assert [m["requester"] for m in matches] == [None]
        assert (await press(provider_link, "accept")).status_code == 200

        accepted = await demand_when(
            stack, demand["id"], "the match accepted", lambda d: match_state(d) == "accepted"
        )
        assert accepted["status"] == "matched"

        async def contact_revealed() -> list[dict[str, Any]] | None:
            found = await fetched(
                stack.urls["offers"], f"/v1/offers/{offer['id']}/matches", PROVIDER
            )
            return found if found[0]["state"] == "accepted" and found[0]["requester"] else None

        [match] = await eventually(contact_revealed, timeout=30, what="the requester contact")
        assert match["requester"]["name"] == "Giulia Rossi"
        assert match["requester"]["email"] == "giulia@example.org"

        def both_told() -> bool:
            return len(mails_to(stack.mail_dir, "giulia@example.org")) == 2 and (
                len(mails_to(stack.mail_dir, "archinto@example.org")) == 2
            )

        await eventually(both_told, timeout=60, what="the acceptance e-mails")
        assert "archinto@example.org" in text_of(mails_to(stack.mail_dir, "giulia@example.org")[1])
        provider_news = text_of(mails_to(stack.mail_dir, "archinto@example.org")[1])
        assert "Giulia Rossi" in provider_news
        assert "giulia@example.org" in provider_news


class TestAProviderWhoDeclines:
    async def test_sends_the_family_to_its_next_best_offer_and_never_back(
        self, stack: RunningStack
    ) -> None:
        """The nearer babysitter declines by its link: the family is proposed the farther
        one, and the nearer one is never proposed to it again."""
        near = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                service_type="babysitting",
                near=VIA_CONFALONIERI,
                title="Tata vicina",
                email="vicina@example.org",
            ),
            PROVIDER,
        )
        far = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(
                service_type="babysitting",
                near=PIAZZA_GAE_AULENTI,
                title="Tata di Porta Nuova",
                email="portanuova@example.org",
            ),
            OTHER_PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(
                service_type="babysitting",
                near=VIA_THAON_DI_REVEL,
                email="marco@example.org",
                name="Marco Bianchi",
            ),
            REQUESTER,
        )
        first = await demand_when(stack, demand["id"], "a proposal", lambda d: match_state(d))
        assert first["match"]["offer_id"] == near["id"]
        provider_link = await the_only_link(stack, "vicina@example.org")

        assert (await press(provider_link, "decline")).status_code == 200

        second = await demand_when(
            stack,
            demand["id"],
            "a new proposal",
            lambda d: (d.get("match") or {}).get("offer_id") == far["id"],
        )
        assert second["status"] == "matched"
        assert match_state(second) == "proposed"
        await offer_with_seats(stack, near["id"], 5)  # the declined seat is free again
        events = await events_of(stack.bootstrap, topics.MATCHES)
        about = [e for e in events if e["subject"] == demand["id"]]
        declined = [e for e in about if e["type"] == "match.declined"]
        assert [e["data"]["declined_by"] for e in declined] == ["provider"]
        proposed_offers = [e["data"]["offer_id"] for e in about if e["type"] == "match.proposed"]
        assert proposed_offers == [near["id"], far["id"]]


class TestLinksThatAreNotRight:
    async def test_a_tampered_link_gets_a_clear_page_and_changes_nothing(
        self, stack: RunningStack
    ) -> None:
        """One changed character in the token: 400 on GET and POST, the match untouched."""
        await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(service_type="culture", near=VIA_CONFALONIERI, email="museo@example.org"),
            PROVIDER,
        )
        demand = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="culture", email="sara@example.org", name="Sara Verdi"),
            REQUESTER,
        )
        await demand_when(stack, demand["id"], "a proposal", lambda d: match_state(d))
        link = await the_only_link(stack, "sara@example.org")
        tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        before = await demand_now(stack, demand["id"])

        assert (await open_page(tampered)).status_code == 400
        refused = await press(tampered, "accept")

        assert refused.status_code == 400
        assert "text/html" in refused.headers["content-type"]
        assert await demand_now(stack, demand["id"]) == before


class TestSeatsComeBack:
    async def test_a_withdrawn_demand_frees_its_seat_for_the_family_waiting_as_full(
        self, stack: RunningStack
    ) -> None:
        """One seat, two families: the first withdraws, the second gets the seat."""
        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(service_type="sport", near=VIA_CONFALONIERI, capacity=1),
            PROVIDER,
        )
        first = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="sport", email="anna@example.org", name="Anna Neri"),
            REQUESTER,
        )
        await demand_when(stack, first["id"], "a proposal", lambda d: match_state(d))
        second = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="sport", email="luca@example.org", name="Luca Gallo"),
            REQUESTER,
        )
        await demand_when(
            stack, second["id"], "waiting as full", lambda d: d["waiting_reason"] == "full"
        )

        async with httpx.AsyncClient(base_url=stack.urls["demands"], timeout=10) as client:
            response = await client.delete(f"/v1/demands/{first['id']}", headers=REQUESTER)
        assert response.status_code == 200, response.text

        served = await demand_when(stack, second["id"], "the freed seat", lambda d: match_state(d))
        assert served["match"]["offer_id"] == offer["id"]
        await offer_with_seats(stack, offer["id"], 0)  # held again, by the second family

    async def test_a_capacity_cut_cancels_the_newest_proposal_and_keeps_the_older(
        self, stack: RunningStack
    ) -> None:
        """Two proposals on two seats; the provider cuts to one seat: the newer is cancelled
        and its family waits again, the older keeps its seat."""
        offer = await created(
            stack.urls["offers"],
            "/v1/offers",
            an_offer(service_type="courses", near=VIA_CONFALONIERI, capacity=2),
            PROVIDER,
        )
        older = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="courses", email="older@example.org"),
            REQUESTER,
        )
        await demand_when(stack, older["id"], "a proposal", lambda d: match_state(d))
        newer = await created(
            stack.urls["demands"],
            "/v1/demands",
            a_demand(service_type="courses", email="newer@example.org"),
            REQUESTER,
        )
        await demand_when(stack, newer["id"], "a proposal", lambda d: match_state(d))

        async with httpx.AsyncClient(base_url=stack.urls["offers"], timeout=10) as client:
            response = await client.patch(
                f"/v1/offers/{offer['id']}", json={"capacity": 1}, headers=PROVIDER
            )
        assert response.status_code == 200, response.text

        cancelled = await demand_when(
            stack, newer["id"], "waiting again", lambda d: d["status"] == "open"
        )
        assert cancelled["match"] is None
        kept = await demand_now(stack, older["id"])
        assert match_state(kept) == "proposed"
        assert kept["match"]["offer_id"] == offer["id"]
