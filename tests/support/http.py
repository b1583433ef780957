"""One-line HTTP calls for end-to-end tests, asserting the status they expect."""

from typing import Any

import httpx


async def created(url: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """POST `body` and return the JSON of the 201 answer."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def fetched(url: str, path: str, headers: dict[str, str]) -> Any:
    """GET and return the JSON of the 200 answer."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
