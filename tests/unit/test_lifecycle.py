"""The match lifecycle (README) in the pure market: answers, expiry, cancellations,
capacity cuts, re-matching, and the match events they become."""

from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from concilia.contract.demands import DemandType
from concilia.contract.matches import (
    Answer,
    CancelCause,
    MatchState,
    MatchType,
    NextStep,
    Party,
)
from concilia.contract.offers import OfferType
from services.matcher.domain import lifecycle
from services.matcher.domain.decisions import Decision, MatchEnded, Proposal
from services.matcher.domain.events import AnswerGiven, MarketEvent, parse
from services.matcher.domain.market import DemandState, Market
from services.matcher.messages import match_message
from tests.support.market import (
    answer_event,
    at,
    demand_expired,
    demand_withdrawn,
    offer_expired,
    provider_accepts,
    provider_declines,
    published,
    requester_accepts,
    requester_declines,
    submitted,
    withdrawn,
)
from tests.support.places import PIAZZA_GAE_AULENTI

TTL = timedelta(minutes=60)


def a_market() -> Market:
    return Market("after_school", answer_ttl=TTL)


def feed(market: Market, *events: MarketEvent, minute: int = 0) -> list[Decision]:
    """Apply events at `minute` (all at the same moment) and return every decision."""
    decisions: list[Decision] = []
    for event in events:
        decisions += market.apply(event, at(minute)).decisions
    return decisions


def said(decisions: list[Decision]) -> list[tuple[str, str, str | None]]:
    """Each decision as the match event it becomes: (type, demand, offer)."""
    out = []
    for decision in decisions:
        event = match_message(decision).event
        assert event is not None
        out.append((event.type.removeprefix("match."), event.subject, event.data["offer_id"]))
    return out


def proposed(market: Market, demand_id: str = "demand-1") -> str:
    """The id of the demand's live match."""
    match_id = market.demands[demand_id].match_id
    assert match_id is not None
    return match_id


def two_offers_and_a_demand() -> Market:
    """offer-1 (closest, proposed first) and offer-2 (a bit further) for demand-1."""
    market = a_market()
    feed(market, published("offer-1"), published("offer-2", near=PIAZZA_GAE_AULENTI))
    [proposal] = feed(market, submitted("demand-1"))
    assert isinstance(proposal, Proposal)
    assert proposal.offer.id == "offer-1"
    return market


class TestLifecycleRules:
    def test_a_proposal_is_accepted_only_once_both_parties_accepted(self) -> None:
        """One accept leaves it proposed; the other party's accept makes it accepted."""
        market = two_offers_and_a_demand()
        match = market.matches[proposed(market)]
        half = lifecycle.answered(match, Party.PROVIDER, Answer.ACCEPTED)
        assert half.state == MatchState.PROPOSED
        both = lifecycle.answered(half, Party.REQUESTER, Answer.ACCEPTED)
        assert both.state == MatchState.ACCEPTED

    def test_a_party_answers_only_a_proposal_and_only_once(self) -> None:
        """After its own answer, or once the match is accepted, a party may not answer."""
        market = two_offers_and_a_demand()
        match = lifecycle.answered(
            market.matches[proposed(market)], Party.REQUESTER, Answer.ACCEPTED
        )
        assert not lifecycle.may_answer(match, Party.REQUESTER)
        assert lifecycle.may_answer(match, Party.PROVIDER)
        accepted = lifecycle.answered(match, Party.PROVIDER, Answer.ACCEPTED)
        assert not lifecycle.may_answer(accepted, Party.PROVIDER)

    def test_only_the_demand_going_away_ends_without_a_next_match(self) -> None:
        """Cancellations for the demand lead nowhere; for the offer they lead to a re-match."""
        steps = {cause: lifecycle.next_step_after_cancel(cause) for cause in CancelCause}
        assert steps == {
            CancelCause.DEMAND_WITHDRAWN: NextStep.NONE,
            CancelCause.DEMAND_EXPIRED: NextStep.NONE,
            CancelCause.OFFER_WITHDRAWN: NextStep.REMATCH,
            CancelCause.OFFER_EXPIRED: NextStep.REMATCH,
            CancelCause.CAPACITY_REDUCED: NextStep.REMATCH,
        }

    def test_an_accepted_match_is_never_due(self) -> None:
        """Long after its window an accepted match does not expire."""
        market = two_offers_and_a_demand()
        match = market.matches[proposed(market)]
        accepted = lifecycle.answered(
            lifecycle.answered(match, Party.REQUESTER, Answer.ACCEPTED),
            Party.PROVIDER,
            Answer.ACCEPTED,
        )
        assert lifecycle.is_due(match, at(61))
        assert not lifecycle.is_due(accepted, at(10_000))

    def test_a_window_ends_strictly_after_its_last_moment(self) -> None:
        """At expires_at itself the proposal is still open; a moment later it is due."""
        market = two_offers_and_a_demand()
        match = market.matches[proposed(market)]
        assert match.expires_at == at(0) + TTL
        assert not lifecycle.is_due(match, match.expires_at)
        assert lifecycle.is_due(match, match.expires_at + timedelta(microseconds=1))


