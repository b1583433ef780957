"""What each e-mail says, as plain words in the reader's language; the two layouts
(`mail.txt.j2`, `mail.html.j2`) only lay a MailView out.

Names, never internal ids: the provider is named by its contact's name (or the offer's title),
the requester never in a proposal; contact details appear only once both have accepted."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from concilia.contract.matches import DemandSnapshot, MatchEventData, OfferSnapshot
from services.notifier.domain import wording as w


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


def greeting(name: str, lang: str) -> str:
    return f"Gentile {w.single_line(name)}," if lang == "it" else f"Dear {w.single_line(name)},"


def title_of(match: MatchEventData) -> str:
    return w.single_line(snapshots(match)[0].title)


def provider_name(request: MailRequest) -> str:
    """The provider as the requester knows it: its contact's name, else the offer's title."""
    if request.other is not None:
        return w.single_line(request.other.name)
    return title_of(request.match)


def offer_facts(match: MatchEventData, lang: str, provider: str | None) -> tuple[Fact, ...]:
    """The offer as the requester reads it: service, provider, where, hours, price."""
    offer = snapshots(match)[0]
    it = lang == "it"
    if offer.remote or not offer.address:
        where = "a distanza (online)" if it else "online"
    else:
        where = w.single_line(offer.address)
    if offer.welfare_eligible:
        welfare = "pagabile con i crediti welfare" if it else "payable with welfare credits"
    else:
        welfare = "non pagabile con i crediti welfare" if it else "not payable with welfare credits"
    facts = [
        Fact("Servizio" if it else "Service", (f"{title_of(match)} ({_service(match, lang)})",)),
    ]
    if provider:
        facts.append(Fact("Offerto da" if it else "Provided by", (provider,)))
    facts += [
        Fact("Dove" if it else "Where", (where,)),
        Fact("Orari" if it else "Hours", tuple(w.hours(offer.availability, lang))),
        Fact(
            "Prezzo" if it else "Price",
            (f"{w.price(offer.price_eur, offer.price_unit, lang)}, {welfare}",),
        ),
    ]
    return tuple(facts)


def request_facts(match: MatchEventData, lang: str) -> tuple[Fact, ...]:
    """The request as the provider reads it: service, seats, hours, distance, age, languages;
    nothing that tells who asked."""
    offer, demand = snapshots(match)
    it = lang == "it"
    facts = [
        Fact("Servizio richiesto" if it else "Service requested", (_service(match, lang),)),
        Fact("Posti" if it else "Seats", (str(match.seats),)),
        Fact("Orari richiesti" if it else "Hours needed", tuple(w.hours(demand.needed, lang))),
    ]
    distance = match.reasons.get("distance_km")
    if offer.remote:
        facts.append(
            Fact(
                "Distanza" if it else "Distance",
                ("servizio a distanza" if it else "remote service",),
            )
        )
    elif isinstance(distance, int | float):
        km = w.number(float(distance), lang)
        far = f"a {km} km dalla vostra sede" if it else f"{km} km from your premises"
        facts.append(Fact("Distanza" if it else "Distance", (far,)))
    if demand.beneficiary_age is not None:
        age = demand.beneficiary_age
        said = w.count(age, "anno", "anni") if it else w.count(age, "year", "years")
        facts.append(Fact("Età del beneficiario" if it else "Beneficiary's age", (said,)))
    if demand.languages:
        facts.append(Fact("Lingue" if it else "Languages", (w.languages(demand.languages, lang),)))
    return tuple(facts)


def requester_reasons(
    reasons: dict[str, Any], offer: OfferSnapshot, demand: DemandSnapshot, lang: str
) -> list[str]:
    """Why the offer fits, in words: `a 0,4 km da te`, `copre entrambi gli orari richiesti`…
    Unknown reason codes are left out rather than shown raw."""
    it = lang == "it"
    codes = reasons.get("codes") or []
    said: list[str] = []
    distance = reasons.get("distance_km")
    if "remote" in codes or (offer.remote and not isinstance(distance, int | float)):
        said.append("servizio a distanza, senza spostamenti" if it else "remote, no travel needed")
    elif isinstance(distance, int | float):
        km = w.number(float(distance), lang)
        said.append(f"a {km} km da te" if it else f"{km} km from you")
    wanted = len(demand.needed)
    if wanted == 1:
        said.append("copre l'orario richiesto" if it else "covers the time you asked for")
    elif wanted == 2:
        said.append(
            "copre entrambi gli orari richiesti" if it else "covers both time slots you asked for"
        )
    elif wanted > 2:
        said.append(
            f"copre tutti i {wanted} orari richiesti" if it else f"covers all {wanted} time slots"
        )
    budget = reasons.get("max_price_eur")
    if isinstance(budget, int | float):
        amount = w.euros(float(budget), lang)
        said.append(f"entro il tuo budget di {amount}" if it else f"within your budget of {amount}")
    if "language_shared" in codes:
        said.append("in una lingua che hai indicato" if it else "in a language you asked for")
    if "age_in_range" in codes and demand.beneficiary_age is not None:
        age = demand.beneficiary_age
        if it:
            said.append(f"adatto a chi ha {w.count(age, 'anno', 'anni')}")
        else:
            said.append(f"suitable for age {age}")
    return said


def requester_proposal(request: MailRequest) -> MailView:
    """requester_match: the offer, who provides it, why it fits, and the requester's link."""
    match, lang = request.match, request.lang
    offer, demand = snapshots(match)
    it = lang == "it"
    title = title_of(match)
    provider = w.single_line(request.other.name) if request.other else None
    subject = (
        f"Abbiamo trovato un servizio per te: {title}"
        if it
        else f"We found a service for you: {title}"
    )
    when = w.deadline(answer_deadline(match), lang)
    link = AnswerLink(
        intro=(
            f"Per accettare o rifiutare la proposta entro {when}, apri questo link:"
            if it
            else f"To accept or decline this proposal by {when}, open this link:"
        ),
        button="Rispondi alla proposta" if it else "Answer the proposal",
        url=_required_link(request),
    )
    closing = (
        (
            "Se non rispondi entro quel termine, la proposta scade e la richiesta viene chiusa.",
            "Il fornitore ha ricevuto la richiesta senza il tuo nome né il tuo indirizzo "
            "e-mail: i contatti saranno condivisi solo quando avrete accettato entrambi.",
        )
        if it
        else (
            "If you do not answer by then, the proposal expires and your request is closed.",
            "The provider has been told about the request without your name or e-mail "
            "address: contact details are shared only once you have both accepted.",
        )
    )
    return MailView(
        lang=lang,
        subject=w.single_line(subject),
        greeting=greeting(request.recipient_name, lang),
        opening=(
            ("Abbiamo trovato un servizio che risponde alla tua richiesta.",)
            if it
            else ("We found a service that matches your request.",)
        ),
        facts=offer_facts(match, lang, provider),
        list_title="Perché te lo proponiamo:" if it else "Why we suggest it:",
        items=tuple(requester_reasons(match.reasons, offer, demand, lang)),
        link=link,
        closing=closing,
        footer_url=request.footer_url,
    )


