"""Answers to proposals and the match lifecycle on the offers and demands services, both
running in-process against the real embedded Kafka and MongoDB (README: match lifecycle): the answer
routes (200/409, one event each), the provider's match list with the requester's contact
from the demands API, the one-click link pages, and what match.* events change."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import Party
from concilia.embedded.processes import free_port
from concilia.platform.answer_links import LinkSigner
from services.demands.app import create_app as demands_app
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as offers_app
from services.offers.settings import Settings as OffersSettings
from tests.conftest import bearer
from tests.support.factories import a_demand, a_match_event, an_offer
from tests.support.kafka import events_of, produce
from tests.support.services import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@dataclass
class Stack:
    offers: httpx.AsyncClient
    demands: httpx.AsyncClient
    kafka: str
    links: LinkSigner


@dataclass
class Proposal:
    match_id: str
    offer: dict[str, Any]
    demand: dict[str, Any]
    provider_org: str
    requester_org: str
    expires_at: datetime

    @property
    def offer_url(self) -> str:
        return f"/v1/offers/{self.offer['id']}"

    @property
    def demand_url(self) -> str:
        return f"/v1/demands/{self.demand['id']}"


@pytest.fixture(scope="module")
async def stack(kafka: str, mongodb: str, jwt_secret: str) -> AsyncIterator[Stack]:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka,
        "mongodb_url": mongodb,
        "auth_jwt_secret": jwt_secret,
        "outbox_poll_seconds": 0.2,
    }
    tag = uuid.uuid4().hex[:8]
    demands = DemandsSettings(**common, mongodb_database=f"t_d_{tag}", http_port=free_port())
    async with serving(demands_app(demands), demands.port) as demands_url:
        offers = OffersSettings(
            **common,
            mongodb_database=f"t_o_{tag}",
            http_port=free_port(),
            demands_api_url=demands_url,
        )
        async with (
            serving(offers_app(offers), offers.port) as offers_url,
            httpx.AsyncClient(base_url=offers_url, timeout=30) as offers_http,
            httpx.AsyncClient(base_url=demands_url, timeout=30) as demands_http,
        ):
            yield Stack(offers_http, demands_http, kafka, LinkSigner(jwt_secret))


def provider(org: str) -> dict[str, str]:
    return bearer(org, "provider")


def requester(org: str) -> dict[str, str]:
    return bearer(org, "requester")


async def match_event(stack: Stack, type_: str, proposal: Proposal, **data: Any) -> None:
    fields = a_match_event(
        proposal.match_id,
        offer_id=proposal.offer["id"],
        demand_id=proposal.demand["id"],
        seats=proposal.demand["seats"],
        proposed_at=proposal.expires_at - timedelta(hours=72),
        **data,
    )
    fields["expires_at"] = proposal.expires_at.isoformat()
    event = CloudEvent.new(
        type=type_,
        source="matcher",
        subject=proposal.demand["id"],
        id=f"{type_}-{proposal.match_id}",
        data=fields,
    )
    await produce(stack.kafka, topics.MATCHES, event.to_bytes(), "after_school")


async def proposed(
    stack: Stack,
    *,
    capacity: int = 5,
    seats: int = 1,
    expires_in: timedelta = timedelta(hours=72),
    language: str = "it",
) -> Proposal:
    """An offer and a demand, then a match.proposed between them, applied on both sides."""
    tag = uuid.uuid4().hex[:8]
    provider_org, requester_org = f"coop_{tag}", f"family_{tag}"
    offer = await stack.offers.post(
        "/v1/offers", json=an_offer(capacity=capacity), headers=provider(provider_org)
    )
    requester_contact = {
        "name": "Giulia Rossi",
        "email": "giulia@example.org",
        "language": language,
    }
    demand = await stack.demands.post(
        "/v1/demands",
        json=a_demand(seats=seats, requester=requester_contact),
        headers=requester(requester_org),
    )
    assert (offer.status_code, demand.status_code) == (201, 201), offer.text + demand.text
    proposal = Proposal(
        f"m_{tag}",
        offer.json(),
        demand.json(),
        provider_org,
        requester_org,
        datetime.now(UTC) + expires_in,
    )
    await match_event(stack, "match.proposed", proposal)
    await eventually(
        lambda: demand_where(stack, proposal, lambda d: d["status"] == "matched"),
        timeout=60,
        what="the demand matched",
    )
    await eventually(lambda: offer_matches(stack, proposal), timeout=60, what="the offer's match")
    return proposal


async def demand_of(stack: Stack, proposal: Proposal) -> dict[str, Any]:
    response = await stack.demands.get(
        proposal.demand_url, headers=requester(proposal.requester_org)
    )
    found: dict[str, Any] = response.json()
    return found


async def demand_where(stack: Stack, proposal: Proposal, test: Any) -> dict[str, Any] | None:
    found = await demand_of(stack, proposal)
    return found if test(found) else None


async def offer_of(stack: Stack, proposal: Proposal) -> dict[str, Any]:
    response = await stack.offers.get(proposal.offer_url, headers=provider(proposal.provider_org))
    found: dict[str, Any] = response.json()
    return found


async def offer_matches(stack: Stack, proposal: Proposal) -> list[dict[str, Any]]:
    response = await stack.offers.get(
        f"{proposal.offer_url}/matches", headers=provider(proposal.provider_org)
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def answers_on(stack: Stack, topic: str, type_: str, match_id: str) -> list[dict[str, Any]]:
    return [
        e for e in await events_of(stack.kafka, topic, type_) if e["data"]["match_id"] == match_id
    ]


async def exactly_one(stack: Stack, topic: str, type_: str, match_id: str, marker: Any) -> None:
    """One event for the match: wait for it, then for a later marker event from the same
    outbox (published in order), then count again."""
    await eventually(lambda: answers_on(stack, topic, type_, match_id), what=type_)
    await marker()
    assert len(await answers_on(stack, topic, type_, match_id)) == 1


class TestRequesterAnswers:
    async def test_an_answer_is_kept_repeatable_and_published_once(self, stack: Stack) -> None:
        """accept → 200, again → 200 unchanged, decline → 409; one demand.match_accepted."""
        proposal = await proposed(stack)
        headers = requester(proposal.requester_org)
        first = await stack.demands.post(f"{proposal.demand_url}/match/accept", headers=headers)
        again = await stack.demands.post(f"{proposal.demand_url}/match/accept", headers=headers)
        other = await stack.demands.post(f"{proposal.demand_url}/match/decline", headers=headers)
        assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409)
        assert first.json()["match"]["requester_answer"] == "accepted"
        assert again.json()["version"] == first.json()["version"]
        assert other.headers["content-type"] == "application/problem+json"
        assert (await demand_of(stack, proposal))["version"] == first.json()["version"]
        marker = await proposed(stack)

        async def marker_answer() -> None:
            await stack.demands.post(
                f"{marker.demand_url}/match/decline", headers=requester(marker.requester_org)
            )
            await eventually(
                lambda: answers_on(stack, topics.DEMANDS, "demand.match_declined", marker.match_id)
            )

        await exactly_one(
            stack, topics.DEMANDS, "demand.match_accepted", proposal.match_id, marker_answer
        )
        [published] = await answers_on(
            stack, topics.DEMANDS, "demand.match_accepted", proposal.match_id
        )
        assert published["subject"] == proposal.demand["id"]
        assert published["data"]["demand_id"] == proposal.demand["id"]

    async def test_an_answer_after_the_window_is_a_409_and_changes_nothing(
        self, stack: Stack
    ) -> None:
        """The proposal's expires_at has passed: 409, the demand unchanged."""
        proposal = await proposed(stack, expires_in=timedelta(seconds=-1))
        before = await demand_of(stack, proposal)
        response = await stack.demands.post(
            f"{proposal.demand_url}/match/accept", headers=requester(proposal.requester_org)
        )
        assert response.status_code == 409
        assert (await demand_of(stack, proposal))["version"] == before["version"]

    async def test_an_open_demand_has_nothing_to_answer(self, stack: Stack) -> None:
        """No current match: 409; another organisation's demand: 404."""
        response = await stack.demands.post(
            "/v1/demands", json=a_demand(), headers=requester("lonely")
        )
        url = f"/v1/demands/{response.json()['id']}/match/accept"
        assert (await stack.demands.post(url, headers=requester("lonely"))).status_code == 409
        assert (await stack.demands.post(url, headers=requester("stranger"))).status_code == 404