held_matches = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from([MatchState.PROPOSED, MatchState.ACCEPTED])),
    max_size=8,
)


class TestCapacityCutRule:
    @given(held=held_matches, capacity=st.integers(0, 12))
    def test_a_cut_fits_the_capacity_with_no_proposal_cancelled_in_vain(
        self, held: list[tuple[int, MatchState]], capacity: int
    ) -> None:
        """Only proposals are cut; afterwards the offer holds no more than its capacity
        (unless accepted matches alone hold more); and no cut proposal would have fitted."""
        market = two_offers_and_a_demand()
        template = market.matches[proposed(market)]
        matches = [
            replace(template, match_id=f"m{n}", seats=seats, seq=n, state=state)
            for n, (seats, state) in enumerate(held)
        ]
        cut = lifecycle.to_cut(matches, capacity)
        assert all(m.state == MatchState.PROPOSED for m in cut)
        cut_ids = {m.match_id for m in cut}
        left = lifecycle.held(m for m in matches if m.match_id not in cut_ids)
        accepted = lifecycle.held(m for m in matches if m.state == MatchState.ACCEPTED)
        assert left <= max(capacity, accepted)
        assert all(left + m.seats > capacity for m in cut)


class TestAnswers:
    def test_both_accepting_in_any_order_accepts_the_match_and_keeps_its_seats(self) -> None:
        """Provider then requester accept: one match.accepted, the seat still held."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        first = feed(market, provider_accepts(match_id), minute=1)
        second = feed(market, requester_accepts(match_id), minute=2)
        assert first == []
        assert said(second) == [("accepted", "demand-1", "offer-1")]
        assert market.offers["offer-1"].reserved == 1
        assert market.matches[match_id].state == MatchState.ACCEPTED

    def test_a_decline_rematches_the_demand_to_its_next_best_offer(self) -> None:
        """The requester declines offer-1: match.declined, then a proposal of offer-2."""
        market = two_offers_and_a_demand()
        decisions = feed(market, requester_declines(proposed(market)), minute=1)
        assert said(decisions) == [
            ("declined", "demand-1", "offer-1"),
            ("proposed", "demand-1", "offer-2"),
        ]
        ended = decisions[0]
        assert isinstance(ended, MatchEnded)
        assert ended.declined_by == Party.REQUESTER
        assert ended.next_step == NextStep.REMATCH
        assert market.offers["offer-1"].reserved == 0

    def test_a_declined_offer_is_never_proposed_again_to_that_demand(self) -> None:
        """After the provider declined, a bigger offer-1 still does not get demand-1."""
        market = a_market()
        feed(market, published("offer-1"), submitted("demand-1"))
        decisions = feed(market, provider_declines(proposed(market)), minute=1)
        assert said(decisions)[1][0] == "not_found"
        again = feed(market, published("offer-1", version=2, capacity=5), minute=2)
        assert [kind for kind, _, _ in said(again)] in ([], ["not_found"])
        assert market.demands["demand-1"].state == DemandState.WAITING

    def test_freed_seats_serve_the_oldest_waiting_demand_after_a_decline(self) -> None:
        """One seat, two demands: when the first declines, the second gets the seat."""
        market = a_market()
        feed(market, published("offer-1", capacity=1), submitted("demand-1"), submitted("d-2"))
        decisions = feed(market, requester_declines(proposed(market)), minute=1)
        assert said(decisions) == [
            ("declined", "demand-1", "offer-1"),
            ("not_found", "demand-1", None),
            ("proposed", "d-2", "offer-1"),
        ]

    def test_an_answer_to_an_unknown_or_ended_match_changes_nothing(self) -> None:
        """Unknown ids, answers for another record and answers after an end are ignored."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        assert not market.apply(requester_accepts("no-such-match"), at(1)).changed
        assert not market.apply(requester_accepts(match_id, demand_id="other"), at(1)).changed
        feed(market, requester_declines(match_id), minute=2)
        assert not market.apply(provider_accepts(match_id), at(3)).changed

    def test_a_different_second_answer_changes_nothing(self) -> None:
        """The first answer of a party stands."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        feed(market, requester_accepts(match_id), minute=1)
        assert not market.apply(requester_declines(match_id), at(2)).changed

    def test_an_answer_after_the_window_finds_the_match_expired(self) -> None:
        """An accept given after expires_at expires the match and accepts nothing."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        late = at(61)
        decisions = market.apply(requester_accepts(match_id, when=late), at(59)).decisions
        assert said(decisions) == [("expired", "demand-1", "offer-1")]
        assert market.state_of("demand-1") == DemandState.CLOSED
        assert "demand-1" not in market.demands  # closed records leave memory


