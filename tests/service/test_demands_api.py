"""The demands API against the real embedded MongoDB and Kafka: auth, isolation, validation,
idempotency, pagination, PATCH/DELETE, pseudonymised events, match status. What it shares
with the offers service (outbox, start without Kafka, readiness) is in
test_record_services.py."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from services.demands.app import create_app
from services.demands.settings import Settings
from tests.conftest import bearer
from tests.support.factories import a_demand
from tests.support.kafka import events_of, produce, read_all
from tests.support.places import VIA_BORSIERI
from tests.support.services import in_process_settings, serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@dataclass
class Api:
    http: httpx.AsyncClient
    kafka: str


@pytest.fixture(scope="module")
async def api(kafka: str, mongodb: str, jwt_secret: str) -> AsyncIterator[Api]:
    settings = in_process_settings(
        Settings, kafka, mongodb, jwt_secret, f"t_demands_{uuid.uuid4().hex[:8]}"
    )
    async with (
        serving(create_app(settings), settings.port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Api(http, kafka)


@pytest.fixture
def org() -> str:
    return f"org_{uuid.uuid4().hex[:8]}"


def requester(org: str) -> dict[str, str]:
    return bearer(org, "requester")


async def submit(api: Api, org: str, **overrides: Any) -> dict[str, Any]:
    response = await api.http.post(
        "/v1/demands", json=a_demand(**overrides), headers=requester(org)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def demand_events(kafka: str, demand_id: str, type_: str | None = None) -> list[Any]:
    return [e for e in await events_of(kafka, topics.DEMANDS, type_) if e["subject"] == demand_id]


def a_match(type_: str, match_id: str, demand_id: str, **data: Any) -> bytes:
    return CloudEvent.new(
        type=type_,
        source="matcher",
        subject=match_id,
        id=f"evt-{type_}-{match_id}",
        data={
            "match_id": match_id,
            "offer_id": "off_0123456789abcdef",
            "demand_id": demand_id,
            "service_type": "after_school",
            "score": 0.8,
            "reasons": {"distance_km": 0.2, "minutes_covered": 240},
            "seats": 1,
            "requester_ref": "req_0000",
            **data,
        },
    ).to_bytes()


async def current(api: Api, org: str, demand_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        await api.http.get(f"/v1/demands/{demand_id}", headers=requester(org))
    ).json()
    return found


class TestAuthentication:
    async def test_a_request_without_a_token_is_a_401_problem(self, api: Api) -> None:
        """No bearer token: 401 as application/problem+json."""
        response = await api.http.post("/v1/demands", json=a_demand())
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    async def test_a_provider_may_not_submit_demands(self, api: Api) -> None:
        """The demands API is for requesters: a provider gets 403."""
        response = await api.http.post(
            "/v1/demands", json=a_demand(), headers=bearer("acme", "provider")
        )
        assert response.status_code == 403

    async def test_an_operator_reads_every_organisation_but_writes_nothing(
        self, api: Api, org: str
    ) -> None:
        """Operators GET any demand; their PATCH and DELETE are 403."""
        demand = await submit(api, org)
        operator = bearer("ops", "operator")
        url = f"/v1/demands/{demand['id']}"
        assert (await api.http.get(url, headers=operator)).status_code == 200
        assert (await api.http.patch(url, json={"seats": 2}, headers=operator)).status_code == 403
        assert (await api.http.delete(url, headers=operator)).status_code == 403


class TestOrganisationIsolation:
    async def test_another_organisations_demand_is_not_found(self, api: Api, org: str) -> None:
        """GET, PATCH, DELETE by another organisation: 404, and the demand is unchanged."""
        demand = await submit(api, org)
        stranger = requester(f"{org}_other")
        url = f"/v1/demands/{demand['id']}"
        assert (await api.http.get(url, headers=stranger)).status_code == 404
        assert (await api.http.patch(url, json={"seats": 3}, headers=stranger)).status_code == 404
        assert (await api.http.delete(url, headers=stranger)).status_code == 404
        mine = await current(api, org, demand["id"])
        assert (mine["seats"], mine["status"], mine["version"]) == (1, "open", 1)

    async def test_a_list_shows_only_own_demands(self, api: Api, org: str) -> None:
        """Each organisation lists only what it submitted."""
        mine = await submit(api, org)
        await submit(api, f"{org}_b")
        listed = (await api.http.get("/v1/demands", headers=requester(org))).json()
        assert [d["id"] for d in listed["items"]] == [mine["id"]]


INVALID = [
    ("coordinates out of range", {"location": {"address": "Via X 1", "lat": 45.4, "lon": 190}},
     "location.lon"),
    ("slot ending before it starts", {"needed": [{"day": "mon", "start": "18:00",
                                                  "end": "09:00"}]}, "needed.0"),
    ("unknown service type", {"service_type": "astrology"}, "service_type"),
    ("zero seats", {"seats": 0}, "seats"),
    ("malformed e-mail", {"requester": {"name": "Giulia", "email": "giulia@"}}, "requester.email"),
    ("unknown field", {"favourite_colour": "blue"}, "favourite_colour"),
]  # fmt: skip


class TestValidation:
    @pytest.mark.parametrize(("case", "overrides", "field"), INVALID, ids=[c[0] for c in INVALID])
    async def test_an_invalid_demand_is_a_422_naming_the_field_and_nothing_is_kept(
        self, api: Api, org: str, case: str, overrides: dict[str, Any], field: str
    ) -> None:
        """Each bad field comes back in errors[].field; no record, no event."""
        response = await api.http.post(
            "/v1/demands", json=a_demand(**overrides), headers=requester(org)
        )
        assert response.status_code == 422, case
        assert field in {e["field"] for e in response.json()["errors"]}
        listed = (await api.http.get("/v1/demands", headers=requester(org))).json()
        assert listed["items"] == []
        published = await events_of(api.kafka, topics.DEMANDS)
        assert all(e["data"]["organization_id"] != org for e in published)

    async def test_a_patch_of_service_type_is_a_422_naming_it(self, api: Api, org: str) -> None:
        """service_type cannot change after submission."""
        demand = await submit(api, org)
        response = await api.http.patch(
            f"/v1/demands/{demand['id']}", json={"service_type": "sport"}, headers=requester(org)
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["service_type"]


class TestIdempotency:
    async def test_a_repeated_key_and_body_replay_the_first_demand(
        self, api: Api, org: str
    ) -> None:
        """Same key and body: the same demand, Idempotent-Replayed, one demand.submitted."""
        headers = {**requester(org), "Idempotency-Key": "d-1"}
        first = await api.http.post("/v1/demands", json=a_demand(), headers=headers)
        again = await api.http.post("/v1/demands", json=a_demand(), headers=headers)
        assert again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        demand_id = first.json()["id"]
        await eventually(lambda: demand_events(api.kafka, demand_id), what="demand.submitted")
        assert len(await demand_events(api.kafka, demand_id)) == 1
        different = await api.http.post("/v1/demands", json=a_demand(seats=2), headers=headers)
        assert different.status_code == 422


class TestPagination:
    async def test_pages_cover_every_demand_once_in_creation_order(
        self, api: Api, org: str
    ) -> None:
        """limit=3 over seven demands: 3, 3, 1, no duplicates or gaps."""
        created = [(await submit(api, org))["id"] for _ in range(7)]
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await api.http.get("/v1/demands", params=params, headers=requester(org))).json()
            seen += [d["id"] for d in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert (seen, pages) == (created, 3)


class TestChanges:
    async def test_a_new_requester_is_upserted_on_the_contacts_topic(
        self, api: Api, org: str
    ) -> None:
        """PATCH of requester: demand.updated, and contact.upserted under the same ref."""
        demand = await submit(api, org)
        email = f"{org}@example.org"
        response = await api.http.patch(
            f"/v1/demands/{demand['id']}",
            json={"requester": {"name": "Marco Bianchi", "email": email, "language": "en"}},
            headers=requester(org),
        )
        assert response.json()["version"] == 2
        updated = await eventually(
            lambda: demand_events(api.kafka, demand["id"], "demand.updated"), what="update"
        )
        ref = updated[0]["data"]["requester_ref"]

        async def contacts() -> list[dict[str, Any]]:
            found = await events_of(api.kafka, topics.CONTACTS, "contact.upserted")
            mine = [e for e in found if e["data"]["ref"] == ref]
            return mine if len(mine) >= 2 else []

        emails = [e["data"]["email"] for e in await eventually(contacts, what="two contacts")]
        assert emails == ["family@example.org", email]

    async def test_a_withdrawal_erases_the_contact_and_is_idempotent(
        self, api: Api, org: str
    ) -> None:
        """DELETE twice: withdrawn, one demand.withdrawn, one tombstone; later PATCH 409."""
        demand = await submit(api, org)
        url = f"/v1/demands/{demand['id']}"
        first = await api.http.delete(url, headers=requester(org))
        second = await api.http.delete(url, headers=requester(org))
        assert first.json()["status"] == second.json()["status"] == "withdrawn"
        patch = await api.http.patch(url, json={"seats": 2}, headers=requester(org))
        assert patch.status_code == 409
        withdrawn = await eventually(
            lambda: demand_events(api.kafka, demand["id"], "demand.withdrawn"), what="withdrawal"
        )
        ref = withdrawn[0]["data"]["requester_ref"]

        async def tombstones() -> list[Any]:
            return [
                m for m in await read_all(api.kafka, topics.CONTACTS)
                if m.key == ref and m.value is None
            ]  # fmt: skip

        assert len(await eventually(tombstones, what="a tombstone")) == 1
        assert len(await demand_events(api.kafka, demand["id"], "demand.withdrawn")) == 1


class TestPrivacy:
    async def test_demand_events_carry_no_name_email_or_street(self, api: Api, org: str) -> None:
        """Public topics never carry the requester or the address; coordinates are rounded."""
        email = f"{org}@example.org"
        demand = await submit(api, org, email=email, name="Giulia Verdi")
        published = await eventually(lambda: demand_events(api.kafka, demand["id"]))
        for message in await read_all(api.kafka, *topics.PUBLIC):
            raw = message.value or b""
            assert email.encode() not in raw
            assert b"Giulia Verdi" not in raw
            assert b"Borsieri" not in raw
        data = published[0]["data"]
        assert data["location"] == {
            "lat": round(VIA_BORSIERI.lat, 3),
            "lon": round(VIA_BORSIERI.lon, 3),
        }
        assert data["requester_ref"].startswith("req_")
        assert "requester" not in data


class TestMatchStatus:
    async def test_a_proposed_match_marks_the_demand_matched_once(self, api: Api, org: str) -> None:
        """match.proposed twice: matched with the match summary, applied once; PATCH is 409."""
        demand = await submit(api, org)
        marker = await submit(api, org)
        match_id = f"m_{uuid.uuid4().hex[:8]}"
        event = a_match("match.proposed", match_id, demand["id"])
        await produce(api.kafka, topics.MATCHES, event, "after_school")
        await produce(api.kafka, topics.MATCHES, event, "after_school")
        # Same key, same partition: once the marker is applied the duplicate was handled.
        marker_event = a_match("match.proposed", "marker" + match_id, marker["id"])
        await produce(api.kafka, topics.MATCHES, marker_event, "after_school")

        async def marker_matched() -> bool:
            return (await current(api, org, marker["id"]))["status"] == "matched"

        await eventually(marker_matched, timeout=60, what="the marker match")
        matched = await current(api, org, demand["id"])
        assert (matched["status"], matched["version"]) == ("matched", 1)  # a note, not a revision
        assert matched["match"]["match_id"] == match_id
        assert matched["match"]["offer_id"] == "off_0123456789abcdef"
        patch = await api.http.patch(
            f"/v1/demands/{demand['id']}", json={"seats": 2}, headers=requester(org)
        )
        assert patch.status_code == 409

    async def test_match_not_found_records_why_the_demand_waits(self, api: Api, org: str) -> None:
        """match.not_found sets waiting_reason while the demand is open."""
        demand = await submit(api, org)
        event = a_match(
            "match.not_found",
            f"nf_{uuid.uuid4().hex[:8]}",
            demand["id"],
            offer_id=None,
            score=0,
            reasons={"reason": "too_far", "too_far": 2},
            reason="too_far",
        )
        await produce(api.kafka, topics.MATCHES, event, "after_school")

        async def waiting() -> str | None:
            reason: str | None = (await current(api, org, demand["id"]))["waiting_reason"]
            return reason

        assert await eventually(waiting, timeout=60, what="waiting_reason") == "too_far"

    async def test_a_non_match_event_on_the_matches_topic_is_dead_lettered(self, api: Api) -> None:
        """An offer.published on welfare.matches.v1 goes to the DLQ with its reason."""
        stray = CloudEvent.new(
            type="offer.published", source="offers", subject="off_x", data={}
        ).to_bytes()
        await produce(api.kafka, topics.MATCHES, stray, "after_school")

        async def dead_lettered() -> list[Any]:
            return [
                m
                for m in await read_all(api.kafka, topics.dlq(topics.MATCHES))
                if m.value == stray
                and m.headers.get(topics.DLQ_CONSUMER_HEADER) == "concilia-demands"
            ]

        found = await eventually(dead_lettered, timeout=60, what="the DLQ message")
        assert found[0].headers[topics.DLQ_REASON_HEADER] == "unknown_event_type"