class TestProviderAnswers:
    async def test_an_answer_is_kept_repeatable_and_published_once(self, stack: Stack) -> None:
        """accept → 200 with the match, again → 200, decline → 409, unknown match → 409."""
        proposal = await proposed(stack)
        headers = provider(proposal.provider_org)
        url = f"{proposal.offer_url}/matches/{proposal.match_id}"
        first = await stack.offers.post(f"{url}/accept", headers=headers)
        again = await stack.offers.post(f"{url}/accept", headers=headers)
        other = await stack.offers.post(f"{url}/decline", headers=headers)
        unknown = await stack.offers.post(
            f"{proposal.offer_url}/matches/m_unknown/accept", headers=headers
        )
        stranger = await stack.offers.post(f"{url}/accept", headers=provider("stranger"))
        assert [r.status_code for r in (first, again, other, unknown, stranger)] == [
            200, 200, 409, 409, 404,
        ]  # fmt: skip
        assert first.json()["provider_answer"] == "accepted"
        assert first.json()["requester"] is None
        marker = await proposed(stack)

        async def marker_answer() -> None:
            await stack.offers.post(
                f"{marker.offer_url}/matches/{marker.match_id}/decline",
                headers=provider(marker.provider_org),
            )
            await eventually(
                lambda: answers_on(stack, topics.OFFERS, "offer.match_declined", marker.match_id)
            )

        await exactly_one(
            stack, topics.OFFERS, "offer.match_accepted", proposal.match_id, marker_answer
        )
        [published] = await answers_on(
            stack, topics.OFFERS, "offer.match_accepted", proposal.match_id
        )
        assert published["data"]["offer_id"] == proposal.offer["id"]

    async def test_the_requester_contact_shows_only_once_accepted(self, stack: Stack) -> None:
        """GET matches: no contact while proposed; after match.accepted the demands API's."""
        proposal = await proposed(stack)
        [listed] = await offer_matches(stack, proposal)
        assert (listed["state"], listed["requester"]) == ("proposed", None)
        await match_event(
            stack,
            "match.accepted",
            proposal,
            state="accepted",
            requester_answer="accepted",
            provider_answer="accepted",
        )

        async def accepted() -> list[dict[str, Any]] | None:
            found = await offer_matches(stack, proposal)
            return found if found[0]["state"] == "accepted" else None

        [shown] = await eventually(accepted, timeout=60, what="the accepted match")
        assert shown["requester"] == {
            "name": "Giulia Rossi",
            "email": "giulia@example.org",
            "language": "it",
        }

        async def demand_accepted() -> bool:  # the demands service has its own consumer
            demand = await demand_of(stack, proposal)
            return bool((demand["status"], demand["match"]["state"]) == ("matched", "accepted"))

        await eventually(demand_accepted, timeout=60, what="the demand's match accepted")

    async def test_capacity_below_accepted_seats_is_a_409(self, stack: Stack) -> None:
        """Two accepted seats: capacity 1 is refused, 2 is fine."""
        proposal = await proposed(stack, capacity=3, seats=2)
        await match_event(stack, "match.accepted", proposal, state="accepted")

        async def accepted() -> bool:
            return (await offer_matches(stack, proposal))[0]["state"] == "accepted"

        await eventually(accepted, timeout=60, what="the accepted match")
        headers = provider(proposal.provider_org)
        cut = await stack.offers.patch(proposal.offer_url, json={"capacity": 1}, headers=headers)
        assert cut.status_code == 409
        fine = await stack.offers.patch(proposal.offer_url, json={"capacity": 2}, headers=headers)
        assert (fine.status_code, fine.json()["status"]) == (200, "full")


