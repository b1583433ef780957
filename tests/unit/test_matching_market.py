"""The market over time: reservations, waiting demands, versions, determinism."""

from collections.abc import Sequence

from concilia.contract.envelope import stable_id
from services.matcher.domain.decisions import Decision, NotFound, Proposal
from services.matcher.domain.events import MarketEvent
from services.matcher.domain.market import DemandState, Market
from tests.support.market import at, demand_withdrawn, published, submitted, withdrawn
from tests.support.places import SAN_SIRO


def run(events: Sequence[MarketEvent], market: Market | None = None) -> list[Decision]:
    """Apply events in order (one minute apart) and return every decision."""
    market = market or Market("after_school")
    decisions: list[Decision] = []
    for minute, event in enumerate(events):
        decisions += market.apply(event, at(minute)).decisions
    return decisions


def summary(decisions: list[Decision]) -> list[tuple[str, str, str]]:
    return [
        (d.demand.id, "proposed", d.offer.id)
        if isinstance(d, Proposal)
        else (d.demand.id, "not_found", str(d.reason))
        for d in decisions
        if isinstance(d, Proposal | NotFound)
    ]


class TestReservations:
    def test_n_demands_for_n_minus_one_seats_leave_the_last_one_full(self) -> None:
        """Capacity 3, four demands: three proposals, then not_found full."""
        decisions = run([published(capacity=3)] + [submitted(f"demand-{n}") for n in range(4)])
        assert summary(decisions) == [
            ("demand-0", "proposed", "offer-1"),
            ("demand-1", "proposed", "offer-1"),
            ("demand-2", "proposed", "offer-1"),
            ("demand-3", "not_found", "full"),
        ]

    def test_a_demand_reserves_all_its_seats(self) -> None:
        """Three seats out of four leave one: a two-seat demand no longer fits."""
        market = Market("after_school")
        decisions = run(
            [published(capacity=4), submitted("a", seats=3), submitted("b", seats=2)], market
        )
        assert summary(decisions)[-1] == ("b", "not_found", "full")
        assert market.offers["offer-1"].reserved == 3

    def test_a_capacity_cut_below_the_holds_cancels_the_newest_proposal(self) -> None:
        """Capacity 3 → 1 with 2 held: the newest proposal is cancelled, nothing overbooked."""
        market = Market("after_school")
        run([published(capacity=3), submitted("a"), submitted("b")], market)
        run([published(capacity=1, version=2), submitted("c")], market)
        assert market.offers["offer-1"].remaining == 0
        assert market.demands["a"].state == DemandState.MATCHED
        assert market.demands["b"].state == DemandState.WAITING
        assert market.demands["c"].state == DemandState.WAITING

    def test_a_withdrawn_offer_cancels_its_matches(self) -> None:
        """Withdrawal removes the offer from the market and its match: the demand waits."""
        market = Market("after_school")
        run([published(), submitted("a"), withdrawn(version=2)], market)
        assert market.demands["a"].state == DemandState.WAITING
        assert not market.matches
        assert summary(run([submitted("b")], market)) == [("b", "not_found", "no_provider")]