class TestExpiry:
    def test_an_unanswered_proposal_expires_and_closes_the_demand(self) -> None:
        """No answer in the window: match.expired with next_step closed, seats free."""
        market = two_offers_and_a_demand()
        [ended] = market.expire_due(at(61)).decisions
        assert isinstance(ended, MatchEnded)
        assert (ended.match.state, ended.next_step) == (MatchState.EXPIRED, NextStep.CLOSED)
        assert ended.time == at(60)  # it expired when its window ended
        assert market.state_of("demand-1") == DemandState.CLOSED
        assert "demand-1" not in market.demands  # closed records leave memory
        assert market.offers["offer-1"].reserved == 0

    def test_an_expiry_the_requester_had_accepted_rematches_elsewhere(self) -> None:
        """The requester accepted but the provider never answered: re-match to offer-2."""
        market = two_offers_and_a_demand()
        feed(market, requester_accepts(proposed(market)), minute=1)
        decisions = market.expire_due(at(61)).decisions
        assert said(decisions) == [
            ("expired", "demand-1", "offer-1"),
            ("proposed", "demand-1", "offer-2"),
        ]
        assert "offer-1" in market.demands["demand-1"].excluded

    def test_an_event_after_the_window_expires_the_proposal_first(self) -> None:
        """Without a sweep, the next event's time expires what ended before it."""
        market = a_market()
        feed(market, published("offer-1", capacity=1), submitted("demand-1"))
        decisions = feed(market, submitted("d-2"), minute=90)
        assert said(decisions) == [
            ("expired", "demand-1", "offer-1"),
            ("proposed", "d-2", "offer-1"),
        ]

    def test_an_answer_given_in_time_but_read_after_a_later_event_still_counts(self) -> None:
        """Offers and demands come on two topics through two relays: an offer event stamped
        a second after the window may be read before the family's acceptance stamped a
        second before it. Within the grace the event expires nothing, and the answer stands."""
        market = Market("after_school", answer_ttl=TTL, answer_grace=timedelta(seconds=2))
        feed(market, published("offer-1", capacity=2), submitted("demand-1"))
        match_id = proposed(market)
        just_after = at(60) + timedelta(seconds=1)
        assert (
            market.apply(published("offer-2", near=PIAZZA_GAE_AULENTI), just_after).decisions == []
        )
        just_before = at(60) - timedelta(seconds=1)
        accepted = requester_accepts(match_id, when=just_before)
        assert market.apply(accepted, just_after).decisions == []
        assert market.matches[match_id].requester_answer == Answer.ACCEPTED
        later = market.apply(submitted("d-2"), at(60) + timedelta(seconds=3)).decisions
        assert said(later)[0] == ("expired", "demand-1", "offer-1")  # the grace is over

    def test_the_freed_seat_of_an_expiry_serves_the_oldest_waiting_demand(self) -> None:
        """One seat, two demands: when the first proposal expires the second is served."""
        market = a_market()
        feed(market, published("offer-1", capacity=1), submitted("demand-1"), submitted("d-2"))
        decisions = market.expire_due(at(61)).decisions
        assert said(decisions) == [
            ("expired", "demand-1", "offer-1"),
            ("proposed", "d-2", "offer-1"),
        ]

    def test_nothing_expires_before_the_window_ends(self) -> None:
        """A sweep within the window changes nothing."""
        market = two_offers_and_a_demand()
        assert not market.expire_due(at(60)).changed