class TestLifecycle:
    async def test_full_and_open_again_are_announced_with_the_remaining_seats(
        self, stack: Stack
    ) -> None:
        """One seat: the proposal makes it full (offer.updated), the decline opens it again,
        and the demand is open again for another match."""
        proposal = await proposed(stack, capacity=1)
        await match_event(
            stack,
            "match.declined",
            proposal,
            state="declined",
            declined_by="provider",
            next_step="rematch",
        )

        async def announced() -> list[dict[str, Any]] | None:
            found = [
                e
                for e in await events_of(stack.kafka, topics.OFFERS, "offer.updated")
                if e["subject"] == proposal.offer["id"]
            ]
            return found if len(found) >= 2 else None

        updates = await eventually(announced, timeout=60, what="full then open")
        assert [(e["data"]["status"], e["data"]["remaining_capacity"]) for e in updates] == [
            ("full", 0),
            ("open", 1),
        ]
        reopened = await eventually(
            lambda: demand_where(stack, proposal, lambda d: d["status"] == "open"),
            timeout=60,
            what="the demand open again",
        )
        assert reopened["match"] is None
        [ended] = await offer_matches(stack, proposal)
        assert ended["state"] == "declined"

    async def test_an_unanswered_expiry_closes_the_demand_as_expired(self, stack: Stack) -> None:
        """next_step closed: the demand is expired and demand.expired is published."""
        proposal = await proposed(stack)
        await match_event(stack, "match.expired", proposal, state="expired", next_step="closed")
        await eventually(
            lambda: demand_where(stack, proposal, lambda d: d["status"] == "expired"),
            timeout=60,
            what="the demand expired",
        )

        async def expired_event() -> list[dict[str, Any]]:
            found = await events_of(stack.kafka, topics.DEMANDS, "demand.expired")
            return [e for e in found if e["subject"] == proposal.demand["id"]]

        await eventually(expired_event, what="demand.expired")

    async def test_withdrawing_a_matched_demand_publishes_the_withdrawal(
        self, stack: Stack
    ) -> None:
        """A matched demand may be withdrawn; a later cancel leaves it withdrawn."""
        proposal = await proposed(stack)
        response = await stack.demands.delete(
            proposal.demand_url, headers=requester(proposal.requester_org)
        )
        assert response.json()["status"] == "withdrawn"
        await match_event(
            stack,
            "match.cancelled",
            proposal,
            state="cancelled",
            cause="demand_withdrawn",
            next_step="none",
        )
        cancelled = await eventually(
            lambda: demand_where(stack, proposal, lambda d: d["match"] is None),
            timeout=60,
            what="the match gone",
        )
        assert cancelled["status"] == "withdrawn"


