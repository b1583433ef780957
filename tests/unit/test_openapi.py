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

    def test_answer_routes_are_documented_and_link_pages_are_not(self, service: str) -> None:
        """The answers (and the offer's matches) have summaries; /r/{token} pages are HTML
        for people, not part of the API."""
        paths = spec_of(service)["paths"]
        answers = (
            ["/v1/offers/{offer_id}/matches/{match_id}/accept", "/v1/offers/{offer_id}/matches"]
            if service == "offers"
            else ["/v1/demands/{demand_id}/match/accept", "/v1/demands/{demand_id}/match/decline"]
        )
        for path in answers:
            assert all(op["summary"] for op in paths[path].values())
        assert not any(path.startswith("/r/") for path in paths)
