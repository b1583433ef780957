"""The HTTP shell every service shares: health, readiness, metrics, problem errors, auth.

Before any body is read, a request guard answers 401 to a /v1 request without a valid bearer
token and 413 to a body over the limit; an unexpected error is a counted RFC 9457 500."""

import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from concilia.platform.auth import InvalidToken, Principal, verify_token
from concilia.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS
from concilia.platform.problems import Problem, install_problem_handlers, problem_response

log = logging.getLogger("concilia.http")
DEFAULT_MAX_BODY_BYTES = 1_048_576

ReadinessCheck = tuple[str, Callable[[], Awaitable[None]]]
Templates = Callable[[], list[tuple[re.Pattern[str], str]]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    *,
    service: str,
    title: str,
    lifespan: Lifespan,
    readiness: Sequence[ReadinessCheck],
    version: str = "1.0.0",
    description: str = "",
    reported: Sequence[ReadinessCheck] = (),
    bearer_secret: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    write_rate_per_minute: int | None = None,
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics and RFC 9457 errors. `readiness`
    checks decide /readyz; `reported` ones are only shown there (under "reported").
    With `bearer_secret`, every /v1 request needs a valid token before its body is read."""
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    install_problem_handlers(app)
    app.add_middleware(
        RequestGuard,
        secret=bearer_secret,
        max_body_bytes=max_body_bytes,
        writes=WriteLimit(write_rate_per_minute) if write_rate_per_minute else None,
    )

    @app.get("/healthz", tags=["ops"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["ops"], summary="Broker and database are reachable")
    async def readyz() -> JSONResponse:
        checks = await _run_checks(readiness)
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, object] = {
            "status": "ready" if ready else "not ready",
            "service": service,
            "checks": checks,
        }
        if reported:
            body["reported"] = await _run_checks(reported)
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Added last, so outermost: it counts what the guard refuses too.
    app.add_middleware(RequestMetrics, service=service, templates=lambda: _templates(app))
    return app


async def _run_checks(checks: Sequence[ReadinessCheck]) -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in checks:
        try:
            await check()
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"unavailable: {exc.__class__.__name__}: {exc}"[:300]
    return results


def _templates(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """The OpenAPI paths as patterns, for requests no route took (made once)."""
    templates: list[tuple[re.Pattern[str], str]] | None = getattr(app.state, "_templates", None)
    if templates is None:
        templates = [
            (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in app.openapi().get("paths", {})
        ]
        app.state._templates = templates
    return templates


def _route_template(scope: Scope, templates: Templates) -> str:
    """The route's path template: the one routing chose, else (a request the guard answered)
    the OpenAPI path it fits, else "unmatched" (bounded label values)."""
    route = scope.get("route")
    if route is not None and isinstance(getattr(route, "path", None), str):
        return str(route.path)
    path = scope["path"]
    return next((template for pattern, template in templates() if pattern.match(path)), "unmatched")


class RequestMetrics:
    """Pure ASGI, outermost: counts every HTTP request by route template and status and
    times it; an unexpected error is logged and answered as an RFC 9457 500. (Starlette's
    BaseHTTPMiddleware did the same with a task group and memory streams per request.)"""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        templates: Templates,
    ) -> None:
        self.app = app
        self.service = service
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        except Exception:
            log.exception("unexpected error", extra={"path": scope["path"]})
            if status is not None:  # too late for another answer
                raise
            status = 500
            response = problem_response(
                500, "An unexpected error occurred; it has been logged", instance=scope["path"]
            )
            await response(scope, receive, send)
        finally:
            route = _route_template(scope, self.templates)
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, route, str(status or 500)).inc()
            HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)


class RequestGuard:
    """Pure ASGI, before routing: 401 for a /v1 request without a valid bearer token (when
    a secret is given) and 413 for a body over `max_body_bytes` — both before the body is
    read, so an anonymous 400 MB upload costs nothing."""

    def __init__(
        self,
        app: ASGIApp,
        secret: str | None,
        max_body_bytes: int,
        writes: "WriteLimit | None" = None,
    ) -> None:
        self.app = app
        self.secret = secret
        self.max_body_bytes = max_body_bytes
        self.writes = writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers) or self._throttled(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> JSONResponse | None:
        path: str = scope["path"]
        if path == "/v1" or path.startswith("/v1/"):
            problem = self._unauthenticated(scope, headers.get("authorization"))
            if problem is not None:
                return problem
        length = headers.get("content-length")
        if length is not None and (not length.isascii() or not length.isdigit()):
            return problem_response(400, "Content-Length is not a number", instance=path)
        if length is not None and int(length) > self.max_body_bytes:
            return _too_large(path, self.max_body_bytes)
        return None

    def _throttled(self, scope: Scope, headers: dict[str, str]) -> JSONResponse | None:
        """429 with Retry-After when the caller's organisation writes too fast."""
        path: str = scope["path"]
        if self.writes is None or self.secret is None or scope["method"] in SAFE_METHODS:
            return None
        if not path.startswith("/v1/") and path != "/v1":
            return None
        wait = self.writes.take(scope[PRINCIPAL][1].org)  # verified just before
        if wait is None:
            return None
        return problem_response(
            429,
            "Too many writes for this organisation; retry after the indicated delay",
            instance=path,
            headers={"Retry-After": str(wait)},
        )

    def _unauthenticated(self, scope: Scope, authorization: str | None) -> JSONResponse | None:
        """401 unless the bearer token verifies; the Principal it names is kept in the scope
        (with the token) so the route's dependency need not verify it again."""
        if self.secret is None:
            return None
        challenge = {"WWW-Authenticate": "Bearer"}
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return problem_response(401, "A bearer token is required", headers=challenge)
        try:
            scope[PRINCIPAL] = (token.strip(), verify_token(self.secret, token.strip()))
        except InvalidToken as exc:
            return problem_response(401, f"Invalid token: {exc}", headers=challenge)
        return None

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the body as it streams in; over the limit, answer 413 at once and tell the
        app the client left (whatever it answers then is dropped)."""
        seen = 0
        answered = False

        async def counting_receive() -> Message:
            nonlocal seen, answered
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes and not answered:
                    answered = True
                    await _too_large(scope["path"], self.max_body_bytes)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The scope key where the RequestGuard keeps (token, Principal) once the token verified.
PRINCIPAL = "concilia.principal"


class WriteLimit:
    """A token bucket per organisation: `per_minute` writes a minute, as a burst too. Held in
    this process: N instances allow N times the rate (enough against one runaway client)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # org -> (tokens, at)

    def take(self, org: str) -> int | None:
        """None if `org` may write now (one token taken), else the seconds to wait."""
        now = self.clock()
        tokens, at = self.buckets.get(org, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self.buckets[org] = (tokens - 1, now)
            return None
        self.buckets[org] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))


def _too_large(path: str, limit: int) -> JSONResponse:
    return problem_response(413, f"The request body is larger than {limit} bytes", instance=path)


_bearer = HTTPBearer(auto_error=False, description="JWT signed HS256, aud=concilia")


def principal_dependency(secret: str) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that turns the bearer token into a Principal or answers 401
    (the one the RequestGuard verified for this very token, if it did)."""

    async def current_principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "A bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        verified: tuple[str, Principal] | None = request.scope.get(PRINCIPAL)
        if verified is not None and verified[0] == credentials.credentials:
            return verified[1]
        try:
            return verify_token(secret, credentials.credentials)
        except InvalidToken as exc:
            raise Problem(
                401, f"Invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
            ) from exc

    return current_principal
