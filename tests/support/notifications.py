"""Readable match.* payloads for the notifier's tests: a proposal and what follows it."""

from datetime import UTC, datetime, timedelta
from typing import Any

from concilia.contract.matches import MatchEventData

PROPOSED_AT = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
# 72 h later: Saturday 28 November 2026, 14:30 in Milan (UTC+1 in winter).
EXPIRES_AT = PROPOSED_AT + timedelta(hours=72)


def a_match(**overrides: Any) -> MatchEventData:
    """A proposal of `Doposcuola in Isola` (offer of coop-isola) to a demand of
    azienda-garibaldi; lifecycle fields can be overridden (state, declined_by, cause…)."""
    data: dict[str, Any] = {
        "match_id": "m-1",
        "offer_id": "o-1",
        "demand_id": "d-1",
        "service_type": "after_school",
        "score": 0.9,
        "reasons": {
            "codes": ["within_distance", "availability_covered", "within_budget", "age_in_range"],
            "distance_km": 0.4,
            "minutes_covered": 240,
            "price_eur": 120,
            "max_price_eur": 200,
        },
        "seats": 2,
        "provider_ref": "p-1",
        "requester_ref": "r-1",
        "offer": {
            "title": "Doposcuola in Isola",
            "organization_id": "coop-isola",
            "address": "Piazzale Archinto 1, 20159 Milano",
            "remote": False,
            "availability": [
                {"day": d, "start": "14:00", "end": "19:00"} for d in ("mon", "tue", "wed")
            ],
            "price_eur": 120,
            "price_unit": "month",
            "welfare_eligible": True,
        },
        "demand": {
            "organization_id": "azienda-garibaldi",
            "needed": [
                {"day": "mon", "start": "16:30", "end": "18:30"},
                {"day": "wed", "start": "16:30", "end": "18:30"},
            ],
            "seats": 2,
            "beneficiary_age": 8,
            "languages": ["it"],
        },
        "state": "proposed",
        "proposed_at": PROPOSED_AT.isoformat(),
        "expires_at": EXPIRES_AT.isoformat(),
    }
    data.update(overrides)
    return MatchEventData.model_validate(data)


def not_found(**overrides: Any) -> MatchEventData:
    """A match.not_found for demand d-1: nothing within reach."""
    data: dict[str, Any] = {
        "match_id": "nf-1",
        "offer_id": None,
        "demand_id": "d-1",
        "service_type": "after_school",
        "score": 0,
        "reasons": {"reason": "too_far", "too_far": 3},
        "seats": 2,
        "requester_ref": "r-1",
        "reason": "too_far",
    }
    data.update(overrides)
    return MatchEventData.model_validate(data)
