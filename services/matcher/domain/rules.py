"""The matching rules (v1, as the README states them), one small function per rule.

An offer can serve a demand when no rule excludes it; `exclusions` lists every rule an
offer fails, named by the reason `match.not_found` reports, in tie-break order."""

from concilia.contract.matches import NotFoundReason
from services.matcher.domain.geo import haversine_km
from services.matcher.domain.model import Demand, Offer

REASON_ORDER: tuple[NotFoundReason, ...] = tuple(NotFoundReason)


def distance_km(offer: Offer, demand: Demand) -> float | None:
    """Distance between the offer's place and the demand's; None if the offer has no place."""
    if offer.lat is None or offer.lon is None:
        return None
    return haversine_km(offer.lat, offer.lon, demand.lat, demand.lon)


def within_distance(offer: Offer, demand: Demand) -> bool:
    """Within the demand's max distance and the offer's radius (null radius = unlimited)."""
    return within_distance_at(offer, demand, distance_km(offer, demand))


def within_distance_at(offer: Offer, demand: Demand, km: float | None) -> bool:
    """`within_distance` with the distance already worked out (None: the offer has no place)."""
    if km is None or km > demand.max_distance_km:
        return False
    return offer.radius_km is None or km <= offer.radius_km


def served_remotely(offer: Offer, demand: Demand) -> bool:
    return offer.remote and demand.accepts_remote


def reachable(offer: Offer, demand: Demand) -> bool:
    return within_distance(offer, demand) or served_remotely(offer, demand)


def covers_needed_slots(offer: Offer, demand: Demand) -> bool:
    """Every needed slot lies inside one merged availability interval of the same day."""
    return all(
        any(
            start <= slot.start and slot.end <= end
            for start, end in offer.availability.get(slot.day, ())
        )
        for slot in demand.needed
    )


def valid_when_needed(offer: Offer, demand: Demand) -> bool:
    """valid_from ≤ needed_from ≤ valid_until (null = open-ended)."""
    if demand.needed_from < offer.valid_from:
        return False
    return offer.valid_until is None or demand.needed_from <= offer.valid_until


def within_budget(offer: Offer, demand: Demand) -> bool:
    return demand.max_price_eur is None or offer.price_eur <= demand.max_price_eur


def has_seats(offer: Offer, remaining: int, demand: Demand) -> bool:
    """The offer is open and its remaining capacity holds the demand's seats."""
    return offer.open and remaining >= demand.seats


def language_constrained(offer: Offer, demand: Demand) -> bool:
    return bool(offer.languages) and bool(demand.languages)


def shares_language(offer: Offer, demand: Demand) -> bool:
    """A common language, when both name languages (either empty = no constraint)."""
    return not language_constrained(offer, demand) or bool(offer.languages & demand.languages)


def age_constrained(offer: Offer, demand: Demand) -> bool:
    return demand.beneficiary_age is not None and (
        offer.min_age is not None or offer.max_age is not None
    )


def age_in_range(offer: Offer, demand: Demand) -> bool:
    """The beneficiary's age within [min_age, max_age]; a null bound is open."""
    age = demand.beneficiary_age
    if age is None:
        return True
    if offer.min_age is not None and age < offer.min_age:
        return False
    return offer.max_age is None or age <= offer.max_age


def exclusions(offer: Offer, remaining: int, demand: Demand) -> list[NotFoundReason]:
    """Every rule the offer fails for the demand (empty: the offer can serve it)."""
    failed = {
        NotFoundReason.TOO_FAR: not reachable(offer, demand),
        NotFoundReason.NO_TIME_OVERLAP: not (
            covers_needed_slots(offer, demand) and valid_when_needed(offer, demand)
        ),
        NotFoundReason.OVER_BUDGET: not within_budget(offer, demand),
        NotFoundReason.FULL: not has_seats(offer, remaining, demand),
        NotFoundReason.LANGUAGE: not shares_language(offer, demand),
        NotFoundReason.AGE: not age_in_range(offer, demand),
    }
    return [reason for reason in REASON_ORDER if failed.get(reason)]


def feasible(offer: Offer, remaining: int, demand: Demand) -> bool:
    """The offer can serve the demand (same service type assumed: markets hold one type)."""
    return feasible_at(offer, remaining, demand, distance_km(offer, demand))


def feasible_at(offer: Offer, remaining: int, demand: Demand, km: float | None) -> bool:
    """`feasible` with the distance already worked out: one haversine per candidate."""
    return (
        demand.open
        and has_seats(offer, remaining, demand)
        and (within_distance_at(offer, demand, km) or served_remotely(offer, demand))
        and valid_when_needed(offer, demand)
        and within_budget(offer, demand)
        and shares_language(offer, demand)
        and age_in_range(offer, demand)
        and covers_needed_slots(offer, demand)
    )


def main_reason(excluded: dict[NotFoundReason, int]) -> NotFoundReason:
    """The reason that ruled out the most candidates; ties go to the earlier reason."""
    if not excluded:
        return NotFoundReason.NO_PROVIDER
    return max(REASON_ORDER, key=lambda r: (excluded.get(r, 0), -REASON_ORDER.index(r)))
