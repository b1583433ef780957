"""The requester's contact of an accepted match, asked of the demands service (which owns
it) with a short-lived operator token. Any failure shows no contact rather than an error."""

import logging
from typing import Any

import httpx

from concilia.contract.common import Contact
from concilia.platform.auth import issue_token

log = logging.getLogger("concilia.offers.requesters")
TOKEN_SECONDS = 300


class Requesters:
    """Looks up demands' requesters through GET /v1/demands/{id} of the demands API."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, secret: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._secret = secret

    async def contact(self, demand_id: str) -> dict[str, Any] | None:
        """The requester of `demand_id` as a Contact dict, or None if it cannot be had."""
        token = issue_token(
            self._secret,
            sub="offers-service",
            org="concilia",
            roles=["operator"],
            ttl_seconds=TOKEN_SECONDS,
        )
        try:
            response = await self._client.get(
                f"{self._base_url}/v1/demands/{demand_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            response.raise_for_status()
            return Contact.model_validate(response.json()["requester"]).model_dump(mode="json")
        except (httpx.HTTPError, KeyError, TypeError, ValueError):
            log.warning("requester contact unavailable", extra={"demand_id": demand_id})
            return None
