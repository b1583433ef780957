"""Readable HTTP payloads: `an_offer(service_type="childcare", near=VIA_BORSIERI)`."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.support.places import PIAZZALE_ARCHINTO, VIA_BORSIERI, Place

WEEKDAYS_AFTERNOON = [
    {"day": d, "start": "14:00", "end": "19:00"} for d in ("mon", "tue", "wed", "thu", "fri")
]


def slot(day: str, start: str, end: str) -> dict[str, str]:
    return {"day": day, "start": start, "end": end}


def an_offer(
    *,
    service_type: str = "after_school",
    near: Place | None = PIAZZALE_ARCHINTO,
    capacity: int = 5,
    price_eur: float = 120,
    availability: list[dict[str, str]] | None = None,
    title: str = "Doposcuola in Isola",
    email: str = "provider@example.org",
    **overrides: Any,
) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "title": title,
        "description": "Aiuto compiti e laboratori per la scuola primaria.",
        "service_type": service_type,
        "remote": near is None,
        "location": near.as_location() if near else None,
        "radius_km": None,
        "availability": availability or WEEKDAYS_AFTERNOON,
        "valid_from": (date.today() - timedelta(days=30)).isoformat(),
        "valid_until": (date.today() + timedelta(days=365)).isoformat(),
        "capacity": capacity,
        "price_eur": price_eur,
        "price_unit": "month",
        "welfare_eligible": True,
        "languages": ["it", "en"],
        "min_age": 6,
        "max_age": 11,
        "contact": {"name": "Cooperativa Isola Ragazzi", "email": email},
    }
    offer.update(overrides)
    return offer


def a_demand(
    *,
    service_type: str = "after_school",
    near: Place = VIA_BORSIERI,
    needed: list[dict[str, str]] | None = None,
    seats: int = 1,
    email: str = "family@example.org",
    name: str = "Giulia Rossi",
    **overrides: Any,
) -> dict[str, Any]:
    demand: dict[str, Any] = {
        "service_type": service_type,
        "location": near.as_location(),
        "max_distance_km": 3,
        "accepts_remote": False,
        "needed": needed or [slot("mon", "16:30", "18:30"), slot("wed", "16:30", "18:30")],
        "seats": seats,
        "max_price_eur": 200,
        "languages": ["it"],
        "beneficiary_age": 8,
        "needed_from": date.today().isoformat(),
        "requester": {"name": name, "email": email, "language": "it"},
    }
    demand.update(overrides)
    return demand


def a_match_event(
    match_id: str,
    *,
    offer_id: str = "off_0123456789abcdef",
    demand_id: str = "dem_0123456789abcdef",
    service_type: str = "after_school",
    seats: int = 1,
    proposed_at: datetime | None = None,
    ttl: timedelta = timedelta(hours=72),
    **overrides: Any,
) -> dict[str, Any]:
    """The data of a match.* event as the matcher publishes it (proposal fields, state)."""
    at = proposed_at or datetime.now(UTC)
    data: dict[str, Any] = {
        "match_id": match_id,
        "offer_id": offer_id,
        "demand_id": demand_id,
        "service_type": service_type,
        "score": 0.8,
        "reasons": {"distance_km": 0.4, "minutes_covered": 240},
        "seats": seats,
        "provider_ref": "prv_0000",
        "requester_ref": "req_0000",
        "offer": {
            "title": "Doposcuola in Isola",
            "organization_id": "coop-isola-ragazzi",
            "address": "Piazzale Archinto 9, Milano",
            "remote": False,
            "availability": WEEKDAYS_AFTERNOON,
            "price_eur": 120,
            "price_unit": "month",
            "welfare_eligible": True,
        },
        "demand": {
            "organization_id": "genitori-isola",
            "needed": [slot("mon", "16:30", "18:30")],
            "seats": seats,
            "beneficiary_age": 8,
            "languages": ["it"],
        },
        "state": "proposed",
        "proposed_at": at.isoformat(),
        "expires_at": (at + ttl).isoformat(),
    }
    data.update(overrides)
    return data
