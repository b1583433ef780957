"""What a public topic may say about a requester's position: distances to 0.1 km only, and
nothing finer than the demand topic's 3-decimal coordinates."""

from datetime import UTC, datetime

from concilia.contract.demands import DemandCreate
from services.demands.domain import event_data, new_demand
from services.matcher.domain.model import Demand
from services.matcher.domain.scoring import explain, score
from tests.support.factories import a_demand
from tests.support.market import a_demand_for, an_offer_of
from tests.support.places import VIA_BORSIERI, VIA_CONFALONIERI, Place


class TestDistances:
    def test_a_proposal_gives_the_distance_rounded_to_a_tenth_of_a_kilometre(self) -> None:
        """Next to the offer's exact coordinates, a distance to the metre would place the
        requester far more precisely than the 3-decimal rounding of the demand topic."""
        offer = an_offer_of(near=VIA_CONFALONIERI)
        demand = a_demand_for(near=VIA_BORSIERI)
        km = explain(offer, demand, remaining_after=0, km=0.31415)["distance_km"]
        assert km == 0.3
        exact = explain(offer, demand, remaining_after=0)["distance_km"]
        assert exact == round(exact, 1)

    def test_two_requesters_in_one_rounding_cell_get_the_same_score_and_reasons(self) -> None:
        """The matcher only ever sees the demand topic's 3-decimal position, so a match's
        score (4 decimals) and reasons cannot place a requester more precisely than that:
        two doors ~25 m apart in one rounding cell get identical public numbers."""
        offer = an_offer_of(near=VIA_CONFALONIERI)
        doors = [
            Place("Via Pietro Borsieri 12, 20159 Milano", 45.48781, 9.18962),
            Place("Via Pietro Borsieri 18, 20159 Milano", 45.48799, 9.18991),
        ]
        seen = []
        for door in doors:
            payload = DemandCreate.model_validate(a_demand(service_type="childcare", near=door))
            stored = new_demand(payload, "org-azienda", datetime(2025, 3, 3, tzinfo=UTC)).document
            demand = Demand.from_event(event_data(stored))
            seen.append((score(offer, demand), explain(offer, demand, remaining_after=0)))
        assert seen[0] == seen[1]
