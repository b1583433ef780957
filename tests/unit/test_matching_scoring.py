"""The score of a feasible offer, the best offer, and the reasons of a proposal."""

import pytest

from services.matcher.domain.decisions import Proposal
from services.matcher.domain.market import Market
from services.matcher.domain.scoring import affordability, proximity, score
from tests.support.market import a_demand_for, an_offer_of, at, published, submitted
from tests.support.places import (
    CORSO_COMO,
    PIAZZALE_ARCHINTO,
    VIA_BORSIERI,
    VIA_CONFALONIERI,
)


def proposal(market: Market, **demand: object) -> Proposal:
    [decision] = market.apply(submitted("demand-1", **demand), at(100)).decisions
    assert isinstance(decision, Proposal), decision
    return decision


class TestScore:
    def test_the_score_weighs_proximity_and_affordability(self) -> None:
        """0.6 × (1 − d/limit) + 0.4 × (1 − price/max), rounded to 4 decimals."""
        offer, demand = an_offer_of(price_eur=100), a_demand_for(max_price_eur=200)
        expected = 0.6 * proximity(offer, demand) + 0.4 * 0.5
        assert score(offer, demand) == round(expected, 4)

    def test_the_limit_is_the_tighter_of_max_distance_and_radius(self) -> None:
        """A 0.5 km radius is the limit for a demand accepting 3 km."""
        offer = an_offer_of(near=PIAZZALE_ARCHINTO, radius_km=0.5)
        demand = a_demand_for(near=VIA_BORSIERI)
        wide = an_offer_of(near=PIAZZALE_ARCHINTO)
        assert proximity(offer, demand) < proximity(wide, demand)

    def test_a_remote_offer_scores_half_proximity(self) -> None:
        """Remote service scores 0.5 for proximity."""
        assert proximity(an_offer_of(near=None), a_demand_for(accepts_remote=True)) == 0.5

    @pytest.mark.parametrize(("price", "expected"), [(0, 1.0), (50, 0.5), (150, 0.25)])
    def test_without_a_max_price_affordability_halves_at_fifty_euros(
        self, price: float, expected: float
    ) -> None:
        """No max price: 1 when free, otherwise 50 / (50 + price)."""
        offer, demand = an_offer_of(price_eur=price), a_demand_for(max_price_eur=None)
        assert affordability(offer, demand) == expected


class TestBestOffer:
    def test_the_closer_offer_wins(self) -> None:
        """Same price, the offer next door beats the one in Corso Como."""
        market = Market("after_school")
        market.apply(published("offer-a", near=CORSO_COMO), at(0))
        market.apply(published("offer-b", near=PIAZZALE_ARCHINTO), at(1))
        assert proposal(market, near=VIA_BORSIERI).offer.id == "offer-b"

    def test_the_cheaper_offer_wins_at_the_same_place(self) -> None:
        """Same place, the cheaper offer scores higher."""
        market = Market("after_school")
        market.apply(published("offer-a", price_eur=150), at(0))
        market.apply(published("offer-b", price_eur=90), at(1))
        assert proposal(market).offer.id == "offer-b"

    def test_equal_scores_go_to_the_lowest_offer_id(self) -> None:
        """Two identical offers: the one with the lower id is proposed."""
        market = Market("after_school")
        market.apply(published("offer-z"), at(0))
        market.apply(published("offer-m"), at(1))
        assert proposal(market).offer.id == "offer-m"


class TestProposalReasons:
    def test_a_proposal_says_why_in_machine_codes_and_numbers(self) -> None:
        """Codes, distance, minutes covered, prices and seats left after the reservation."""
        market = Market("after_school")
        market.apply(published("offer-1", near=VIA_CONFALONIERI, capacity=3), at(0))
        decision = proposal(market, near=VIA_BORSIERI, seats=2)
        assert decision.reasons["codes"] == [
            "within_distance",
            "availability_covered",
            "within_budget",
            "language_shared",
            "age_in_range",
            "seats_available",
        ]
        assert 0.2 < decision.reasons["distance_km"] < 0.4
        assert decision.reasons["minutes_covered"] == 240
        assert decision.reasons["price_eur"] == 120.0
        assert decision.reasons["max_price_eur"] == 200.0
        assert decision.reasons["remaining_capacity_after"] == 1
        assert 0 <= decision.score <= 1

    def test_no_age_given_means_no_age_constraint(self) -> None:
        """A demand without the beneficiary's age is not constrained by age."""
        market = Market("after_school")
        market.apply(published("offer-1"), at(0))
        assert "no_age_constraint" in proposal(market, beneficiary_age=None).reasons["codes"]