class TestWaitingDemands:
    def test_a_new_offer_serves_waiting_demands_oldest_first(self) -> None:
        """Three waiting demands, an offer with two seats: the two oldest get it, and the
        third is told it now waits because the offer is full."""
        waiting = [submitted(f"demand-{n}") for n in (3, 1, 2)]
        decisions = run([*waiting, published(capacity=2)])
        assert summary(decisions)[3:] == [
            ("demand-3", "proposed", "offer-1"),
            ("demand-1", "proposed", "offer-1"),
            ("demand-2", "not_found", "full"),
        ]

    def test_a_capacity_increase_serves_a_waiting_demand(self) -> None:
        """The offer grows from 1 to 2 seats: the demand left out is served."""
        decisions = run(
            [
                published(capacity=1),
                submitted("a"),
                submitted("b"),
                published(capacity=2, version=2),
            ]
        )
        assert summary(decisions)[-1] == ("b", "proposed", "offer-1")

    def test_a_waiting_demand_is_rematched_against_all_offers(self) -> None:
        """When a far offer arrives the waiting demand still gets the best feasible one."""
        market = Market("after_school")
        run([published("offer-near", capacity=1), submitted("a"), submitted("b")], market)
        decisions = run([published("offer-far", near=SAN_SIRO), published("offer-2")], market)
        assert summary(decisions)[-1] == ("b", "proposed", "offer-2")

    def test_a_waiting_reason_is_refreshed_when_the_first_offer_arrives(self) -> None:
        """A demand seen before any offer waits as no_provider; once a far offer of its kind
        arrives it is answered again as too_far (the topics are not ordered together)."""
        decisions = run([submitted("a", near=SAN_SIRO), published()])
        assert summary(decisions) == [
            ("a", "not_found", "no_provider"),
            ("a", "not_found", "too_far"),
        ]
        assert decisions[0].match_id != decisions[1].match_id

    def test_an_unchanged_waiting_reason_is_not_repeated(self) -> None:
        """Another far offer leaves the reason as it was: nothing new is said."""
        decisions = run([published(), submitted("a", near=SAN_SIRO), published("offer-2")])
        assert summary(decisions) == [("a", "not_found", "too_far")]

    def test_a_withdrawn_waiting_demand_is_not_served(self) -> None:
        """A demand withdrawn while waiting leaves the waiting list."""
        decisions = run([submitted("a"), demand_withdrawn("a", version=2), published()])
        assert summary(decisions) == [("a", "not_found", "no_provider")]

    def test_an_updated_waiting_demand_is_matched_again(self) -> None:
        """A new version of a waiting demand is re-matched and answered again."""
        decisions = run([published(), submitted("a", near=SAN_SIRO), submitted("a", version=2)])
        assert summary(decisions) == [("a", "not_found", "too_far"), ("a", "proposed", "offer-1")]

    def test_an_updated_matched_demand_keeps_its_match(self) -> None:
        """v1: updating a matched demand emits nothing and keeps the seats."""
        market = Market("after_school")
        decisions = run([published(), submitted("a"), submitted("a", version=2, seats=3)], market)
        assert len(decisions) == 1
        assert market.offers["offer-1"].reserved == 1


class TestIdempotence:
    def test_a_redelivered_offer_or_demand_changes_nothing(self) -> None:
        """The same version twice: the second is a no-op."""
        market = Market("after_school")
        run([published(), submitted("a")], market)
        assert not market.apply(published(), at(5)).changed
        assert not market.apply(submitted("a"), at(6)).changed
        assert market.offers["offer-1"].reserved == 1

    def test_an_older_version_is_ignored(self) -> None:
        """Version 1 after version 2 does not bring the old capacity back."""
        market = Market("after_school")
        run([published(capacity=5, version=2), published(capacity=1, version=1)], market)
        assert market.offers["offer-1"].offer.capacity == 5


class TestDeterminism:
    def test_the_same_events_give_the_same_matches_and_ids(self) -> None:
        """Two markets fed the same events decide the same, match ids included."""
        events = [
            published("offer-1", capacity=2),
            submitted("a"),
            submitted("b", near=SAN_SIRO),
            submitted("c"),
            submitted("d"),
            published("offer-2"),
        ]
        first, second = run(events), run(events)
        assert first == second
        assert [d.match_id for d in first] == [d.match_id for d in second]

    def test_match_ids_follow_the_documented_formula(self) -> None:
        """match_id = stable_id("match", demand, offer, version, n) for the demand's n-th
        proposal; a not_found answer is stable_id("not_found", demand, version, n) for the
        demand's n-th such answer."""
        [found] = run([published(), submitted("a", version=3)])[-1:]
        [missing] = run([submitted("b", version=2)])
        assert isinstance(missing, NotFound)
        assert found.match_id == stable_id("match", "a", "offer-1", 3, 1)
        assert missing.match_id == stable_id("not_found", "b", 2, 1)
