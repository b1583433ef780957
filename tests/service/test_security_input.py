"""Hostile and careless HTTP input against the offers and demands APIs on the real broker and
database: every hostile input we reproduced answers a clear 4xx problem, never a 5xx."""

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from concilia.platform.problems import ProblemDetails
from services.demands.app import create_app as create_demands
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as create_offers
from services.offers.settings import Settings as OffersSettings
from tests.conftest import bearer
from tests.support.factories import a_demand, an_offer
from tests.support.services import SettingsT, in_process_settings, serving

pytestmark = pytest.mark.service


@dataclass
class Api:
    name: str  # "offers" | "demands"
    role: str
    http: httpx.AsyncClient
    port: int

    def new(self) -> dict[str, Any]:
        return an_offer() if self.name == "offers" else a_demand()


def _settings(kind: type[SettingsT], kafka: str, mongodb: str, secret: str) -> SettingsT:
    return in_process_settings(
        kind, kafka, mongodb, secret, f"t_sec_{uuid.uuid4().hex[:8]}", max_body_bytes=65536
    )


def _with_a_failing_route(app: FastAPI) -> FastAPI:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/boom", boom, methods=["GET"])
    return app


@pytest.fixture(scope="module", params=["offers", "demands"])
async def api(
    request: pytest.FixtureRequest, kafka: str, mongodb: str, jwt_secret: str
) -> AsyncIterator[Api]:
    if request.param == "offers":
        settings = _settings(OffersSettings, kafka, mongodb, jwt_secret)
        app, role = create_offers(settings), "provider"
    else:
        settings = _settings(DemandsSettings, kafka, mongodb, jwt_secret)
        app, role = create_demands(settings), "requester"
    async with (
        serving(_with_a_failing_route(app), settings.port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield Api(request.param, role, http, settings.port)


def org() -> str:
    return f"org_{uuid.uuid4().hex[:8]}"


async def create(api: Api, who: str) -> dict[str, Any]:
    response = await api.http.post(f"/v1/{api.name}", json=api.new(), headers=bearer(who, api.role))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    ProblemDetails.model_validate(body)  # the documented shape, `errors` included
    return body


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def requests_counted(service: str, method: str, route: str, status: str) -> float:
    labels = {"service": service, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("concilia_http_requests_total", labels) or 0.0


class TestIfMatch:
    @pytest.mark.parametrize("tag", [b"\xb2", b'"\xd9\xa3"', b'W/"\xb9"', b"1e3", b"-1"])
    async def test_an_if_match_that_is_not_ascii_digits_is_a_422_on_patch(
        self, api: Api, tag: bytes
    ) -> None:
        """`If-Match: ²` (a Unicode digit Python's isdigit accepts) is a 422, not a 500."""
        who = org()
        record = await create(api, who)
        response = await api.http.patch(
            f"/v1/{api.name}/{record['id']}",
            json={"max_distance_km": 5} if api.name == "demands" else {"capacity": 5},
            headers={**bearer(who, api.role), "If-Match": tag},  # type: ignore[dict-item]
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["field"] == "If-Match"

    async def test_delete_with_a_stale_if_match_is_a_conflict_and_changes_nothing(
        self, api: Api
    ) -> None:
        """DELETE honours If-Match: a stale version is a 409 and the record stays open."""
        who = org()
        record = await create(api, who)
        url = f"/v1/{api.name}/{record['id']}"
        stale = await api.http.delete(url, headers={**bearer(who, api.role), "If-Match": '"99"'})
        assert_problem(stale, 409)
        assert (await api.http.get(url, headers=bearer(who, api.role))).json()["status"] == "open"
        current = {**bearer(who, api.role), "If-Match": f'"{record["version"]}"'}
        assert (await api.http.delete(url, headers=current)).status_code == 200


class TestCursors:
    @pytest.mark.parametrize(
        "cursor",
        [
            cursor_of('["0001-01-01T00:00:00+14:00","x"]'),
            cursor_of('["9999-12-31T23:59:59-14:00","x"]'),
            cursor_of("[" * 3000 + "]" * 3000),
            cursor_of('["2025-01-01T00:00:00+00:00",{"$gt":""}]'),
            cursor_of('{"a":1}'),
            "%%%",
            "A" * 5000,
        ],
    )
    async def test_a_hand_made_cursor_is_a_422(self, api: Api, cursor: str) -> None:
        """Out-of-range dates, deep nesting and wrong shapes are "not a cursor", never a 500."""
        response = await api.http.get(
            f"/v1/{api.name}", params={"cursor": cursor}, headers=bearer(org(), api.role)
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["field"] == "cursor"


class TestAuthenticationFirst:
    async def test_a_huge_body_without_a_token_is_refused_before_it_is_read(self, api: Api) -> None:
        """No token and a 400 MB Content-Length: 401 comes back after a few bytes."""
        reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
        writer.write(
            f"POST /v1/{api.name} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 400000000\r\n\r\n{".encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
        writer.close()
        assert status_line.split()[1] == b"401"

    async def test_malformed_json_without_a_token_is_a_401(self, api: Api) -> None:
        """Authentication comes before the body: broken JSON without a token is a 401."""
        response = await api.http.post(
            f"/v1/{api.name}", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 401)

    async def test_malformed_json_with_a_token_is_a_400(self, api: Api) -> None:
        """A body that is not JSON is a 400 problem, as the OpenAPI says, not a 422 naming
        a character offset as a field."""
        response = await api.http.post(
            f"/v1/{api.name}",
            content=b'{"title": ',
            headers={**bearer(org(), api.role), "Content-Type": "application/json"},
        )
        body = assert_problem(response, 400)
        assert "JSON" in body["detail"]

    async def test_a_body_over_the_limit_is_a_413(self, api: Api) -> None:
        """A body over MAX_BODY_BYTES (64 KiB here) is a 413 problem, announced or not."""
        big = {**api.new(), "pad": "x" * 70000}
        announced = await api.http.post(
            f"/v1/{api.name}", json=big, headers=bearer(org(), api.role)
        )
        assert_problem(announced, 413)

        async def chunks() -> AsyncIterator[bytes]:
            payload = json.dumps(big).encode()
            for i in range(0, len(payload), 8192):
                yield payload[i : i + 8192]

        streamed = await api.http.post(
            f"/v1/{api.name}",
            content=chunks(),
            headers={**bearer(org(), api.role), "Content-Type": "application/json"},
        )
        assert_problem(streamed, 413)


class TestProblemsAndMetrics:
    async def test_an_unexpected_error_is_a_counted_problem_500(self, api: Api) -> None:
        """A bug answers an RFC 9457 500 and is counted under its route."""
        before = requests_counted(api.name, "GET", "/v1/boom", "500")
        response = await api.http.get("/v1/boom", headers=bearer(org(), api.role))
        body = assert_problem(response, 500)
        assert "a bug" not in body["detail"]  # no internals leak
        assert requests_counted(api.name, "GET", "/v1/boom", "500") == before + 1

    async def test_requests_are_counted_under_their_route_template(self, api: Api) -> None:
        """GET /v1/{plural}/{id} is counted as that template, not "unmatched"."""
        who = org()
        record = await create(api, who)
        route = f"/v1/{api.name}/{{{api.name[:-1]}_id}}"
        before = requests_counted(api.name, "GET", route, "200")
        await api.http.get(f"/v1/{api.name}/{record['id']}", headers=bearer(who, api.role))
        assert requests_counted(api.name, "GET", route, "200") == before + 1

    async def test_reusing_an_idempotency_key_answers_a_problem_of_the_documented_shape(
        self, api: Api
    ) -> None:
        """The 422 for a key reused with another body validates against ProblemDetails."""
        headers = {**bearer(org(), api.role), "Idempotency-Key": uuid.uuid4().hex}
        first = await api.http.post(f"/v1/{api.name}", json=api.new(), headers=headers)
        assert first.status_code == 201
        other = {**api.new(), "languages": ["en"]}
        again = await api.http.post(f"/v1/{api.name}", json=other, headers=headers)
        body = assert_problem(again, 422)
        assert body["errors"][0]["field"] == "Idempotency-Key"


NULLABLE = {
    "offers": {"radius_km": None, "valid_until": None, "min_age": None, "max_age": None},
    "demands": {"max_price_eur": None, "beneficiary_age": None},
}
REQUIRED = {"offers": "title", "demands": "needed_from"}
# location may be null only for a remote offer (a cross-field rule, checked after merging).
SCHEMA_NULLABLE = {"offers": {*NULLABLE["offers"], "location"}, "demands": {*NULLABLE["demands"]}}


class TestPatchNull:
    async def test_null_clears_every_field_the_openapi_marks_nullable(self, api: Api) -> None:
        """PATCH with null for a nullable field is accepted and stored as null."""
        who = org()
        record = await create(api, who)
        response = await api.http.patch(
            f"/v1/{api.name}/{record['id']}", json=NULLABLE[api.name], headers=bearer(who, api.role)
        )
        assert response.status_code == 200, response.text
        assert all(response.json()[field] is None for field in NULLABLE[api.name])

    async def test_null_is_refused_where_the_openapi_does_not_allow_it(self, api: Api) -> None:
        """A field that may not be null is documented so, and null is a 422 naming it."""
        field = REQUIRED[api.name]
        update = "OfferUpdate" if api.name == "offers" else "DemandUpdate"
        schema = (await api.http.get("/openapi.json")).json()["components"]["schemas"][update]
        assert "null" not in json.dumps(schema["properties"][field])
        for name, nullable in schema["properties"].items():
            assert ("null" in json.dumps(nullable)) == (name in SCHEMA_NULLABLE[api.name]), name
        who = org()
        record = await create(api, who)
        response = await api.http.patch(
            f"/v1/{api.name}/{record['id']}", json={field: None}, headers=bearer(who, api.role)
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["field"] == field


class TestWriteRateLimit:
    async def test_an_organisation_writing_too_fast_gets_429_with_retry_after(
        self, kafka: str, mongodb: str, jwt_secret: str
    ) -> None:
        """Over WRITE_RATE_PER_MINUTE an organisation's writes are 429 with Retry-After,
        its reads still work and another organisation is not slowed down."""
        settings = _settings(OffersSettings, kafka, mongodb, jwt_secret)
        settings = settings.model_copy(update={"write_rate_per_minute": 3})
        async with (
            serving(create_offers(settings), settings.port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            busy, calm = org(), org()
            statuses = [
                (await http.post("/v1/offers", json=an_offer(), headers=bearer(busy, "provider")))
                for _ in range(4)
            ]
            assert [r.status_code for r in statuses] == [201, 201, 201, 429]
            assert_problem(statuses[-1], 429)
            assert 1 <= int(statuses[-1].headers["Retry-After"]) <= 20
            read = await http.get("/v1/offers", headers=bearer(busy, "provider"))
            assert read.status_code == 200
            other = await http.post("/v1/offers", json=an_offer(), headers=bearer(calm, "provider"))
            assert other.status_code == 201
