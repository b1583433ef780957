"""Schemathesis against both OpenAPI documents (offers, demands) served by the real apps on
the embedded broker and database: every default check, a bounded number of examples per
operation so it stays quick, zero failures."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from concilia.embedded.processes import free_port
from services.demands.app import create_app as create_demands
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as create_offers
from services.offers.settings import Settings as OffersSettings
from tests.conftest import bearer
from tests.support.factories import a_demand, an_offer
from tests.support.services import serving

pytestmark = pytest.mark.service

EXAMPLES = 8  # per operation and mode; enough to exercise each schema, quick on two cores
# Every default check stays on. One is tuned: schema-valid input may still break a rule JSON
# Schema cannot state (a slot ending after it starts, valid_until not before valid_from, an
# age range, a location unless remote, a cursor this API issued, a version that exists), and
# the API rightly answers 422 naming the field; the other expected statuses are the defaults.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)


def _settings(kind: type[Any], kafka: str, mongodb: str, secret: str) -> Any:
    return kind(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database=f"t_st_{uuid.uuid4().hex[:8]}",
        auth_jwt_secret=secret,
        http_port=free_port(),
        outbox_poll_seconds=0.5,
        write_rate_per_minute=0,
    )


@pytest.fixture(params=["offers", "demands"])
async def served(
    request: pytest.FixtureRequest, kafka: str, mongodb: str, jwt_secret: str
) -> AsyncIterator[tuple[str, str, dict[str, str], str]]:
    """(service, base URL, auth headers of its writer, id of one of the writer's records)."""
    org = f"org_st_{uuid.uuid4().hex[:6]}"
    if request.param == "offers":
        settings = _settings(OffersSettings, kafka, mongodb, jwt_secret)
        app, headers, body = create_offers(settings), bearer(org, "provider"), an_offer()
    else:
        settings = _settings(DemandsSettings, kafka, mongodb, jwt_secret)
        app, headers, body = create_demands(settings), bearer(org, "requester"), a_demand()
    async with serving(app, settings.port) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            created = await http.post(f"/v1/{request.param}", json=body, headers=headers)
            assert created.status_code == 201, created.text
        yield request.param, url, headers, created.json()["id"]


def fuzz(url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation of the document at `url` with every default check; the
    failures, one line each."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=CONFIG)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/v1/"):
            continue  # /healthz, /readyz, /metrics: covered by the service tests
        for mode in GenerationMode:  # schema-valid input, then invalid input
            try:
                _check(operation, mode, url, headers)
            except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    raise
                where = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{where}: {_describe(exc)}")
    return failures


def _check(operation: Any, mode: GenerationMode, url: str, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers)
        case.validate_response(response)

    run()


def _describe(exc: BaseException) -> str:
    found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
    return "; ".join(f"{type(e).__name__}: {str(e).strip()[:600]}" for e in found)


class TestSchemathesis:
    async def test_every_operation_passes_every_default_check(
        self, served: tuple[str, str, dict[str, str], str]
    ) -> None:
        """No 5xx, every status, header, content type and body as documented, schema-valid
        input accepted and invalid input refused, for each /v1 operation."""
        _, url, headers, _ = served
        failures = await asyncio.to_thread(fuzz, url, headers)
        assert failures == [], "\n\n".join(failures)
