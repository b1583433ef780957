"""HTTP entry points for offers: authenticate, validate, call the store, shape the answer."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from concilia.contract.offers import OfferCreate, OfferPublic, OfferStatus, OfferUpdate
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
from services.offers import domain
from services.offers.store import OfferStore

IdempotencyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match")]


def offers_router(store: OfferStore, authenticate: Authenticate) -> APIRouter:
    """The /v1/offers routes: providers write their own offers, operators read all."""
    router = APIRouter(prefix="/v1/offers", tags=["offers"], responses=PROBLEM_RESPONSES)
    Reader = Annotated[Principal, Depends(readers(authenticate, Role.PROVIDER))]
    Writer = Annotated[Principal, Depends(writers(authenticate, Role.PROVIDER))]

    @router.post("", status_code=201, summary="Publish an offer")
    async def publish(
        payload: OfferCreate,
        caller: Writer,
        response: Response,
        idempotency_key: IdempotencyHeader = None,
    ) -> OfferPublic:
        key = (
            IdempotencyKey.of(caller.org, idempotency_key, payload.model_dump(mode="json"))
            if idempotency_key
            else None
        )
        outcome = await store.publish(payload, caller.org, key)
        offer = domain.public(outcome.document)
        response.headers["Location"] = f"/v1/offers/{offer.id}"
        response.headers["ETag"] = f'"{offer.version}"'
        if not outcome.changed:
            response.headers["Idempotent-Replayed"] = "true"
        return offer

    @router.get("/{offer_id}", summary="One offer")
    async def get_offer(offer_id: str, caller: Reader, response: Response) -> OfferPublic:
        offer = domain.public(await store.get(offer_id, read_scope(caller)))
        response.headers["ETag"] = f'"{offer.version}"'
        return offer

    @router.get("", summary="Offers in creation order, one page at a time")
    async def list_offers(
        caller: Reader,
        service_type: ServiceType | None = None,
        status: OfferStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: str | None = None,
    ) -> Page[OfferPublic]:
        found, next_cursor = await store.page(
            read_scope(caller), service_type, status, limit, cursor
        )
        return Page[OfferPublic](items=[domain.public(o) for o in found], next_cursor=next_cursor)

    @router.patch("/{offer_id}", summary="Change an offer (any field but service_type)")
    async def revise(
        offer_id: str,
        update: OfferUpdate,
        caller: Writer,
        response: Response,
        if_match: IfMatchHeader = None,
    ) -> OfferPublic:
        outcome = await store.revise(
            offer_id, write_scope(caller), update, parse_if_match(if_match)
        )
        offer = domain.public(outcome.document)
        response.headers["ETag"] = f'"{offer.version}"'
        return offer

    @router.delete("/{offer_id}", summary="Withdraw an offer (idempotent)")
    async def withdraw(offer_id: str, caller: Writer) -> OfferPublic:
        return domain.public((await store.withdraw(offer_id, write_scope(caller))).document)

    return router
