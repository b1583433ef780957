"""The HTTP side of record keeping shared by the offers and demands APIs: who may read or
write, pages, If-Match, and the problem answers for record-keeping errors."""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from concilia.contract.taxonomy import ServiceType
from concilia.platform.auth import Principal, Role
from concilia.platform.changes import Conflict, Document, InvalidChange
from concilia.platform.problems import PROBLEM_RESPONSES, Problem, problem_response
from concilia.platform.records import IdempotencyKey, IdempotencyMismatch, NotFound, RecordKeeper

T = TypeVar("T")
CreateT = TypeVar("CreateT", bound=BaseModel)
UpdateT = TypeVar("UpdateT", bound=BaseModel)
PublicT = TypeVar("PublicT", bound=BaseModel)
Authenticate = Callable[..., Awaitable[Principal]]
IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
IF_MATCH_PATTERN = r'^(W/)?"?[0-9]{1,18}"?$'
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=IF_MATCH_PATTERN,
        description="The record version from the last ETag; a stale one is a 409",
    ),
]
# What encode_cursor makes: unpadded base64url, well under 512 characters.
Cursor = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,512}$")]


class Page(BaseModel, Generic[T]):
    """One page of records; pass `next_cursor` back as `cursor` for the next (null: last)."""

    items: list[T]
    next_cursor: str | None


_VERSION_TAG = re.compile(r'(?:W/)?"?([0-9]{1,18})"?')


def parse_if_match(value: str | None) -> int | None:
    """The record version an `If-Match` header names ("3", "\"3\"" or W/"3"); None if absent.
    Only ASCII digits: `str.isdigit` also accepts "²" or Arabic-Indic digits."""
    if value is None:
        return None
    tag = _VERSION_TAG.fullmatch(value.strip())
    if tag is None:
        raise InvalidChange(
            [{"field": "If-Match", "message": "expected a record version", "type": "if_match"}]
        )
    return int(tag.group(1))


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
            errors=[
                {
                    "field": "Idempotency-Key",
                    "message": "reused with another body",
                    "type": "idempotency_key_reused",
                }
            ],
        )


@dataclass(frozen=True)
class RecordKind(Generic[CreateT, UpdateT, PublicT]):
    """What differs between the offers and the demands API: names, role, contract models."""

    name: str  # singular: "offer"
    plural: str  # the path segment and tag: "offers"
    role: Role  # who writes (operators read)
    create: type[CreateT]
    update: type[UpdateT]
    public: type[PublicT]
    status: type[StrEnum]
    to_public: Callable[[Document], PublicT]
    create_verb: str  # "publish": the POST's summary and operation id


def record_router(
    kind: RecordKind[CreateT, UpdateT, PublicT],
    keeper: RecordKeeper[CreateT, UpdateT],
    authenticate: Authenticate,
) -> APIRouter:
    """The five record routes of /v1/{plural}: `role` writes its own records, operators read
    all. The concrete contract models are set on each route so the OpenAPI names them."""
    router = APIRouter(prefix=f"/v1/{kind.plural}", tags=[kind.plural], responses=PROBLEM_RESPONSES)
    Reader = Annotated[Principal, Depends(readers(authenticate, kind.role))]
    Writer = Annotated[Principal, Depends(writers(authenticate, kind.role))]
    RecordId = Annotated[str, Path(alias=f"{kind.name}_id")]
    one = f"/{{{kind.name}_id}}"

    async def create(
        payload: CreateT,
        caller: Writer,
        response: Response,
        idempotency_key: IdempotencyHeader = None,
    ) -> PublicT:
        key = (
            IdempotencyKey.of(caller.org, idempotency_key, payload.model_dump(mode="json"))
            if idempotency_key
            else None
        )
        outcome = await keeper.create(payload, caller.org, key)
        record = kind.to_public(outcome.document)
        response.headers["Location"] = f"/v1/{kind.plural}/{outcome.document['_id']}"
        response.headers["ETag"] = f'"{outcome.document["version"]}"'
        if not outcome.changed:
            response.headers["Idempotent-Replayed"] = "true"
        return record

    async def get_one(record_id: RecordId, caller: Reader, response: Response) -> PublicT:
        document = await keeper.get(record_id, read_scope(caller))
        response.headers["ETag"] = f'"{document["version"]}"'
        return kind.to_public(document)

    async def list_page(
        caller: Reader,
        service_type: ServiceType | None = None,
        status: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Cursor = None,
    ) -> Page[PublicT]:
        found, next_cursor = await keeper.page(
            read_scope(caller), service_type, status, limit, cursor
        )
        return Page[kind.public](  # type: ignore[name-defined]
            items=[kind.to_public(d) for d in found], next_cursor=next_cursor
        )

    async def revise(
        record_id: RecordId,
        update: UpdateT,
        caller: Writer,
        response: Response,
        if_match: IfMatchHeader = None,
    ) -> PublicT:
        outcome = await keeper.revise(
            record_id, write_scope(caller), update, parse_if_match(if_match)
        )
        response.headers["ETag"] = f'"{outcome.document["version"]}"'
        return kind.to_public(outcome.document)

    async def withdraw(
        record_id: RecordId, caller: Writer, response: Response, if_match: IfMatchHeader = None
    ) -> PublicT:
        outcome = await keeper.withdraw(record_id, write_scope(caller), parse_if_match(if_match))
        response.headers["ETag"] = f'"{outcome.document["version"]}"'
        return kind.to_public(outcome.document)

    page_model = Page[kind.public]  # type: ignore[name-defined]
    _typed(create, payload=kind.create, return_=kind.public)
    _typed(get_one, return_=kind.public)
    _typed(list_page, status=kind.status | None, return_=page_model)
    _typed(revise, update=kind.update, return_=kind.public)
    _typed(withdraw, return_=kind.public)
    router.add_api_route(
        "",
        create,
        methods=["POST"],
        status_code=201,
        name=kind.create_verb,
        summary=f"{kind.create_verb.capitalize()} {_article(kind.name)} {kind.name}",
    )
    router.add_api_route(
        one, get_one, methods=["GET"], name=f"get_{kind.name}", summary=f"One {kind.name}"
    )
    router.add_api_route(
        "",
        list_page,
        methods=["GET"],
        name=f"list_{kind.plural}",
        summary=f"{kind.plural.capitalize()} in creation order, one page at a time",
    )
    router.add_api_route(
        one,
        revise,
        methods=["PATCH"],
        summary=f"Change {_article(kind.name)} {kind.name} (any field but service_type)",
    )
    router.add_api_route(
        one,
        withdraw,
        methods=["DELETE"],
        summary=f"Withdraw {_article(kind.name)} {kind.name} (idempotent)",
    )
    return router


def _typed(route: Callable[..., Any], return_: Any, **parameters: Any) -> None:
    """Give a generic route its concrete models: FastAPI reads them from the annotations."""
    route.__annotations__.update(parameters, **{"return": return_})


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"
