"""What each e-mail says, as plain words in the reader's language (templates only lay out)."""

from dataclasses import dataclass, field
from typing import Any

from concilia.contract.matches import DemandSnapshot, MatchEventData, OfferSnapshot
from services.notifier.domain import wording as w


@dataclass(frozen=True)
class MailView:
    """Everything a template shows. `subject` is already a single line."""

    lang: str
    subject: str
    greeting_name: str
    fields: dict[str, Any] = field(default_factory=dict)


def requester_reasons(
    reasons: dict[str, Any], offer: OfferSnapshot, demand: DemandSnapshot, lang: str
) -> list[str]:
    """Why the offer fits, in words: `a 0,4 km da te`, `copre tutti i 2 orari richiesti`…
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
    elif wanted > 1:
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
        said.append(f"adatto a chi ha {age} anni" if it else f"suitable for age {age}")
    return said


def requester_view(
    match: MatchEventData,
    *,
    recipient_name: str,
    provider_name: str | None,
    lang: str,
    base_url: str,
) -> MailView:
    """The requester's mail: the offer, who provides it, where, when, how much, and why."""
    offer, demand = _snapshots(match)
    it = lang == "it"
    title = w.single_line(offer.title)
    provider = f"{w.single_line(provider_name)} ({offer.organization_id})" if provider_name else ""
    if offer.remote or not offer.address:
        where = "a distanza (online)" if it else "online"
    else:
        where = offer.address
    welfare = (
        ("pagabile con i crediti welfare" if it else "payable with welfare credits")
        if offer.welfare_eligible
        else ("non pagabile con i crediti welfare" if it else "not payable with welfare credits")
    )
    subject = (
        f"Abbiamo trovato un servizio per te: {title}"
        if it
        else f"We found a service for you: {title}"
    )
    return MailView(
        lang=lang,
        subject=w.single_line(subject),
        greeting_name=w.single_line(recipient_name),
        fields={
            "title": title,
            "service": w.service_label(match.service_type, lang),
            "provider": provider or offer.organization_id,
            "where": where,
            "hours": w.hours(offer.availability, lang),
            "price": w.price(offer.price_eur, offer.price_unit, lang),
            "welfare": welfare,
            "reasons": requester_reasons(match.reasons, offer, demand, lang),
            "seats": match.seats,
            "base_url": base_url.rstrip("/"),
        },
    )


def provider_view(match: MatchEventData, *, recipient_name: str, lang: str) -> MailView:
    """The provider's mail: what is asked (service, seats, hours, distance, age), and no
    detail of who asked: contact details are shared later, with the match lifecycle."""
    offer, demand = _snapshots(match)
    it = lang == "it"
    title = w.single_line(offer.title)
    distance = match.reasons.get("distance_km")
    if offer.remote:
        how_far = "servizio a distanza" if it else "remote service"
    elif isinstance(distance, int | float):
        km = w.number(float(distance), lang)
        how_far = f"a {km} km dalla vostra sede" if it else f"{km} km from your premises"
    else:
        how_far = ""
    age = demand.beneficiary_age
    subject = (
        f"Nuova richiesta per la vostra offerta: {title}"
        if it
        else f"New request for your offer: {title}"
    )
    return MailView(
        lang=lang,
        subject=w.single_line(subject),
        greeting_name=w.single_line(recipient_name),
        fields={
            "title": title,
            "service": w.service_label(match.service_type, lang),
            "seats": demand.seats,
            "hours": w.hours(demand.needed, lang),
            "distance": how_far,
            "age": (f"{age} anni" if it else f"{age} years") if age is not None else "",
            "languages": w.languages(demand.languages, lang),
            "organization": demand.organization_id,
        },
    )


def _snapshots(match: MatchEventData) -> tuple[OfferSnapshot, DemandSnapshot]:
    if match.offer is None or match.demand is None:
        raise ValueError(f"match {match.match_id} has no offer/demand snapshot")
    return match.offer, match.demand
