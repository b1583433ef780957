"""HTTP entry points for offers: the shared record routes, then the provider's matches and
answers (README: match lifecycle)."""

from typing import Annotated

from fastapi import APIRouter, Depends

from concilia.contract.matches import Answer, MatchState
from concilia.contract.offers import (
    OfferCreate,
    OfferMatchPublic,
    OfferPublic,
    OfferStatus,
    OfferUpdate,
)
from concilia.platform.auth import Principal, Role
from concilia.platform.record_api import (
    Authenticate,
    RecordKind,
    read_scope,
    readers,
    record_router,
    write_scope,
    writers,
)
from concilia.platform.records import NotFound
from services.offers import domain, domain_matches
from services.offers.requesters import Requesters
from services.offers.store import OfferStore

OFFERS = RecordKind(
    name="offer",
    plural="offers",
    role=Role.PROVIDER,
    create=OfferCreate,
    update=OfferUpdate,
    public=OfferPublic,
    status=OfferStatus,
    to_public=domain.public,
    create_verb="publish",
)


def offers_router(
    store: OfferStore, authenticate: Authenticate, requesters: Requesters
) -> APIRouter:
    """The /v1/offers routes: providers write their own offers and answer their matches,
    operators read all."""
    router = record_router(OFFERS, store, authenticate)
    Reader = Annotated[Principal, Depends(readers(authenticate, Role.PROVIDER))]
    Writer = Annotated[Principal, Depends(writers(authenticate, Role.PROVIDER))]

    @router.get("/{offer_id}/matches", summary="The offer's matches and their states, newest first")
    async def list_matches(offer_id: str, caller: Reader) -> list[OfferMatchPublic]:
        offer = await store.get(offer_id, read_scope(caller))
        shown = []
        for entry in reversed(offer.get("matches", [])):
            accepted = entry["state"] == MatchState.ACCEPTED
            contact = await requesters.contact(entry["demand_id"]) if accepted else None
            shown.append(domain_matches.match_public(entry, contact))
        return shown

    async def answer(
        offer_id: str, match_id: str, caller: Principal, given: Answer
    ) -> OfferMatchPublic:
        outcome = await store.answer(offer_id, write_scope(caller), match_id, given)
        entry = domain_matches.find_match(outcome.document, match_id)
        if entry is None:  # cannot happen: the answer was taken for this very match
            raise NotFound(match_id)
        return domain_matches.match_public(entry)

    @router.post("/{offer_id}/matches/{match_id}/accept", summary="Accept a proposed match")
    async def accept(offer_id: str, match_id: str, caller: Writer) -> OfferMatchPublic:
        return await answer(offer_id, match_id, caller, Answer.ACCEPTED)

    @router.post("/{offer_id}/matches/{match_id}/decline", summary="Decline a proposed match")
    async def decline(offer_id: str, match_id: str, caller: Writer) -> OfferMatchPublic:
        return await answer(offer_id, match_id, caller, Answer.DECLINED)

    return router