class TestLinkPages:
    async def test_the_requester_page_shows_the_offer_and_changes_nothing(
        self, stack: Stack
    ) -> None:
        """GET: the offer in words in the requester's language, two buttons, no change."""
        proposal = await proposed(stack, language="en")
        token = stack.links.issue(
            proposal.match_id, Party.REQUESTER, proposal.demand["id"], proposal.expires_at
        )
        before = await demand_of(stack, proposal)
        page = await stack.demands.get(f"/r/{token}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        for words in ("Doposcuola in Isola", "After-school care", "Piazzale Archinto 9", "€120"):
            assert words in page.text
        assert "<script" not in page.text
        assert "coop-isola-ragazzi" not in page.text
        assert (await demand_of(stack, proposal))["version"] == before["version"]

    async def test_a_post_answers_once_and_a_replay_is_a_409(self, stack: Stack) -> None:
        """POST answer=accept: thanks, accepted, one event; again (even the same): 409."""
        proposal = await proposed(stack)
        token = stack.links.issue(
            proposal.match_id, Party.REQUESTER, proposal.demand["id"], proposal.expires_at
        )
        done = await stack.demands.post(f"/r/{token}", data={"answer": "accept"})
        assert done.status_code == 200
        assert "Grazie" in done.text
        assert (await demand_of(stack, proposal))["match"]["requester_answer"] == "accepted"
        replay = await stack.demands.post(f"/r/{token}", data={"answer": "accept"})
        assert replay.status_code == 409
        assert (await stack.demands.get(f"/r/{token}")).status_code == 409
        await eventually(
            lambda: answers_on(stack, topics.DEMANDS, "demand.match_accepted", proposal.match_id)
        )

    @pytest.mark.parametrize(
        "form",
        ["answer=maybe", "answer=accept&answer=decline", "answer=accept&a=1&b=2&c=3&d=4&e=5"],
    )
    async def test_a_form_that_is_not_one_answer_gets_a_400_page(
        self, stack: Stack, form: str
    ) -> None:
        """Not accept or decline, two answers, or more fields than a form of ours holds:
        the "not understood" page (400), and nothing changes."""
        proposal = await proposed(stack)
        token = stack.links.issue(
            proposal.match_id, Party.REQUESTER, proposal.demand["id"], proposal.expires_at
        )
        before = await demand_of(stack, proposal)
        posted = await stack.demands.post(
            f"/r/{token}",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert posted.status_code == 400
        assert "text/html" in posted.headers["content-type"]
        assert (await demand_of(stack, proposal))["version"] == before["version"]

    async def test_a_tampered_expired_or_misdirected_link_changes_nothing(
        self, stack: Stack
    ) -> None:
        """Tampered 400, expired 410, the provider's token on the demands service 400."""
        proposal = await proposed(stack)
        token = stack.links.issue(
            proposal.match_id, Party.REQUESTER, proposal.demand["id"], proposal.expires_at
        )
        expired = stack.links.issue(
            proposal.match_id,
            Party.REQUESTER,
            proposal.demand["id"],
            datetime.now(UTC) - timedelta(minutes=1),
        )
        providers = stack.links.issue(
            proposal.match_id, Party.PROVIDER, proposal.offer["id"], proposal.expires_at
        )
        tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
        before = await demand_of(stack, proposal)
        for link, status in ((tampered, 400), (expired, 410), (providers, 400)):
            assert (await stack.demands.get(f"/r/{link}")).status_code == status
            answered = await stack.demands.post(f"/r/{link}", data={"answer": "accept"})
            assert answered.status_code == status
        assert (await demand_of(stack, proposal))["version"] == before["version"]

    async def test_the_provider_page_shows_the_request_but_not_the_requester(
        self, stack: Stack
    ) -> None:
        """The provider's page: service, seats, hours, age, languages; no name, no org id;
        POST decline answers like the API (offer.match_declined)."""
        proposal = await proposed(stack)
        token = stack.links.issue(
            proposal.match_id, Party.PROVIDER, proposal.offer["id"], proposal.expires_at
        )
        page = await stack.offers.get(f"/r/{token}")
        assert page.status_code == 200
        for words in ("Doposcuola", "lunedì 16:30–18:30", "8 anni", "italiano"):
            assert words in page.text
        for hidden in ("Giulia", "genitori-isola", proposal.requester_org):
            assert hidden not in page.text
        done = await stack.offers.post(f"/r/{token}", data={"answer": "decline"})
        assert (done.status_code, "Grazie" in done.text) == (200, True)
        [entry] = await offer_matches(stack, proposal)
        assert entry["provider_answer"] == "declined"
        await eventually(
            lambda: answers_on(stack, topics.OFFERS, "offer.match_declined", proposal.match_id)
        )
        assert (
            await stack.offers.post(f"/r/{token}", data={"answer": "decline"})
        ).status_code == 409
