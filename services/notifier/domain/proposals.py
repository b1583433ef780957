"""The proposal mails (match.proposed): the offer and why it fits for the requester, what
is asked for the provider, and each one's own answer link with the deadline in words."""

from typing import Any

from concilia import wording as w
from concilia.contract.matches import DemandSnapshot, MatchEventData, OfferSnapshot
from services.notifier.domain.views import (
    AnswerLink,
    Fact,
    MailRequest,
    MailView,
    answer_deadline,
    greeting,
    offer_facts,
    service_of,
    snapshots,
    subject,
    title_of,
)


def requester_proposal(request: MailRequest) -> MailView:
    """requester_match: the offer, who provides it, why it fits, and the requester's link."""
    match, lang = request.match, request.lang
    offer, demand = snapshots(match)
    it = lang == "it"
    title = title_of(match)
    provider = w.single_line(request.other.name) if request.other else None
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
            "The provider has been told about your request, but not your name or e-mail "
            "address: contact details are shared only once you have both accepted.",
        )
    )
    return MailView(
        lang=lang,
        subject=subject(request.template, title, lang),
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
    when = w.deadline(answer_deadline(match), lang)
    seats = w.count(match.seats, "posto", "posti") if it else w.count(match.seats, "seat", "seats")
    held = (
        f"Abbiamo riservato {seats} per questa richiesta in attesa della vostra risposta."
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
        "the person who made the request: contact details are shared once both sides have "
        "accepted."
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
        subject=subject(request.template, title, lang),
        greeting=greeting(request.recipient_name, lang),
        opening=(opening,),
        facts=request_facts(match, lang),
        link=link,
        closing=(held, privacy),
    )


def request_facts(match: MatchEventData, lang: str) -> tuple[Fact, ...]:
    """The request as the provider reads it: service, seats, hours, distance, age, languages;
    nothing that tells who asked."""
    offer, demand = snapshots(match)
    it = lang == "it"
    facts = [
        Fact("Servizio richiesto" if it else "Service requested", (service_of(match, lang),)),
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
        facts.append(
            Fact("Età del beneficiario" if it else "Beneficiary's age", (w.age(age, lang),))
        )
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
            said.append(f"adatto a chi ha {w.age(age, lang)}")
        else:
            said.append(f"suitable for someone aged {age}")
    return said


def _required_link(request: MailRequest) -> str:
    if not request.answer_url:
        raise ValueError(f"{request.template} needs the reader's answer link")
    return request.answer_url
