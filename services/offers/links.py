"""The provider's one-click answer link (`{OFFERS_PUBLIC_URL}/r/{token}`): the request as
the provider may see it (service, seats, hours, age, languages; never the requester's name
or organisation) and the answer, applied exactly like the API's, single use."""

from fastapi import APIRouter

from concilia.contract.matches import Answer, Party
from concilia.platform.answer_links import LinkClaims, LinkSigner
from concilia.platform.answers import AnswerRefused, Refusal
from concilia.platform.changes import Document, now_ms
from concilia.platform.link_pages import (
    LinkView,
    age_words,
    answer_link_router,
    hours_words,
    it_or_en,
    languages_words,
    service_words,
)
from concilia.platform.records import NotFound
from services.offers import domain_matches
from services.offers.store import OfferStore


def provider_links_router(store: OfferStore, signer: LinkSigner) -> APIRouter:
    """GET and POST /r/{token} for providers."""

    async def show(claims: LinkClaims) -> LinkView:
        try:
            offer = await store.get(claims.record_id, {})
        except NotFound:
            return LinkView(lang="", refusal=Refusal.ENDED)
        lang = it_or_en(offer["contact"].get("language"))
        try:
            entry = domain_matches.answerable(offer, claims.match_id, now_ms(), single_use=True)
        except AnswerRefused as refused:
            return LinkView(lang=lang, refusal=refused.refusal)
        return proposal_view(offer, entry, lang)

    async def act(claims: LinkClaims, given: Answer) -> LinkView:
        try:
            await store.answer(claims.record_id, {}, claims.match_id, given, single_use=True)
        except NotFound:
            return LinkView(lang="", refusal=Refusal.ENDED)
        except AnswerRefused as refused:
            return LinkView(lang=await _language(store, claims), refusal=refused.refusal)
        return LinkView(lang=await _language(store, claims))

    return answer_link_router(signer, Party.PROVIDER, show, act)


def proposal_view(offer: Document, entry: Document, lang: str) -> LinkView:
    """The request, in words, for the provider's page."""
    it = lang == "it"
    demand = entry.get("demand") or {}
    rows = [
        ("Servizio" if it else "Service", service_words(offer["service_type"], lang)),
        ("Posti richiesti" if it else "Seats requested", str(entry["seats"])),
    ]
    if demand.get("needed"):
        rows.append(
            ("Orari richiesti" if it else "Hours needed", hours_words(demand["needed"], lang))
        )
    age = demand.get("beneficiary_age")
    if age is not None:
        rows.append(("Età del beneficiario" if it else "Beneficiary's age", age_words(age, lang)))
    if demand.get("languages"):
        rows.append(("Lingue" if it else "Languages", languages_words(demand["languages"], lang)))
    heading = (
        f"Una richiesta per la vostra offerta «{offer['title']}»"
        if it
        else f"A request for your offer “{offer['title']}”"
    )
    return LinkView(lang=lang, heading=heading, rows=rows, expires_at=entry.get("expires_at"))


async def _language(store: OfferStore, claims: LinkClaims) -> str:
    try:
        offer = await store.get(claims.record_id, {})
    except NotFound:
        return ""
    return it_or_en(offer["contact"].get("language"))