class TestCancellations:
    def test_a_withdrawn_demand_cancels_its_match_and_frees_the_seat_for_the_next(
        self,
    ) -> None:
        """match.cancelled (demand_withdrawn, next_step none), then d-2 gets the seat."""
        market = a_market()
        feed(market, published("offer-1", capacity=1), submitted("demand-1"), submitted("d-2"))
        decisions = feed(market, demand_withdrawn("demand-1", version=2), minute=1)
        assert said(decisions) == [
            ("cancelled", "demand-1", "offer-1"),
            ("proposed", "d-2", "offer-1"),
        ]
        ended = decisions[0]
        assert isinstance(ended, MatchEnded)
        assert (ended.cause, ended.next_step) == (CancelCause.DEMAND_WITHDRAWN, NextStep.NONE)

    def test_an_expired_demand_cancels_its_match_as_demand_expired(self) -> None:
        """demand.expired with a live match: cause demand_expired."""
        market = two_offers_and_a_demand()
        [ended] = feed(market, demand_expired("demand-1", version=2), minute=1)
        assert isinstance(ended, MatchEnded)
        assert ended.cause == CancelCause.DEMAND_EXPIRED

    def test_a_withdrawn_offer_cancels_even_accepted_matches_and_rematches(self) -> None:
        """offer-1 withdrawn after both accepted: cancelled (offer_withdrawn), then offer-2."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        feed(market, requester_accepts(match_id), provider_accepts(match_id), minute=1)
        decisions = feed(market, withdrawn("offer-1", version=2), minute=2)
        assert said(decisions) == [
            ("cancelled", "demand-1", "offer-1"),
            ("proposed", "demand-1", "offer-2"),
        ]
        ended = decisions[0]
        assert isinstance(ended, MatchEnded)
        assert (ended.cause, ended.next_step) == (CancelCause.OFFER_WITHDRAWN, NextStep.REMATCH)

    def test_an_expired_offer_cancels_as_offer_expired(self) -> None:
        """offer.expired: cause offer_expired."""
        market = two_offers_and_a_demand()
        decisions = feed(market, offer_expired("offer-1", version=2), minute=1)
        ended = decisions[0]
        assert isinstance(ended, MatchEnded)
        assert ended.cause == CancelCause.OFFER_EXPIRED

    def test_a_capacity_cut_keeps_accepted_matches_and_cancels_the_newest_proposals(
        self,
    ) -> None:
        """Three seats held (a accepted, b and c proposed), capacity cut to 1: c and b are
        cancelled newest first, a stays."""
        market = a_market()
        feed(market, published("offer-1", capacity=3))
        feed(market, submitted("a"), submitted("b"), submitted("c"))
        a = proposed(market, "a")
        feed(market, requester_accepts(a, "a"), provider_accepts(a), minute=1)
        decisions = feed(market, published("offer-1", version=2, capacity=1), minute=2)
        cancelled = [d.demand.id for d in decisions if isinstance(d, MatchEnded)]
        assert cancelled == ["c", "b"]
        assert all(
            isinstance(d, MatchEnded) and d.cause == CancelCause.CAPACITY_REDUCED
            for d in decisions[:2]
        )
        assert market.offers["offer-1"].reserved == 1
        assert market.matches[a].state == MatchState.ACCEPTED

    def test_a_capacity_cut_cancels_no_proposal_it_does_not_need_to(self) -> None:
        """Four seats held (a 1, b 2, c 1 — c's family has already accepted), capacity cut
        to 2: cancelling b alone is enough. Cancelling c too, newest first, would free a seat
        only to propose the same offer to c again, its family's acceptance lost."""
        market = a_market()
        feed(market, published("offer-1", capacity=4))
        feed(market, submitted("a"), submitted("b", seats=2), submitted("c"))
        c = proposed(market, "c")
        feed(market, requester_accepts(c, "c"), minute=1)
        decisions = feed(market, published("offer-1", version=2, capacity=2), minute=2)
        assert said(decisions)[:1] == [("cancelled", "b", "offer-1")]
        assert [d.demand.id for d in decisions if isinstance(d, MatchEnded)] == ["b"]
        assert market.matches[c].state == MatchState.PROPOSED
        assert market.offers["offer-1"].reserved == 2

    def test_a_cut_below_accepted_seats_keeps_them_all(self) -> None:
        """Accepted matches alone may hold more than a cut capacity: nothing is cancelled."""
        market = a_market()
        feed(market, published("offer-1", capacity=2), submitted("a"), submitted("b"))
        for demand_id in ("a", "b"):
            match_id = proposed(market, demand_id)
            feed(market, requester_accepts(match_id, demand_id), provider_accepts(match_id))
        assert feed(market, published("offer-1", version=2, capacity=1), minute=1) == []
        assert market.offers["offer-1"].reserved == 2

    def test_a_demand_proposed_the_same_offer_again_gets_a_new_match_id(self) -> None:
        """Cancelled as the offer was withdrawn, then it is back: a new proposal, a new id."""
        market = a_market()
        feed(market, published("offer-1"), submitted("demand-1"))
        first = proposed(market)
        feed(market, withdrawn("offer-1", version=2), minute=1)
        decisions = feed(market, published("offer-1", version=3), minute=2)
        assert said(decisions) == [("proposed", "demand-1", "offer-1")]
        assert proposed(market) != first
        assert market.demands["demand-1"].proposals == 2


class TestMatchEvents:
    def test_a_lifecycle_event_repeats_the_proposal_and_adds_its_state(self) -> None:
        """match.declined carries the proposal's fields, the answers and declined_by."""
        market = two_offers_and_a_demand()
        match_id = proposed(market)
        decisions = feed(market, provider_declines(match_id), minute=5)
        event = match_message(decisions[0]).event
        assert event is not None
        assert event.type == MatchType.DECLINED
        assert event.subject == "demand-1"
        data = event.data
        assert data["match_id"] == match_id
        assert data["offer"]["title"]
        assert data["demand"]["seats"] == 1
        assert data["provider_ref"] == "provider-offer-1"
        assert data["requester_ref"] == "requester-demand-1"
        assert data["state"] == "declined"
        assert data["provider_answer"] == "declined"
        assert data["declined_by"] == "provider"
        assert data["next_step"] == "rematch"
        assert data["proposed_at"].startswith("2025-03-03T09:00")
        assert data["expires_at"].startswith("2025-03-03T10:00")

    def test_a_proposal_says_when_its_window_ends(self) -> None:
        """match.proposed: state proposed, proposed_at = its time, expires_at = + TTL."""
        market = a_market()
        [decision] = feed(market, published("offer-1"), submitted("demand-1"), minute=3)
        event = match_message(decision).event
        assert event is not None
        assert event.data["state"] == "proposed"
        assert event.data["expires_at"].startswith("2025-03-03T10:03")


class TestAnswerEvents:
    def test_a_requesters_answer_event_is_parsed_with_its_demand(self) -> None:
        """demand.match_accepted names the requester, the answer and the demand."""
        event = answer_event(
            DemandType.MATCH_ACCEPTED,
            "m-1",
            service_type="after_school",
            when=at(5),
            demand_id="demand-1",
        )
        parsed = parse(event.type, event.data)
        assert parsed == AnswerGiven(
            "m-1", Party.REQUESTER, Answer.ACCEPTED, "demand-1", "after_school", at(5)
        )

    def test_a_providers_decline_event_is_parsed_with_its_offer(self) -> None:
        """offer.match_declined names the provider, the decline and the offer."""
        event = answer_event(
            OfferType.MATCH_DECLINED, "m-1", service_type="sport", when=at(5), offer_id="offer-1"
        )
        parsed = parse(event.type, event.data)
        assert isinstance(parsed, AnswerGiven)
        assert (parsed.party, parsed.answer, parsed.record_id) == (
            Party.PROVIDER,
            Answer.DECLINED,
            "offer-1",
        )

    def test_an_answer_without_its_record_id_matches_no_match(self) -> None:
        """A provider's answer naming no offer is parsed, and the market ignores it."""
        market = two_offers_and_a_demand()
        event = answer_event(
            OfferType.MATCH_ACCEPTED,
            proposed(market),
            service_type="after_school",
            when=at(1),
            demand_id="demand-1",
        )
        assert not market.apply(parse(event.type, event.data), at(1)).changed
