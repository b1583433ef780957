"""What a public topic may say about a requester's position: distances to 0.1 km only."""

from services.matcher.domain.scoring import explain
from tests.support.market import a_demand_for, an_offer_of
from tests.support.places import VIA_BORSIERI, VIA_CONFALONIERI


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
