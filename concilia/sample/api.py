"""A tiny JSON-over-HTTP client on the standard library (the demo needs nothing more)."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class ApiError(RuntimeError):
    """An HTTP call answered with an error status (the message carries the problem detail)."""


class Api:
    """Calls one service's HTTP API with one bearer token."""

    def __init__(self, base_url: str, token: str, timeout: float = 15) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def post(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        return self._call("POST", path, body, {"Idempotency-Key": idempotency_key})

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._call("GET", f"{path}?{query}" if query else path, None, {})

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                **headers,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise ApiError(f"{method} {self.base_url}{path} answered {exc.code}: {detail}") from exc


def list_all(api: Api, path: str, limit: int = 100) -> list[dict[str, Any]]:
    """Every item of a paginated collection (follows `next_cursor` until there is none)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = api.get(path, limit=limit, cursor=cursor)
        if isinstance(page, list):  # an unpaginated list
            return items + page
        items += page.get("items") or page.get("data") or []
        cursor = page.get("next_cursor") or page.get("cursor")
        if not cursor:
            break
    return items
