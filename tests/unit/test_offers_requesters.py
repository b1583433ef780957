"""The offers service asks the demands API for an accepted match's requester: with an
operator token, and showing no contact (never an error) when that fails."""

import httpx
import pytest

from concilia.platform.auth import Role, verify_token
from services.offers.requesters import Requesters

SECRET = "s" * 32
GIULIA = {"name": "Giulia Rossi", "email": "giulia@example.org", "language": "it"}


def requesters(handler: httpx.MockTransport) -> Requesters:
    return Requesters(httpx.AsyncClient(transport=handler), "http://demands.test/", SECRET)


class TestRequesters:
    async def test_the_contact_comes_from_the_demand_read_as_an_operator(self) -> None:
        """GET /v1/demands/{id} with an operator token; the requester is the contact."""
        seen: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"id": "dem_1", "requester": GIULIA})

        assert await requesters(httpx.MockTransport(answer)).contact("dem_1") == GIULIA
        assert str(seen[0].url) == "http://demands.test/v1/demands/dem_1"
        token = seen[0].headers["Authorization"].removeprefix("Bearer ")
        assert verify_token(SECRET, token).has(Role.OPERATOR)

    @pytest.mark.parametrize(
        "failure",
        [
            lambda r: httpx.Response(503),
            lambda r: httpx.Response(200, json={"id": "dem_1"}),
            lambda r: httpx.Response(200, text="not json"),
        ],
        ids=["unavailable", "no requester", "not json"],
    )
    async def test_any_failure_shows_no_contact(self, failure: object) -> None:
        """A down or odd demands API means no contact, not an error."""
        transport = httpx.MockTransport(failure)  # type: ignore[arg-type]
        assert await requesters(transport).contact("dem_1") is None

    async def test_an_unreachable_demands_api_shows_no_contact(self) -> None:
        """A connection error is caught too."""

        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        assert await requesters(httpx.MockTransport(refuse)).contact("dem_1") is None
