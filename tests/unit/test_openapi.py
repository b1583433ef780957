"""The OpenAPI documents clients generate code from (no server needed to build them)."""

from typing import Any

import pytest

from services.demands.app import create_app as demands_app
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as offers_app
from services.offers.settings import Settings as OffersSettings

SECRET = "k" * 32


def spec_of(service: str) -> dict[str, Any]:
    if service == "offers":
        return offers_app(OffersSettings(auth_jwt_secret=SECRET)).openapi()
    return demands_app(DemandsSettings(auth_jwt_secret=SECRET)).openapi()


@pytest.mark.parametrize("service", ["offers", "demands"])
class TestOpenApi:
    def test_every_record_operation_documents_its_problem_answers(self, service: str) -> None:
        """Each /v1 operation lists 401, 403, 404, 409 and 422 as RFC 9457 problems."""
        spec = spec_of(service)
        operations = [
            op
            for path, ops in spec["paths"].items()
            if path.startswith("/v1/")
            for op in ops.values()
        ]
        assert len(operations) == (8 if service == "offers" else 7)
        for op in operations:
            for status in ("401", "403", "404", "409", "422"):
                content = op["responses"][status]["content"]
                assert content["application/problem+json"]["schema"]["$ref"].endswith(
                    "/ProblemDetails"
                )

    def test_the_create_body_is_the_contract_model(self, service: str) -> None:
        """POST takes OfferCreate / DemandCreate, so clients see every field and limit."""
        spec = spec_of(service)
        body = spec["paths"][f"/v1/{service}"]["post"]["requestBody"]["content"]["application/json"]
        expected = "OfferCreate" if service == "offers" else "DemandCreate"
        assert body["schema"]["$ref"].endswith(f"/{expected}")
