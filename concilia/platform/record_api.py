"""The HTTP side of record keeping shared by the offers and demands APIs: who may read or
write, pages, If-Match, and the problem answers for record-keeping errors."""

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from concilia.platform.auth import Principal, Role
from concilia.platform.changes import Conflict, InvalidChange
from concilia.platform.problems import Problem, problem_response
from concilia.platform.records import IdempotencyMismatch, NotFound

T = TypeVar("T")
Authenticate = Callable[..., Awaitable[Principal]]


class Page(BaseModel, Generic[T]):
    """One page of records; pass `next_cursor` back as `cursor` for the next (null: last)."""

    items: list[T]
    next_cursor: str | None


def parse_if_match(value: str | None) -> int | None:
    """The record version an `If-Match` header names ("3", "\"3\"" or W/"3"); None if absent."""
    if value is None:
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise InvalidChange(
            [{"field": "If-Match", "message": "expected a record version", "type": "if_match"}]
        )
    return int(tag)


def readers(authenticate: Authenticate, role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting `role` and operators (who read everything), else 403."""

    async def reader(principal: Principal = Depends(authenticate)) -> Principal:  # noqa: B008
        if not (principal.has(role) or principal.is_operator):
            raise Problem(403, f"The {role.value} or operator role is required")
        return principal

    return reader


def writers(authenticate: Authenticate, role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only `role` (operators do not write), else 403."""

    async def writer(principal: Principal = Depends(authenticate)) -> Principal:  # noqa: B008
        if not principal.has(role):
            raise Problem(403, f"The {role.value} role is required")
        return principal

    return writer


def read_scope(principal: Principal) -> dict[str, Any]:
    """Operators read every organisation's records; everyone else only their own."""
    return {} if principal.is_operator else {"organization_id": principal.org}


def write_scope(principal: Principal) -> dict[str, Any]:
    """Changes are always confined to the caller's own organisation."""
    return {"organization_id": principal.org}


def install_record_handlers(app: FastAPI) -> None:
    """Map the record-keeping exceptions to RFC 9457 problems."""

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(404, f"No record {exc}", instance=request.url.path)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem_response(409, str(exc), instance=request.url.path)

    @app.exception_handler(InvalidChange)
    async def _invalid(request: Request, exc: InvalidChange) -> JSONResponse:
        fields = sorted({e["field"] for e in exc.errors})
        return problem_response(
            422,
            "Invalid fields: " + ", ".join(fields),
            instance=request.url.path,
            errors=exc.errors,
        )

    @app.exception_handler(IdempotencyMismatch)
    async def _mismatch(request: Request, exc: IdempotencyMismatch) -> JSONResponse:
        return problem_response(
            422,
            "This Idempotency-Key was already used with a different request body",
            instance=request.url.path,
            errors=[{"field": "Idempotency-Key", "message": "reused with another body"}],
        )
