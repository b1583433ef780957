"""The matching rules one by one, and the not_found reason counting (README: matching rules)."""

from datetime import date, timedelta
from typing import Any

import pytest

from services.matcher.domain import rules
from services.matcher.domain.decisions import NotFound, Proposal
from services.matcher.domain.market import Market
from tests.support.factories import slot
from tests.support.market import a_demand_for, an_offer_of, at, published, submitted
from tests.support.places import NAVIGLI, SAN_SIRO, VIA_BORSIERI, VIA_CARMAGNOLA

MORNINGS = [slot(d, "08:00", "12:00") for d in ("mon", "tue", "wed", "thu", "fri")]


def answer(offers: list[dict[str, Any]], **demand: Any) -> Proposal | NotFound:
    """What the market answers a demand after the given offers were published."""
    market = Market("after_school")
    for n, fields in enumerate(offers):
        market.apply(published(fields.pop("id", f"offer-{n}"), **fields), at(n))
    outcome = market.apply(submitted("demand-1", **demand), at(100))
    [decision] = outcome.decisions
    assert isinstance(decision, Proposal | NotFound)
    return decision


def reason_of(offers: list[dict[str, Any]], **demand: Any) -> str:
    decision = answer(offers, **demand)
    assert isinstance(decision, NotFound), decision
    return str(decision.reason)


class TestEachRuleExcludesAnOffer:
    def test_a_demand_with_no_offer_of_its_type_has_no_provider(self) -> None:
        """No open offer of the service type at all: no_provider, zero candidates."""
        decision = answer([])
        assert isinstance(decision, NotFound)
        assert decision.reasons == {"reason": "no_provider", "candidates": 0, "excluded": {}}

    def test_an_offer_beyond_the_demands_max_distance_is_too_far(self) -> None:
        """An offer in Isola does not serve a family in San Siro (5 km, max 3)."""
        assert reason_of([{}], near=SAN_SIRO) == "too_far"

    def test_a_demand_beyond_the_offers_radius_is_too_far(self) -> None:
        """The provider's radius bounds the distance too (Archinto–Carmagnola ≈ 0.3 km)."""
        assert reason_of([{"radius_km": 0.1}], near=VIA_CARMAGNOLA) == "too_far"

    def test_a_remote_offer_serves_a_far_demand_that_accepts_remote(self) -> None:
        """A remote offer ignores distance when the demand accepts remote service."""
        decision = answer([{"near": None}], near=NAVIGLI, accepts_remote=True)
        assert isinstance(decision, Proposal)
        assert decision.reasons["codes"][0] == "remote"
        assert decision.reasons["distance_km"] is None

    def test_a_remote_offer_is_too_far_for_a_demand_that_wants_presence(self) -> None:
        """A remote offer does not serve a demand that does not accept remote."""
        assert reason_of([{"near": None}], accepts_remote=False) == "too_far"

    def test_an_offer_open_only_in_the_morning_has_no_time_overlap(self) -> None:
        """Afternoon slots are not covered by morning availability."""
        assert reason_of([{"availability": MORNINGS}]) == "no_time_overlap"

    def test_a_slot_covered_only_partly_has_no_time_overlap(self) -> None:
        """Coverage is a hard rule: 16:30–18:30 is not inside 14:00–18:00."""
        availability = [slot("mon", "14:00", "18:00"), slot("wed", "14:00", "19:00")]
        assert reason_of([{"availability": availability}]) == "no_time_overlap"

    def test_adjacent_availability_slots_are_merged_to_cover_a_need(self) -> None:
        """14:00–17:00 and 17:00–19:00 together cover 16:30–18:30."""
        availability = [
            slot(day, start, end)
            for day in ("mon", "wed")
            for start, end in (("14:00", "17:00"), ("17:00", "19:00"))
        ]
        assert isinstance(answer([{"availability": availability}]), Proposal)

    def test_an_offer_not_yet_valid_when_needed_counts_as_no_time_overlap(self) -> None:
        """needed_from before valid_from is a time failure."""
        later = (date.today() + timedelta(days=60)).isoformat()
        assert reason_of([{"valid_from": later}]) == "no_time_overlap"

    def test_an_expired_validity_counts_as_no_time_overlap(self) -> None:
        """needed_from after valid_until is a time failure."""
        needed_from = (date.today() + timedelta(days=400)).isoformat()
        assert reason_of([{}], needed_from=needed_from) == "no_time_overlap"

    def test_an_offer_above_the_max_price_is_over_budget(self) -> None:
        """120 € a month is over a 100 € budget."""
        assert reason_of([{}], max_price_eur=100) == "over_budget"

    def test_no_max_price_accepts_any_price(self) -> None:
        """A null max price accepts an expensive offer."""
        assert isinstance(answer([{"price_eur": 5000}], max_price_eur=None), Proposal)

    def test_an_offer_with_fewer_seats_than_needed_is_full(self) -> None:
        """Two seats do not fit an offer with one."""
        assert reason_of([{"capacity": 1}], seats=2) == "full"

    def test_an_offer_marked_full_by_the_offers_service_still_counts_its_own_seats(
        self,
    ) -> None:
        """Status full is live like open: the matcher's own seat accounting decides (§8)."""
        assert rules.feasible(an_offer_of(status="full"), 1, a_demand_for())

    def test_no_shared_language_excludes_an_offer(self) -> None:
        """An English-only offer does not serve an Italian-only family."""
        assert reason_of([{"languages": ["en"]}], languages=["it"]) == "language"

    @pytest.mark.parametrize(("offered", "wanted"), [([], ["it"]), (["en"], [])])
    def test_no_languages_on_either_side_is_no_constraint(
        self, offered: list[str], wanted: list[str]
    ) -> None:
        """Either list empty: languages do not constrain the match."""
        decision = answer([{"languages": offered}], languages=wanted)
        assert isinstance(decision, Proposal)
        assert "no_language_constraint" in decision.reasons["codes"]

    def test_a_beneficiary_outside_the_age_range_is_excluded_for_age(self) -> None:
        """A 15-year-old is too old for a 6–11 after-school club."""
        assert reason_of([{}], beneficiary_age=15) == "age"

    def test_a_null_age_bound_is_open(self) -> None:
        """With no max_age, any age from min_age is accepted."""
        assert isinstance(answer([{"max_age": None}], beneficiary_age=40), Proposal)


class TestTheReasonThatExcludedTheMostCandidates:
    def test_the_most_frequent_reason_wins(self) -> None:
        """Two offers fail on language, one of them also on distance: language (2) wins."""
        offers = [{"languages": ["en"]}, {"languages": ["en"], "radius_km": 0.01}]
        decision = answer(offers, languages=["it"], near=VIA_BORSIERI)
        assert isinstance(decision, NotFound)
        assert decision.reasons == {
            "reason": "language",
            "candidates": 2,
            "excluded": {"too_far": 1, "language": 2},
        }

    def test_equal_counts_go_to_the_earlier_reason(self) -> None:
        """One offer too far, one over budget: too_far comes first in the order."""
        offers = [{"radius_km": 0.01}, {"price_eur": 500}]
        assert reason_of(offers) == "too_far"

    def test_a_withdrawn_offer_is_no_candidate(self) -> None:
        """Only offers still in the market count as candidates."""
        market = Market("after_school")
        market.apply(published("offer-1"), at(0))
        market.apply(published("offer-1", version=2, status="withdrawn"), at(1))
        [decision] = market.apply(submitted("demand-1"), at(2)).decisions
        assert isinstance(decision, NotFound)
        assert decision.reason == "no_provider"
