"""The HTTP shell every service shares: health, readiness, metrics, problem errors, auth."""

import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match

from concilia.platform.auth import InvalidToken, Principal, verify_token
from concilia.platform.metrics import HTTP_LATENCY, HTTP_REQUESTS
from concilia.platform.problems import Problem, install_problem_handlers

ReadinessCheck = tuple[str, Callable[[], Awaitable[None]]]
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
) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics and RFC 9457 errors. `readiness`
    checks decide /readyz; `reported` ones are only shown there (under "reported")."""
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    install_problem_handlers(app)

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

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = _route_template(app, request)
        HTTP_REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(service, request.method, route).observe(time.perf_counter() - started)
        return response

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


def _route_template(app: FastAPI, request: Request) -> str:
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return getattr(route, "path", "unmatched")
    return "unmatched"


_bearer = HTTPBearer(auto_error=False, description="JWT signed HS256, aud=concilia")


def principal_dependency(secret: str) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that turns the bearer token into a Principal or answers 401."""

    async def current_principal(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "A bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        try:
            return verify_token(secret, credentials.credentials)
        except InvalidToken as exc:
            raise Problem(
                401, f"Invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
            ) from exc

    return current_principal
