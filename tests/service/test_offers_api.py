"""The offers API against the real embedded MongoDB and Kafka: auth, isolation, validation,
idempotency, pagination, PATCH/DELETE, privacy of events, expiry. What the demands service
shares with it (outbox, start without Kafka, readiness) is in test_record_services.py."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from services.offers.app import create_app
from services.offers.expiry import expire_offers
from services.offers.settings import Settings
from tests.conftest import bearer
from tests.support.factories import an_offer
from tests.support.kafka import events_of, produce, read_all, wait_for_events
from tests.support.services import in_process_settings, serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@dataclass
class Api:
    http: httpx.AsyncClient
    settings: Settings
    store: Any


@pytest.fixture(scope="module")
async def api(kafka: str, mongodb: str, jwt_secret: str) -> AsyncIterator[Api]:
    settings = in_process_settings(
        Settings, kafka, mongodb, jwt_secret, f"t_offers_{uuid.uuid4().hex[:8]}"
    )
    app = create_app(settings)
    async with (
        serving(app, settings.port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Api(http, settings, app.state.store)


@pytest.fixture
def org() -> str:
    return f"org_{uuid.uuid4().hex[:8]}"


def provider(org: str) -> dict[str, str]:
    return bearer(org, "provider")


async def publish(api: Api, org: str, **overrides: Any) -> dict[str, Any]:
    response = await api.http.post("/v1/offers", json=an_offer(**overrides), headers=provider(org))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def offer_events(kafka: str, offer_id: str, type_: str | None = None) -> list[dict[str, Any]]:
    return [e for e in await events_of(kafka, topics.OFFERS, type_) if e["subject"] == offer_id]


def proposed(match_id: str, offer_id: str, seats: int, service_type: str = "after_school") -> bytes:
    return CloudEvent.new(
        type="match.proposed",
        source="matcher",
        subject=match_id,
        id=f"evt-{match_id}",
        data={
            "match_id": match_id,
            "offer_id": offer_id,
            "demand_id": f"dem_{match_id}",
            "service_type": service_type,
            "score": 0.9,
            "reasons": {"distance_km": 0.4},
            "seats": seats,
            "requester_ref": "req_0000",
        },
    ).to_bytes()


class TestAuthentication:
    async def test_a_request_without_a_token_is_a_401_problem(self, api: Api) -> None:
        """No bearer token: 401 as application/problem+json."""
        response = await api.http.get("/v1/offers")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_a_token_signed_with_another_secret_is_a_401(self, api: Api) -> None:
        """A forged token is refused."""
        headers = bearer("acme", "provider", secret="x" * 32)
        assert (await api.http.get("/v1/offers", headers=headers)).status_code == 401

    async def test_a_requester_may_not_read_offers_here(self, api: Api) -> None:
        """The offers API is for providers (and operators): other roles get 403."""
        response = await api.http.get("/v1/offers", headers=bearer("acme", "requester"))
        assert response.status_code == 403

    async def test_an_operator_may_read_but_not_publish(self, api: Api) -> None:
        """Operators read everything and write nothing."""
        headers = bearer("ops", "operator")
        assert (await api.http.get("/v1/offers", headers=headers)).status_code == 200
        response = await api.http.post("/v1/offers", json=an_offer(), headers=headers)
        assert response.status_code == 403


class TestOrganisationIsolation:
    async def test_another_organisations_offer_is_not_found(self, api: Api, org: str) -> None:
        """GET, PATCH and DELETE of another organisation's offer answer 404 and change nothing."""
        offer = await publish(api, org)
        stranger = provider(f"{org}_other")
        url = f"/v1/offers/{offer['id']}"
        assert (await api.http.get(url, headers=stranger)).status_code == 404
        patch = await api.http.patch(url, json={"title": "Hijacked"}, headers=stranger)
        assert patch.status_code == 404
        assert (await api.http.delete(url, headers=stranger)).status_code == 404
        mine = (await api.http.get(url, headers=provider(org))).json()
        assert (mine["title"], mine["status"], mine["version"]) == (offer["title"], "open", 1)

    async def test_a_list_shows_own_offers_and_an_operator_sees_all(
        self, api: Api, org: str
    ) -> None:
        """Each organisation lists only its offers; an operator lists both."""
        other = f"{org}_b"
        first, second = await publish(api, org), await publish(api, other)
        listed = (await api.http.get("/v1/offers", headers=provider(org))).json()
        assert [o["id"] for o in listed["items"]] == [first["id"]]
        operator = bearer("ops", "operator")
        ids: set[str] = set()
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = (await api.http.get("/v1/offers", params=params, headers=operator)).json()
            ids |= {o["id"] for o in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert {first["id"], second["id"]} <= ids
        one = await api.http.get(f"/v1/offers/{second['id']}", headers=bearer("ops", "operator"))
        assert one.status_code == 200


INVALID = [
    ("coordinates out of range", {"location": {"address": "Via X 1", "lat": 95, "lon": 9.1}},
     "location.lat"),
    ("slot ending before it starts", {"availability": [{"day": "mon", "start": "18:00",
                                                        "end": "09:00"}]}, "availability.0"),
    ("unknown service type", {"service_type": "astrology"}, "service_type"),
    ("capacity zero", {"capacity": 0}, "capacity"),
    ("malformed e-mail", {"contact": {"name": "Coop", "email": "not-an-email"}}, "contact.email"),
    ("unknown field", {"colour": "blue"}, "colour"),
]  # fmt: skip


class TestValidation:
    @pytest.mark.parametrize(("case", "overrides", "field"), INVALID, ids=[c[0] for c in INVALID])
    async def test_an_invalid_offer_is_a_422_naming_the_field_and_nothing_is_kept(
        self, api: Api, org: str, case: str, overrides: dict[str, Any], field: str
    ) -> None:
        """Each bad field comes back in errors[].field; no record, no event."""
        response = await api.http.post(
            "/v1/offers", json=an_offer(**overrides), headers=provider(org)
        )
        assert response.status_code == 422, case
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}
        listed = (await api.http.get("/v1/offers", headers=provider(org))).json()
        assert listed["items"] == []
        published = await events_of(api.settings.kafka_bootstrap_servers, topics.OFFERS)
        assert all(e["data"]["organization_id"] != org for e in published)

    async def test_a_patch_of_service_type_is_a_422_naming_it(self, api: Api, org: str) -> None:
        """service_type cannot change after publication."""
        offer = await publish(api, org)
        response = await api.http.patch(
            f"/v1/offers/{offer['id']}", json={"service_type": "sport"}, headers=provider(org)
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["service_type"]

    async def test_a_patch_breaking_a_cross_field_rule_is_a_422(self, api: Api, org: str) -> None:
        """The merged offer is validated again: valid_until before valid_from is refused,
        and the problem names valid_until."""
        offer = await publish(api, org)
        too_early = (date.fromisoformat(offer["valid_from"]) - timedelta(days=1)).isoformat()
        response = await api.http.patch(
            f"/v1/offers/{offer['id']}", json={"valid_until": too_early}, headers=provider(org)
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["valid_until"]
        current = (await api.http.get(f"/v1/offers/{offer['id']}", headers=provider(org))).json()
        assert current["version"] == 1

    @pytest.mark.parametrize("limit", [0, 101])
    async def test_a_limit_outside_1_to_100_is_a_422(self, api: Api, org: str, limit: int) -> None:
        """Pages hold 1 to 100 records."""
        response = await api.http.get("/v1/offers", params={"limit": limit}, headers=provider(org))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "limit"

    async def test_a_forged_cursor_is_a_422_naming_cursor(self, api: Api, org: str) -> None:
        """Cursors are opaque: one the API did not issue is refused."""
        response = await api.http.get(
            "/v1/offers", params={"cursor": "not-a-cursor"}, headers=provider(org)
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "cursor"


class TestIdempotency:
    async def test_a_repeated_key_and_body_replay_the_first_offer_with_one_event(
        self, api: Api, org: str
    ) -> None:
        """Same Idempotency-Key and body: the same record, Idempotent-Replayed, one event."""
        headers = {**provider(org), "Idempotency-Key": "k-1"}
        first = await api.http.post("/v1/offers", json=an_offer(), headers=headers)
        again = await api.http.post("/v1/offers", json=an_offer(), headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        offer_id = first.json()["id"]
        kafka = api.settings.kafka_bootstrap_servers
        await wait_for_events(kafka, topics.OFFERS, "offer.published", 1)
        await eventually(lambda: offer_events(kafka, offer_id), what="the published event")
        assert len(await offer_events(kafka, offer_id)) == 1

    async def test_a_repeated_key_with_another_body_is_a_422(self, api: Api, org: str) -> None:
        """Reusing a key for a different offer is refused and creates nothing."""
        headers = {**provider(org), "Idempotency-Key": "k-2"}
        await api.http.post("/v1/offers", json=an_offer(), headers=headers)
        response = await api.http.post("/v1/offers", json=an_offer(capacity=9), headers=headers)
        assert response.status_code == 422
        listed = (await api.http.get("/v1/offers", headers=provider(org))).json()
        assert len(listed["items"]) == 1

    async def test_concurrent_requests_with_one_key_create_one_offer(
        self, api: Api, org: str
    ) -> None:
        """Eight simultaneous POSTs with one key and body: one offer, seven replays of it."""
        headers = {**provider(org), "Idempotency-Key": "k-together"}
        answers = await asyncio.gather(
            *(api.http.post("/v1/offers", json=an_offer(), headers=headers) for _ in range(8))
        )
        assert [a.status_code for a in answers] == [201] * 8
        assert len({a.json()["id"] for a in answers}) == 1
        replayed = [a.headers.get("Idempotent-Replayed") == "true" for a in answers]
        assert replayed.count(False) == 1
        listed = (await api.http.get("/v1/offers", headers=provider(org))).json()
        assert len(listed["items"]) == 1

    async def test_keys_are_scoped_per_organisation(self, api: Api, org: str) -> None:
        """Two organisations using the same key get two offers."""
        first = await api.http.post(
            "/v1/offers", json=an_offer(), headers={**provider(org), "Idempotency-Key": "k-3"}
        )
        second = await api.http.post(
            "/v1/offers",
            json=an_offer(),
            headers={**provider(f"{org}_b"), "Idempotency-Key": "k-3"},
        )
        assert first.json()["id"] != second.json()["id"]


class TestPagination:
    async def test_pages_cover_every_offer_once_in_creation_order(self, api: Api, org: str) -> None:
        """limit=2 over five offers: pages of 2, 2, 1, no duplicates or gaps, then null."""
        created = [(await publish(api, org, title=f"Corso {i}"))["id"] for i in range(5)]
        seen: list[str] = []
        sizes: list[int] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await api.http.get("/v1/offers", params=params, headers=provider(org))).json()
            seen += [o["id"] for o in page["items"]]
            sizes.append(len(page["items"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == created
        assert sizes == [2, 2, 1]

    async def test_filters_narrow_the_list(self, api: Api, org: str) -> None:
        """service_type and status filter the offers."""
        sport = await publish(api, org, service_type="sport")
        await publish(api, org, service_type="culture")
        headers = provider(org)
        listed = await api.http.get("/v1/offers", params={"service_type": "sport"}, headers=headers)
        assert [o["id"] for o in listed.json()["items"]] == [sport["id"]]
        await api.http.delete(f"/v1/offers/{sport['id']}", headers=headers)
        withdrawn = await api.http.get(
            "/v1/offers", params={"status": "withdrawn"}, headers=headers
        )
        assert [o["id"] for o in withdrawn.json()["items"]] == [sport["id"]]


class TestChanges:
    async def test_a_patch_bumps_the_version_and_publishes_offer_updated(
        self, api: Api, org: str
    ) -> None:
        """A real change: version 2, Location-free 200, offer.updated on the topic."""
        offer = await publish(api, org)
        response = await api.http.patch(
            f"/v1/offers/{offer['id']}",
            json={"title": "Doposcuola e musica"},
            headers={**provider(org), "If-Match": '"1"'},
        )
        assert response.status_code == 200
        assert (response.json()["title"], response.json()["version"]) == ("Doposcuola e musica", 2)
        kafka = api.settings.kafka_bootstrap_servers
        updated = await eventually(
            lambda: offer_events(kafka, offer["id"], "offer.updated"), what="offer.updated"
        )
        assert updated[0]["data"]["title"] == "Doposcuola e musica"
        assert updated[0]["data"]["version"] == 2

    async def test_a_stale_if_match_is_a_409(self, api: Api, org: str) -> None:
        """If-Match naming an old version conflicts and changes nothing."""
        offer = await publish(api, org)
        url = f"/v1/offers/{offer['id']}"
        await api.http.patch(url, json={"capacity": 8}, headers=provider(org))
        response = await api.http.patch(
            url, json={"capacity": 9}, headers={**provider(org), "If-Match": "1"}
        )
        assert response.status_code == 409
        assert (await api.http.get(url, headers=provider(org))).json()["capacity"] == 8

    async def test_a_delete_withdraws_once_and_is_idempotent(self, api: Api, org: str) -> None:
        """DELETE twice: withdrawn, one offer.withdrawn event; a later PATCH is a 409."""
        offer = await publish(api, org)
        url = f"/v1/offers/{offer['id']}"
        first = await api.http.delete(url, headers=provider(org))
        second = await api.http.delete(url, headers=provider(org))
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json()["status"] == second.json()["status"] == "withdrawn"
        assert second.json()["version"] == first.json()["version"] == 2
        patch = await api.http.patch(url, json={"title": "Again"}, headers=provider(org))
        assert patch.status_code == 409
        kafka = api.settings.kafka_bootstrap_servers
        await eventually(lambda: offer_events(kafka, offer["id"], "offer.withdrawn"))
        assert len(await offer_events(kafka, offer["id"], "offer.withdrawn")) == 1

    async def test_a_delete_retried_with_the_same_if_match_is_answered_200(
        self, api: Api, org: str
    ) -> None:
        """The first DELETE went through but its answer was lost: the retry, with the same
        If-Match, gets the withdrawn offer, not a 409 for the version the DELETE moved."""
        offer = await publish(api, org)
        url = f"/v1/offers/{offer['id']}"
        headers = {**provider(org), "If-Match": '"1"'}
        first = await api.http.delete(url, headers=headers)
        retry = await api.http.delete(url, headers=headers)
        assert (first.status_code, retry.status_code) == (200, 200)
        assert retry.json()["version"] == 2

    async def test_an_offer_past_valid_until_expires_with_an_event(
        self, api: Api, org: str
    ) -> None:
        """The expiry sweep marks it expired and publishes offer.expired."""
        yesterday = date.today() - timedelta(days=1)
        offer = await publish(api, org, valid_until=yesterday.isoformat())
        assert await expire_offers(api.store, today=date.today()) >= 1
        url = f"/v1/offers/{offer['id']}"
        assert (await api.http.get(url, headers=provider(org))).json()["status"] == "expired"
        kafka = api.settings.kafka_bootstrap_servers
        await eventually(lambda: offer_events(kafka, offer["id"], "offer.expired"))

    async def test_the_running_service_expires_offers_past_valid_until_by_itself(
        self, kafka: str, mongodb: str, jwt_secret: str, org: str
    ) -> None:
        """With a short sweep interval, an offer that ends yesterday turns expired unasked."""
        settings = in_process_settings(
            Settings,
            kafka,
            mongodb,
            jwt_secret,
            f"t_expiry_{uuid.uuid4().hex[:8]}",
            offer_expiry_interval_seconds=0.2,
        )
        app = create_app(settings)
        yesterday = date.today() - timedelta(days=1)
        async with (
            serving(app, settings.port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            response = await http.post(
                "/v1/offers",
                json=an_offer(valid_until=yesterday.isoformat()),
                headers=provider(org),
            )
            assert response.status_code == 201, response.text
            offer_url = f"/v1/offers/{response.json()['id']}"

            async def status() -> str | None:
                found = await http.get(offer_url, headers=provider(org))
                return "expired" if found.json()["status"] == "expired" else None

            assert await eventually(status, timeout=30, what="the sweep") == "expired"


class TestPrivacy:
    async def test_offer_events_carry_no_contact_which_goes_to_contacts_only(
        self, api: Api, org: str
    ) -> None:
        """The contact's name and e-mail are only on welfare.contacts.v1, under provider_ref."""
        email = f"{org}@example.org"
        offer = await publish(api, org, email=email)
        kafka = api.settings.kafka_bootstrap_servers
        await eventually(lambda: offer_events(kafka, offer["id"]))
        public = await read_all(kafka, *topics.PUBLIC)
        for message in public:
            assert email.encode() not in (message.value or b"")
            assert b"Cooperativa Isola Ragazzi" not in (message.value or b"")
        ref = (await offer_events(kafka, offer["id"]))[0]["data"]["provider_ref"]

        async def contact() -> list[dict[str, Any]]:
            upserted = await events_of(kafka, topics.CONTACTS, "contact.upserted")
            return [e for e in upserted if e["data"]["ref"] == ref]

        found = await eventually(contact, what="contact.upserted")
        assert (found[0]["data"]["email"], found[0]["data"]["language"]) == (email, "it")


class TestCapacity:
    async def test_a_proposed_match_reserves_seats_once(self, api: Api, org: str) -> None:
        """match.proposed delivered twice holds once; full at zero (offer.updated), open
        again on PATCH (offer.updated)."""
        offer = await publish(api, org, capacity=2)
        kafka = api.settings.kafka_bootstrap_servers
        match_id = f"m_{uuid.uuid4().hex[:8]}"
        await produce(kafka, topics.MATCHES, proposed(match_id, offer["id"], 2), "after_school")
        url = f"/v1/offers/{offer['id']}"

        async def reserved() -> dict[str, Any] | None:
            found: dict[str, Any] = (await api.http.get(url, headers=provider(org))).json()
            return found if found["remaining_capacity"] == 0 else None

        full = await eventually(reserved, timeout=60, what="seats reserved")
        assert full["status"] == "full"
        # The duplicate, then a marker on the same partition: once the marker is applied,
        # the duplicate has been handled too.
        marker = await publish(api, org, capacity=3)
        await produce(kafka, topics.MATCHES, proposed(match_id, offer["id"], 2), "after_school")
        await produce(kafka, topics.MATCHES, proposed("marker" + match_id, marker["id"], 1),
                      "after_school")  # fmt: skip
        marker_url = f"/v1/offers/{marker['id']}"

        async def marker_applied() -> bool:
            found = (await api.http.get(marker_url, headers=provider(org))).json()
            return bool(found["remaining_capacity"] == 2)

        await eventually(marker_applied, timeout=60, what="marker applied")
        raised = await api.http.patch(url, json={"capacity": 5}, headers=provider(org))
        assert (raised.json()["remaining_capacity"], raised.json()["status"]) == (3, "open")
        await eventually(lambda: offer_events(kafka, offer["id"], "offer.updated"))

        async def updates() -> list[dict[str, Any]] | None:
            found = await offer_events(kafka, offer["id"], "offer.updated")
            return found if len(found) == 2 else None

        full_then_open = await eventually(updates, what="two offer.updated")
        assert [(e["data"]["status"], e["data"]["remaining_capacity"]) for e in full_then_open] == [
            ("full", 0),
            ("open", 3),
        ]
        types = [e["type"] for e in await offer_events(kafka, offer["id"])]
        assert types == ["offer.published", "offer.updated", "offer.updated"]
