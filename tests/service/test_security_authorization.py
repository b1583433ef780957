"""The authorisation matrix of the offers and demands APIs, on the real broker and database:
every /v1 route (read from the service's own OpenAPI) × no token, expired, wrong audience,
wrong signature, `alg: none`, wrong role, another organisation — never a 2xx, never another
organisation's data."""

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from services.demands.app import create_app as create_demands
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as create_offers
from services.offers.settings import Settings as OffersSettings
from tests.conftest import JWT_SECRET, bearer
from tests.support.factories import a_demand, an_offer
from tests.support.services import SettingsT, in_process_settings, serving

pytestmark = pytest.mark.service

OWNER = f"org_owner_{uuid.uuid4().hex[:6]}"
OTHER = f"org_other_{uuid.uuid4().hex[:6]}"


@dataclass
class Api:
    name: str
    role: str  # the role that writes here
    wrong_role: str
    http: httpx.AsyncClient
    record_id: str
    routes: list[tuple[str, str]]  # (method, path template) of every /v1 operation

    def body(self) -> dict[str, Any]:
        return an_offer() if self.name == "offers" else a_demand()


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "x", "org": OWNER, "roles": ["provider", "requester"], "aud": "concilia"}
    return {**base, "iat": now, "exp": now + 600, **changes}


def token(encoded: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {encoded}"}


CREDENTIALS: dict[str, Callable[[Api], dict[str, str]]] = {
    "no token": lambda api: {},
    "expired": lambda api: token(jwt.encode(claims(exp=int(time.time()) - 60), JWT_SECRET)),
    "wrong audience": lambda api: token(jwt.encode(claims(aud="another-app"), JWT_SECRET)),
    "wrong signature": lambda api: token(jwt.encode(claims(), "not-the-secret-" + "x" * 32)),
    "alg none": lambda api: token(jwt.encode(claims(), None, algorithm="none")),
    "wrong role": lambda api: bearer(OWNER, api.wrong_role),
    "other organisation": lambda api: bearer(OTHER, api.role),
}


def _settings(kind: type[SettingsT], kafka: str, mongodb: str) -> SettingsT:
    return in_process_settings(kind, kafka, mongodb, JWT_SECRET, f"t_authz_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module", params=["offers", "demands"])
async def api(request: pytest.FixtureRequest, kafka: str, mongodb: str) -> AsyncIterator[Api]:
    if request.param == "offers":
        settings = _settings(OffersSettings, kafka, mongodb)
        app, role, wrong = create_offers(settings), "provider", "requester"
    else:
        settings = _settings(DemandsSettings, kafka, mongodb)
        app, role, wrong = create_demands(settings), "requester", "provider"
    async with (
        serving(app, settings.port) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        body = an_offer() if request.param == "offers" else a_demand()
        created = await http.post(f"/v1/{request.param}", json=body, headers=bearer(OWNER, role))
        assert created.status_code == 201, created.text
        paths = (await http.get("/openapi.json")).json()["paths"]
        routes = [
            (method.upper(), path)
            for path, operations in paths.items()
            if path.startswith("/v1/")
            for method in operations
        ]
        yield Api(request.param, role, wrong, http, created.json()["id"], routes)


def concrete(api: Api, template: str) -> str:
    return (
        template.replace("{offer_id}", api.record_id)
        .replace("{demand_id}", api.record_id)
        .replace("{match_id}", "match-that-is-not-yours")
    )


def shown(response: httpx.Response) -> str:
    """What the answer says, without the problem's `instance` and `detail`, which echo the
    path and id the caller sent."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        body.pop("instance", None)
        body.pop("detail", None)
    return json.dumps(body)


class TestTheMatrix:
    def test_both_apis_document_every_record_route(self, api: Api) -> None:
        """The matrix covers at least the five record routes plus the answer routes."""
        assert len(api.routes) >= 7

    @pytest.mark.parametrize("credential", sorted(CREDENTIALS))
    async def test_no_route_answers_2xx_or_shows_another_organisations_data(
        self, api: Api, credential: str
    ) -> None:
        """Each route with this credential is refused (401/403/404/409/422); a list shows
        the caller's own records only, never the owner's."""
        headers = CREDENTIALS[credential](api)
        for method, template in api.routes:
            path = concrete(api, template)
            on_collection = template == f"/v1/{api.name}"
            payload = api.body() if method in ("POST", "PATCH") else None
            if method == "PATCH":
                payload = {"languages": ["en"]}
            response = await api.http.request(method, path, json=payload, headers=headers)
            where = f"{credential}: {method} {template} → {response.status_code}"
            assert response.status_code < 500, where
            assert api.record_id not in shown(response), where
            assert OWNER not in response.text, where
            if credential == "other organisation" and on_collection:
                if method == "GET":
                    assert response.status_code == 200, where  # its own (empty) page
                    owners = {i["organization_id"] for i in response.json()["items"]}
                    assert owners <= {OTHER}, where
                continue  # creating its own record is allowed
            assert not 200 <= response.status_code < 300, where
            if credential in ("no token", "expired", "wrong audience", "wrong signature"):
                assert response.status_code == 401, where
            if credential == "alg none":
                assert response.status_code == 401, where
        owned = await api.http.get(
            f"/v1/{api.name}/{api.record_id}", headers=bearer(OWNER, api.role)
        )
        assert owned.json()["status"] == "open"  # nothing above changed it
