"""The shape of every e-mail (MailView, laid out by `mail.txt.j2` and `mail.html.j2`) and
the pieces the mails share: greeting, subject, the offer's facts.

What each mail says lives beside it, as plain words in the reader's language: proposals.py,
accepted.py, endings.py, waiting.py. Names, never internal ids: the provider is named by its
contact's name (or the offer's title), the requester never before both accepted."""

from dataclasses import dataclass
from datetime import datetime

from concilia import wording as w
from concilia.contract.matches import DemandSnapshot, MatchEventData, OfferSnapshot
from concilia.contract.notifications import Template

# One subject per template (then `: <offer title or service>`).
_SUBJECTS = {
    Template.REQUESTER_MATCH: ("Abbiamo trovato un servizio per te", "We found a service for you"),
    Template.PROVIDER_MATCH: (
        "Nuova richiesta per la vostra offerta",
        "New request for your offer",
    ),
    Template.REQUESTER_ACCEPTED: ("Abbinamento confermato", "Match confirmed"),
    Template.PROVIDER_ACCEPTED: (
        "Abbinamento confermato per la vostra offerta",
        "Match confirmed for your offer",
    ),
    Template.REQUESTER_DECLINED: ("Proposta non confermata", "Proposal not confirmed"),
    Template.PROVIDER_DECLINED: ("Richiesta non confermata", "Request not confirmed"),
    Template.REQUESTER_EXPIRED: ("Proposta scaduta", "Proposal expired"),
    Template.PROVIDER_EXPIRED: ("Proposta scaduta", "Proposal expired"),
    Template.REQUESTER_CANCELLED: ("Abbinamento annullato", "Match cancelled"),
    Template.PROVIDER_CANCELLED: ("Abbinamento annullato", "Match cancelled"),
    Template.REQUESTER_WAITING: ("Richiesta in attesa", "Your request is on hold"),
}


@dataclass(frozen=True)
class Fact:
    """One row of the facts table: `Orari:` and its lines."""

    label: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class AnswerLink:
    """The reader's own one-click answer link (proposals only)."""

    intro: str
    button: str
    url: str


@dataclass(frozen=True)
class MailView:
    """Everything a layout shows, in order. `subject` is already a single line."""

    lang: str
    subject: str
    greeting: str
    opening: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()
    list_title: str = ""
    items: tuple[str, ...] = ()
    link: AnswerLink | None = None
    closing: tuple[str, ...] = ()
    footer_url: str = ""

    @property
    def signature(self) -> str:
        if self.lang == "it":
            return "Concilia Isola – rete territoriale per la conciliazione vita-lavoro"
        return "Concilia Isola – work-life balance network"


@dataclass(frozen=True)
class Contact:
    """The other side of a match, as its contact says (its e-mail shown only once accepted)."""

    name: str
    email: str


@dataclass(frozen=True)
class MailRequest:
    """What a mail is made of: the template, the match, who reads it and in which language,
    the other side's contact if known, and the reader's own answer link (proposals)."""

    template: str
    match: MatchEventData
    recipient_name: str
    lang: str
    other: Contact | None = None
    answer_url: str | None = None
    footer_url: str = ""


def subject(template: str, detail: str, lang: str) -> str:
    """One subject per template: `Proposta scaduta: Doposcuola in Isola`."""
    it, en = _SUBJECTS[template]
    return w.single_line(f"{it if lang == 'it' else en}: {detail}")


def greeting(name: str, lang: str) -> str:
    return f"Gentile {w.single_line(name)}," if lang == "it" else f"Dear {w.single_line(name)},"


def title_of(match: MatchEventData) -> str:
    return w.single_line(snapshots(match)[0].title)


def service_of(match: MatchEventData, lang: str) -> str:
    return w.service_label(match.service_type, lang)


def offer_facts(match: MatchEventData, lang: str, provider: str | None) -> tuple[Fact, ...]:
    """The offer as the requester reads it: service, provider, where, hours, price."""
    offer = snapshots(match)[0]
    it = lang == "it"
    where = w.place(offer.address, offer.remote, lang)
    price = w.price_and_credits(offer.price_eur, offer.price_unit, offer.welfare_eligible, lang)
    facts = [
        Fact("Servizio" if it else "Service", (f"{title_of(match)} ({service_of(match, lang)})",)),
    ]
    if provider:
        facts.append(Fact("Offerto da" if it else "Provided by", (provider,)))
    facts += [
        Fact("Dove" if it else "Where", (where,)),
        Fact("Orari" if it else "Hours", tuple(w.hours(offer.availability, lang))),
        Fact(
            "Prezzo" if it else "Price",
            (price,),
        ),
    ]
    return tuple(facts)


def answer_deadline(match: MatchEventData) -> datetime:
    if match.expires_at is None:
        raise ValueError(f"match {match.match_id} has no answer deadline")
    return match.expires_at


def snapshots(match: MatchEventData) -> tuple[OfferSnapshot, DemandSnapshot]:
    if match.offer is None or match.demand is None:
        raise ValueError(f"match {match.match_id} has no offer/demand snapshot")
    return match.offer, match.demand
