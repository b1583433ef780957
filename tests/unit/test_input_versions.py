"""The version clients name in If-Match changes only with what they can see change by an
event: background notes (a match applied, a waiting reason, a seat held) keep it."""

from datetime import UTC, datetime, timedelta
from typing import Any

from concilia.contract.demands import DemandCreate, DemandUpdate
from concilia.contract.matches import MatchEventData
from concilia.contract.offers import OfferCreate, OfferUpdate
from concilia.platform.changes import Document
from services.demands import domain as demands
from services.demands import domain_matches as demand_matches
from services.offers import domain as offers
from services.offers import domain_matches as offer_matches
from tests.support.factories import a_demand, a_match_event, an_offer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def a_new_demand() -> Document:
    return demands.new_demand(DemandCreate.model_validate(a_demand()), "acme", NOW).document


def an_open_offer(capacity: int = 3) -> Document:
    payload = OfferCreate.model_validate(an_offer(capacity=capacity))
    return offers.new_offer(payload, "coop", NOW).document


def match(**data: Any) -> MatchEventData:
    return MatchEventData.model_validate(a_match_event("m1", proposed_at=NOW, **data))


class TestBackgroundNotes:
    def test_a_waiting_reason_noted_keeps_the_demands_version(self) -> None:
        """A PATCH with the If-Match from the last GET still applies after a waiting note."""
        demand = a_new_demand()
        change = demand_matches.note_waiting(demand, "too_far", LATER)
        assert change is not None
        assert change.document["version"] == demand["version"]
        revised = demands.revise(
            change.document, DemandUpdate(max_distance_km=5), demand["version"], LATER
        )
        assert revised is not None

    def test_a_match_applied_to_a_demand_keeps_its_version(self) -> None:
        """match.proposed applied to the demand is a note, not a client-visible revision."""
        demand = a_new_demand()
        change = demand_matches.apply_match_event(
            demand, "match.proposed", match(demand_id=demand["_id"]), LATER
        )
        assert change is not None
        assert change.document["version"] == demand["version"]

    def test_a_seat_held_on_an_offer_keeps_its_version_unless_it_fills_it(self) -> None:
        """Holding one of three seats keeps the version; the hold that fills the offer
        publishes offer.updated, which carries a new version (event ids are made of it)."""
        offer = an_open_offer(capacity=3)
        held = offer_matches.apply_match_event(
            offer, "match.proposed", match(offer_id=offer["_id"], seats=1), LATER
        )
        assert held is not None
        assert held.document["version"] == offer["version"]
        assert held.messages == []
        revised = offers.revise(held.document, OfferUpdate(capacity=4), offer["version"], LATER)
        assert revised is not None

        full = offer_matches.apply_match_event(
            offer, "match.proposed", match(offer_id=offer["_id"], seats=3), LATER
        )
        assert full is not None
        assert full.document["version"] == offer["version"] + 1
        assert [m.event_type for m in full.messages] == ["offer.updated"]