def provider_proposal(request: MailRequest) -> MailView:
    """provider_match: what is asked and the provider's link; never who asked."""
    match, lang = request.match, request.lang
    it = lang == "it"
    title = title_of(match)
    subject = (
        f"Nuova richiesta per la vostra offerta: {title}"
        if it
        else f"New request for your offer: {title}"
    )
    when = w.deadline(answer_deadline(match), lang)
    seats = w.count(match.seats, "posto", "posti") if it else w.count(match.seats, "seat", "seats")
    held = (
        f"Abbiamo trattenuto {seats} per questa richiesta fino alla vostra risposta."
        if it
        else f"We are holding {seats} for this request until you answer."
    )
    link = AnswerLink(
        intro=(
            f"Per accettare o rifiutare la richiesta entro {when}, aprite questo link:"
            if it
            else f"To accept or decline this request by {when}, open this link:"
        ),
        button="Rispondi alla richiesta" if it else "Answer the request",
        url=_required_link(request),
    )
    privacy = (
        "Per tutelare la privacy, questa e-mail non contiene il nome né l'indirizzo e-mail di "
        "chi ha fatto la richiesta: i contatti saranno condivisi quando entrambe le parti "
        "avranno accettato."
        if it
        else "To protect privacy, this e-mail does not contain the name or e-mail address of "
        "who made the request: contact details are shared once both sides have accepted."
    )
    opening = (
        f"Una richiesta della rete Concilia Isola è stata abbinata alla vostra offerta "
        f"{w.quoted(title, lang)}."
        if it
        else f"A request from the Concilia Isola network has been matched with your offer "
        f"{w.quoted(title, lang)}."
    )
    return MailView(
        lang=lang,
        subject=w.single_line(subject),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        facts=request_facts(match, lang),
        link=link,
        closing=(held, privacy),
    )


def answer_deadline(match: MatchEventData) -> datetime:
    if match.expires_at is None:
        raise ValueError(f"match {match.match_id} has no answer deadline")
    return match.expires_at


def snapshots(match: MatchEventData) -> tuple[OfferSnapshot, DemandSnapshot]:
    if match.offer is None or match.demand is None:
        raise ValueError(f"match {match.match_id} has no offer/demand snapshot")
    return match.offer, match.demand


def _service(match: MatchEventData, lang: str) -> str:
    return w.service_label(match.service_type, lang)


def _required_link(request: MailRequest) -> str:
    if not request.answer_url:
        raise ValueError(f"{request.template} needs the reader's answer link")
    return request.answer_url
