"""HTTP entry points for demands: the shared record routes, then the requester's answer to
the demand's current proposal (README: match lifecycle)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from concilia.contract.demands import DemandCreate, DemandPublic, DemandStatus, DemandUpdate
from concilia.contract.matches import Answer
from concilia.platform.auth import Principal, Role
from concilia.platform.record_api import (
    Authenticate,
    RecordKind,
    record_router,
    write_scope,
    writers,
)
from services.demands import domain
from services.demands.store import DemandStore

DEMANDS = RecordKind(
    name="demand",
    plural="demands",
    role=Role.REQUESTER,
    create=DemandCreate,
    update=DemandUpdate,
    public=DemandPublic,
    status=DemandStatus,
    to_public=domain.public,
    create_verb="submit",
)


def demands_router(store: DemandStore, authenticate: Authenticate) -> APIRouter:
    """The /v1/demands routes: requesters write their own demands and answer their
    proposals, operators read all."""
    router = record_router(DEMANDS, store, authenticate)
    Writer = Annotated[Principal, Depends(writers(authenticate, Role.REQUESTER))]

    @router.post("/{demand_id}/match/accept", summary="Accept the demand's proposed match")
    async def accept(demand_id: str, caller: Writer) -> DemandPublic:
        outcome = await store.answer(demand_id, write_scope(caller), Answer.ACCEPTED)
        return domain.public(outcome.document)

    @router.post("/{demand_id}/match/decline", summary="Decline the demand's proposed match")
    async def decline(demand_id: str, caller: Writer) -> DemandPublic:
        outcome = await store.answer(demand_id, write_scope(caller), Answer.DECLINED)
        return domain.public(outcome.document)

    return router
