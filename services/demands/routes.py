"""HTTP entry points for demands: authenticate, validate, call the store, shape the answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from concilia.contract.demands import DemandCreate, DemandPublic, DemandStatus, DemandUpdate
from concilia.contract.taxonomy import ServiceType
from concilia.platform.auth import Principal, Role
from concilia.platform.problems import PROBLEM_RESPONSES
from concilia.platform.record_api import (
    Authenticate,
    Page,
    parse_if_match,
    read_scope,
    readers,
    write_scope,
    writers,
)
from concilia.platform.records import IdempotencyKey
from services.demands import domain
from services.demands.store import DemandStore

IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match")]


def demands_router(store: DemandStore, authenticate: Authenticate) -> APIRouter:
    """The /v1/demands routes: requesters write their own demands, operators read all."""
    router = APIRouter(prefix="/v1/demands", tags=["demands"], responses=PROBLEM_RESPONSES)
    Reader = Annotated[Principal, Depends(readers(authenticate, Role.REQUESTER))]
    Writer = Annotated[Principal, Depends(writers(authenticate, Role.REQUESTER))]

    @router.post("", status_code=201, summary="Submit a demand")
    async def submit(
        payload: DemandCreate,
        caller: Writer,
        response: Response,
        idempotency_key: IdempotencyHeader = None,
    ) -> DemandPublic:
        key = (
            IdempotencyKey.of(caller.org, idempotency_key, payload.model_dump(mode="json"))
            if idempotency_key
            else None
        )
        outcome = await store.submit(payload, caller.org, key)
        demand = domain.public(outcome.document)
        response.headers["Location"] = f"/v1/demands/{demand.id}"
        response.headers["ETag"] = f'"{demand.version}"'
        if not outcome.changed:
            response.headers["Idempotent-Replayed"] = "true"
        return demand

    @router.get("/{demand_id}", summary="One demand")
    async def get_demand(demand_id: str, caller: Reader, response: Response) -> DemandPublic:
        demand = domain.public(await store.get(demand_id, read_scope(caller)))
        response.headers["ETag"] = f'"{demand.version}"'
        return demand

    @router.get("", summary="Demands in creation order, one page at a time")
    async def list_demands(
        caller: Reader,
        service_type: ServiceType | None = None,
        status: DemandStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: str | None = None,
    ) -> Page[DemandPublic]:
        found, next_cursor = await store.page(
            read_scope(caller), service_type, status, limit, cursor
        )
        return Page[DemandPublic](items=[domain.public(o) for o in found], next_cursor=next_cursor)

    @router.patch("/{demand_id}", summary="Change a demand (any field but service_type)")
    async def revise(
        demand_id: str,
        update: DemandUpdate,
        caller: Writer,
        response: Response,
        if_match: IfMatchHeader = None,
    ) -> DemandPublic:
        outcome = await store.revise(
            demand_id, write_scope(caller), update, parse_if_match(if_match)
        )
        demand = domain.public(outcome.document)
        response.headers["ETag"] = f'"{demand.version}"'
        return demand

    @router.delete("/{demand_id}", summary="Withdraw a demand (idempotent)")
    async def withdraw(demand_id: str, caller: Writer) -> DemandPublic:
        return domain.public((await store.withdraw(demand_id, write_scope(caller))).document)

    return router
