"""How good a feasible offer is for a demand: a score in [0, 1], higher is better.

    score = 0.6 × proximity + 0.4 × affordability, rounded to 4 decimals

- proximity = 1 − distance / limit, where limit is the tighter of the demand's
  max_distance_km and the offer's radius_km; an offer served remotely scores 0.5, and an
  offer that could serve remotely never scores less than 0.5 for being near (else moving it
  away from the demand would raise its score).
- affordability = 1 − price / max_price; with no max price: 1 when free, else 50 / (50 + price).
- coverage is a hard rule in v1 (every needed minute is covered), so it does not weigh in;
  the proposal reports `minutes_covered`.

The best offer has the highest score; ties go to the lowest offer id."""

from typing import Any

from services.matcher.domain import rules
from services.matcher.domain.model import Demand, Offer

PROXIMITY_WEIGHT = 0.6
AFFORDABILITY_WEIGHT = 0.4
REMOTE_PROXIMITY = 0.5
PRICE_HALF_POINT_EUR = 50.0


def proximity(offer: Offer, demand: Demand) -> float:
    """1 at the demand's door, 0 at the limit; a remote service scores 0.5."""
    return proximity_at(offer, demand, rules.distance_km(offer, demand))


def proximity_at(offer: Offer, demand: Demand, km: float | None) -> float:
    """`proximity` with the distance already worked out. Remote service is the floor of a
    remote-capable offer: farther is never better (README: matching rules, "closer")."""
    remote = REMOTE_PROXIMITY if rules.served_remotely(offer, demand) else 0.0
    if km is None or not rules.within_distance_at(offer, demand, km):
        return REMOTE_PROXIMITY
    limit = min(demand.max_distance_km, offer.radius_km or demand.max_distance_km)
    return max(remote, 1 - km / limit)


def affordability(offer: Offer, demand: Demand) -> float:
    return affordability_at(offer.price_eur, demand)


def affordability_at(price_eur: float, demand: Demand) -> float:
    """1 when free; never higher for a higher price."""
    if demand.max_price_eur is None:
        return 1.0 if price_eur == 0 else PRICE_HALF_POINT_EUR / (PRICE_HALF_POINT_EUR + price_eur)
    if demand.max_price_eur == 0:
        return 1.0  # only free offers are feasible then
    return max(0.0, 1 - price_eur / demand.max_price_eur)


def score(offer: Offer, demand: Demand) -> float:
    """The documented score of a feasible offer, in [0, 1], rounded to 4 decimals."""
    return score_at(offer, demand, rules.distance_km(offer, demand))


def score_at(offer: Offer, demand: Demand, km: float | None) -> float:
    """`score` with the distance already worked out."""
    raw = PROXIMITY_WEIGHT * proximity_at(offer, demand, km) + AFFORDABILITY_WEIGHT * (
        affordability(offer, demand)
    )
    return round(min(1.0, max(0.0, raw)), 4)


# Upper bounds, for a best-first search that stops when no offer left can beat the best:


def bound_within(demand: Demand, min_km: float) -> float:
    """No offer at least `min_km` away scores more for being near: its limit is at most the
    demand's max distance, and its affordability at most 1 (served remotely: `bound_remote`)."""
    return PROXIMITY_WEIGHT * (1 - min_km / demand.max_distance_km) + AFFORDABILITY_WEIGHT


def bound_remote(demand: Demand, price_eur: float) -> float:
    """No offer served remotely at `price_eur` or more scores more than this."""
    return PROXIMITY_WEIGHT * REMOTE_PROXIMITY + AFFORDABILITY_WEIGHT * affordability_at(
        price_eur, demand
    )


def cannot_beat(bound: float, best: float) -> bool:
    """An offer whose unrounded score is at most `bound` can neither beat nor tie `best` (a
    rounded score): rounding is monotone, and a tie could still win on id."""
    return round(bound + 1e-9, 4) < best


def explain(
    offer: Offer, demand: Demand, remaining_after: int, km: float | None = None
) -> dict[str, Any]:
    """Machine-readable reasons of a proposal: codes plus the numbers behind them."""
    km = rules.distance_km(offer, demand) if km is None else km
    physical = rules.within_distance_at(offer, demand, km)
    codes = [
        "within_distance" if physical else "remote",
        "availability_covered",
        "within_budget",
        "language_shared"
        if rules.language_constrained(offer, demand)
        else "no_language_constraint",
        "age_in_range" if rules.age_constrained(offer, demand) else "no_age_constraint",
        "seats_available",
    ]
    return {
        "codes": codes,
        "distance_km": round(km, 1) if physical and km is not None else None,  # privacy, §4
        "minutes_covered": demand.minutes_needed,
        "price_eur": offer.price_eur,
        "max_price_eur": demand.max_price_eur,
        "remaining_capacity_after": remaining_after,
    }
