"""The requester's one-click answer link (`{DEMANDS_PUBLIC_URL}/r/{token}`): the proposed
offer in words (title, service, address or online, hours, price) and the answer, applied
exactly like the API's, single use."""

from fastapi import APIRouter

from concilia.contract.matches import Answer, Party
from concilia.platform.answer_links import LinkClaims, LinkSigner
from concilia.platform.answers import AnswerRefused, Refusal
from concilia.platform.changes import Document, now_ms
from concilia.platform.link_pages import (
    LinkView,
    answer_link_router,
    hours_words,
    it_or_en,
    place_words,
    price_words,
    service_words,
)
from concilia.platform.records import NotFound
from services.demands import domain_matches
from services.demands.store import DemandStore


def requester_links_router(store: DemandStore, signer: LinkSigner) -> APIRouter:
    """GET and POST /r/{token} for requesters."""

    async def show(claims: LinkClaims) -> LinkView:
        try:
            demand = await store.get(claims.record_id, {})
        except NotFound:
            return LinkView(lang="", refusal=Refusal.ENDED)
        lang = it_or_en(demand["requester"].get("language"))
        try:
            match = domain_matches.answerable(
                demand, now_ms(), match_id=claims.match_id, single_use=True
            )
        except AnswerRefused as refused:
            return LinkView(lang=lang, refusal=refused.refusal)
        return proposal_view(demand, match, lang)

    async def act(claims: LinkClaims, given: Answer) -> LinkView:
        try:
            outcome = await store.answer(
                claims.record_id, {}, given, match_id=claims.match_id, single_use=True
            )
        except NotFound:
            return LinkView(lang="", refusal=Refusal.ENDED)
        except AnswerRefused as refused:
            demand = await store.get(claims.record_id, {})
            return LinkView(
                lang=it_or_en(demand["requester"].get("language")), refusal=refused.refusal
            )
        return LinkView(lang=it_or_en(outcome.document["requester"].get("language")))

    return answer_link_router(signer, Party.REQUESTER, show, act)


def proposal_view(demand: Document, match: Document, lang: str) -> LinkView:
    """The proposed offer, in words, for the requester's page."""
    it = lang == "it"
    offer = demand.get("match_offer") or {}
    rows = [("Servizio" if it else "Service", service_words(demand["service_type"], lang))]
    if offer:
        rows.insert(0, ("Offerta" if it else "Offer", offer["title"]))
        where = place_words(offer.get("address"), offer["remote"], lang)
        rows.append(("Dove" if it else "Where", where))
        rows.append(("Orari" if it else "Hours", hours_words(offer["availability"], lang)))
        price = price_words(
            offer["price_eur"], offer["price_unit"], offer["welfare_eligible"], lang
        )
        rows.append(("Prezzo" if it else "Price", price))
    rows.append(("Posti" if it else "Seats", str(match["seats"])))
    heading = "Una proposta per la tua richiesta" if it else "A proposal for your request"
    return LinkView(lang=lang, heading=heading, rows=rows, expires_at=match.get("expires_at"))
