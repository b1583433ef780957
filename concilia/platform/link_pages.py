"""The pages behind one-click answer links (README: match lifecycle), shared by offers and demands.

`GET /r/{token}` shows the proposal and a form with two buttons; only `POST` (form field
`answer=accept|decline`) acts, because mail scanners prefetch links. A tampered token gets
400, an expired one 410, an answered link or an ended proposal 409; none of them changes
anything. Pages are server-rendered, autoescaped Jinja2, with no JavaScript.

The urlencoded form is parsed here with urllib.parse rather than with python-multipart:
it is one short field, and a parser for multipart uploads would be a dependency (and an
attack surface) for nothing else."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from concilia import wording
from concilia.contract.common import WeeklySlot
from concilia.contract.matches import Answer, Party
from concilia.platform.answer_links import ExpiredLink, LinkClaims, LinkSigner, TamperedLink
from concilia.platform.answers import Refusal

TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_FORM_BYTES = 1024
_FORM_ANSWERS = {"accept": Answer.ACCEPTED, "decline": Answer.DECLINED}
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


@dataclass(frozen=True)
class LinkView:
    """What a service shows for a link: the recipient's language, the proposal's rows
    (label, value) already in words, and why it can no longer be answered (if so)."""

    lang: str
    heading: str = ""
    rows: Sequence[tuple[str, str]] = field(default_factory=tuple)
    expires_at: datetime | None = None
    refusal: Refusal | None = None


Show = Callable[[LinkClaims], Awaitable[LinkView]]
Act = Callable[[LinkClaims, Answer], Awaitable[LinkView]]


def answer_link_router(signer: LinkSigner, party: Party, show: Show, act: Act) -> APIRouter:
    """GET and POST /r/{token} for `party`'s links; `show` reads the proposal,
    `act` applies the answer (both return a view whose `refusal` tells why not)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/r/{token}")
    async def page(token: str) -> HTMLResponse:
        claims = _claims(signer, token, party)
        if isinstance(claims, HTMLResponse):
            return claims
        view = await show(claims)
        if view.refusal is not None:
            return refused(view, party)
        return render(200, "answer_page.html.j2", view, party, token=token)

    @router.post("/r/{token}")
    async def answer(token: str, request: Request) -> HTMLResponse:
        claims = _claims(signer, token, party)
        if isinstance(claims, HTMLResponse):
            return claims
        given = await form_answer(request)
        if given is None:
            return status_page(400, "bad_answer", None, party)
        view = await act(claims, given)
        if view.refusal is not None:
            return refused(view, party)
        return render(200, "answer_done.html.j2", view, party, answer=given.value)

    return router


async def form_answer(request: Request) -> Answer | None:
    """The `answer` field of an urlencoded form (accept or decline), else None."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=5)
    except ValueError:  # more fields than a form of ours holds
        return None
    values = form.get("answer", [])
    return _FORM_ANSWERS.get(values[0]) if len(values) == 1 else None


def refused(view: LinkView, party: Party) -> HTMLResponse:
    if view.refusal is Refusal.CLOSED:
        return status_page(410, "expired", view.lang, party)
    return status_page(409, view.refusal.value if view.refusal else "ended", view.lang, party)


def status_page(status: int, reason: str, lang: str | None, party: Party) -> HTMLResponse:
    """A short page saying why the link does nothing; both languages when unknown."""
    view = LinkView(lang=lang or "")
    return render(status, "answer_status.html.j2", view, party, reason=reason)


def render(status: int, template: str, view: LinkView, party: Party, **extra: Any) -> HTMLResponse:
    """A page in the reader's language and register: a requester is a person (Italian
    "tu"), a provider an organisation (Italian "voi"), as in their e-mails."""
    html = (
        environment()
        .get_template(template)
        .render(
            view=view,
            langs=[view.lang] if view.lang in ("it", "en") else ["it", "en"],
            until=when(view.expires_at, view.lang) if view.expires_at else None,
            provider=party is Party.PROVIDER,
            **extra,
        )
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _claims(signer: LinkSigner, token: str, party: Party) -> LinkClaims | HTMLResponse:
    try:
        return signer.read(token, party)
    except ExpiredLink:
        return status_page(410, "expired", None, party)
    except TamperedLink:
        return status_page(400, "tampered", None, party)


# Words for the pages: the same as the e-mails' (concilia.wording), so a page never
# describes a proposal differently from the e-mail that linked to it.


def it_or_en(lang: str | None) -> str:
    return wording.language_of(lang)


def service_words(service_type: str, lang: str) -> str:
    return wording.service_label(service_type, lang)


def hours_words(slots: Sequence[WeeklySlot | dict[str, str]], lang: str) -> str:
    """`lunedì 14:00–19:00; mercoledì 16:30–18:30`, in week order."""
    return "; ".join(wording.hours([WeeklySlot.model_validate(s) for s in slots], lang))


def languages_words(codes: Sequence[str], lang: str) -> str:
    return wording.languages(codes, lang) or "—"


def price_words(price: float, unit: str, welfare_eligible: bool, lang: str) -> str:
    """`120 € al mese, pagabile con i crediti welfare` / `€120 per month, not payable with
    welfare credits`."""
    return wording.price_and_credits(price, unit, welfare_eligible, lang)


def age_words(years: int, lang: str) -> str:
    return wording.age(years, lang)


def place_words(address: str | None, remote: bool, lang: str) -> str:
    return wording.place(address, remote, lang)


def when(moment: datetime, lang: str) -> str:
    """`giovedì 28 novembre alle 14:30` / `Thursday 28 November at 14:30 (Italian time)`."""
    return wording.deadline(moment, lang)
