"""A readable match.proposed payload for the notifier's tests."""

from typing import Any

from concilia.contract.matches import MatchEventData


def a_match(**overrides: Any) -> MatchEventData:
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
        "seats": 1,
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
    }
    data.update(overrides)
    return MatchEventData.model_validate(data)
