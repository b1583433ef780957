"""The market under random sequences of lifecycle events (Hypothesis stateful testing),
checked after every step against a small brute-force oracle written apart from it."""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from concilia.contract.matches import Answer, CancelCause, MatchState, NextStep, Party
from services.matcher.domain import rules
from services.matcher.domain.decisions import (
    Decision,
    MatchAccepted,
    MatchEnded,
    NotFound,
    Proposal,
)
from services.matcher.domain.events import AnswerGiven, MarketEvent
from services.matcher.domain.market import DemandState, Market
from services.matcher.domain.model import Demand, Offer
from tests.support.market import (
    answer,
    at,
    demand_withdrawn,
    offer_expired,
    published,
    submitted,
    withdrawn,
)
from tests.support.places import (
    PIAZZA_GAE_AULENTI,
    PIAZZALE_ARCHINTO,
    SAN_SIRO,
    VIA_BORSIERI,
)

TTL = timedelta(minutes=60)
PLACES = [PIAZZALE_ARCHINTO, PIAZZA_GAE_AULENTI, VIA_BORSIERI, SAN_SIRO]
OFFER_IDS = [f"offer-{n}" for n in range(4)]


@dataclass
class Known:
    """What the oracle knows of one match, from the decisions and the answers it sent."""

    demand_id: str
    offer_id: str
    seats: int
    expires_at: datetime
    state: MatchState = MatchState.PROPOSED
    answers: dict[Party, Answer] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.state in (MatchState.PROPOSED, MatchState.ACCEPTED)


class Oracle:
    """Brute force over everything it has been told: no index, no incremental counts."""

    def __init__(self) -> None:
        self.offers: dict[str, tuple[Offer, bool]] = {}  # latest version, still live
        self.demands: dict[str, tuple[Demand, bool]] = {}  # latest version, closed
        self.matches: dict[str, Known] = {}
        self.never: set[tuple[str, str]] = set()  # (demand, offer) never to propose again

    def held(self, offer_id: str) -> int:
        return sum(m.seats for m in self.matches.values() if m.live and m.offer_id == offer_id)

    def live_of(self, demand_id: str) -> list[Known]:
        return [m for m in self.matches.values() if m.live and m.demand_id == demand_id]

    def free(self, offer_id: str) -> int:
        return max(0, self.offers[offer_id][0].capacity - self.held(offer_id))

    def waiting(self) -> list[str]:
        return [d for d, (_, closed) in self.demands.items() if not closed and not self.live_of(d)]

    def could_serve(self, demand_id: str) -> list[str]:
        """Live offers, not ruled out for the demand, that fit it with their free seats."""
        demand = self.demands[demand_id][0]
        return [
            o
            for o, (offer, live) in self.offers.items()
            if live
            and (demand_id, o) not in self.never
            and rules.feasible(offer, self.free(o), demand)
        ]


class MarketLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.market = Market("after_school", answer_ttl=TTL)
        self.oracle = Oracle()
        self.minute = 0
        self.versions: dict[str, int] = {}
        self.submitted = 0
        self.log: list[tuple[MarketEvent | None, datetime]] = []  # None: an expiry sweep
        self.decided: list[Decision] = []

    @property
    def now(self) -> datetime:
        return at(self.minute)

    # Driving the market ----------------------------------------------------------------

    def apply(self, event: MarketEvent, tell: Callable[[], None] = lambda: None) -> list[Decision]:
        """Apply `event` a minute later. What expired before it is checked against the
        oracle as it was; then the oracle is told the event (`tell`) and checks the rest."""
        self.minute += 1
        self.log.append((event, self.now))
        before = copy.deepcopy(self.market).expire_due(self.now).decisions
        decisions = self.market.apply(event, self.now).decisions
        assert decisions[: len(before)] == before
        self.check(before)
        tell()
        self.check(decisions[len(before) :])
        return decisions

    def next_version(self, record_id: str) -> int:
        self.versions[record_id] = self.versions.get(record_id, 0) + 1
        return self.versions[record_id]

    @rule(
        offer_id=st.sampled_from(OFFER_IDS),
        place=st.sampled_from(PLACES),
        capacity=st.integers(1, 3),
        price=st.sampled_from([0, 60, 400]),
    )
    def publish_or_update_offer(self, offer_id: str, place: Any, capacity: int, price: int) -> None:
        version = self.next_version(offer_id)
        event = published(offer_id, version=version, near=place, capacity=capacity, price_eur=price)
        self.apply(event, lambda: self.oracle.offers.__setitem__(offer_id, (event.offer, True)))

    @precondition(lambda self: any(live for _, live in self.oracle.offers.values()))
    @rule(data=st.data(), expire=st.booleans())
    def withdraw_or_expire_offer(self, data: st.DataObject, expire: bool) -> None:
        live = sorted(o for o, (_, is_live) in self.oracle.offers.items() if is_live)
        offer_id = data.draw(st.sampled_from(live))
        make = offer_expired if expire else withdrawn
        event = make(offer_id, version=self.next_version(offer_id))
        gone = (self.oracle.offers[offer_id][0], False)
        self.apply(event, lambda: self.oracle.offers.__setitem__(offer_id, gone))

    @rule(
        place=st.sampled_from(PLACES),
        seats=st.integers(1, 2),
        budget=st.sampled_from([None, 100]),
        distance=st.sampled_from([1.0, 3.0]),
    )
    def submit_demand(self, place: Any, seats: int, budget: int | None, distance: float) -> None:
        self.submitted += 1
        demand_id = f"demand-{self.submitted}"
        fields = {"near": place, "seats": seats, "max_price_eur": budget}
        event = submitted(
            demand_id, version=self.next_version(demand_id), max_distance_km=distance, **fields
        )
        self.apply(event, lambda: self.oracle.demands.__setitem__(demand_id, (event.demand, False)))

    @precondition(lambda self: bool(self.oracle.waiting()))
    @rule(data=st.data(), seats=st.integers(1, 2))
    def update_waiting_demand(self, data: st.DataObject, seats: int) -> None:
        demand_id = data.draw(st.sampled_from(sorted(self.oracle.waiting())))
        event = submitted(demand_id, version=self.next_version(demand_id), seats=seats)
        self.apply(event, lambda: self.oracle.demands.__setitem__(demand_id, (event.demand, False)))

    @precondition(lambda self: any(not closed for _, closed in self.oracle.demands.values()))
    @rule(data=st.data())
    def withdraw_demand(self, data: st.DataObject) -> None:
        open_ = sorted(d for d, (_, closed) in self.oracle.demands.items() if not closed)
        demand_id = data.draw(st.sampled_from(open_))
        event = demand_withdrawn(demand_id, version=self.next_version(demand_id))
        gone = (self.oracle.demands[demand_id][0], True)
        self.apply(event, lambda: self.oracle.demands.__setitem__(demand_id, gone))

    @precondition(lambda self: bool(self.oracle.matches))
    @rule(
        data=st.data(),
        party=st.sampled_from(list(Party)),
        given=st.sampled_from(list(Answer)),
        late=st.booleans(),
    )
    def answer_a_match(self, data: st.DataObject, party: Party, given: Answer, late: bool) -> None:
        """Mostly a live match, sometimes an ended one; sometimes after the window."""
        live = sorted(m for m, known in self.oracle.matches.items() if known.live)
        any_match = st.sampled_from(sorted(self.oracle.matches))
        match_id = data.draw(st.sampled_from(live) | any_match if live else any_match)
        self.answer(match_id, party, given, late=late)

    @precondition(
        lambda self: any(k.state == MatchState.PROPOSED for k in self.oracle.matches.values())
    )
    @rule(data=st.data(), requester_first=st.booleans())
    def both_parties_accept(self, data: st.DataObject, requester_first: bool) -> None:
        """Both accept a proposal, one after the other (in either order)."""
        proposals = [m for m, k in self.oracle.matches.items() if k.state == MatchState.PROPOSED]
        match_id = data.draw(st.sampled_from(sorted(proposals)))
        parties = [Party.REQUESTER, Party.PROVIDER]
        for party in parties if requester_first else parties[::-1]:
            self.answer(match_id, party, Answer.ACCEPTED, late=False)

    def answer(self, match_id: str, party: Party, given: Answer, *, late: bool) -> None:
        """Send an answer; the oracle says beforehand what it must do to that match."""
        known = self.oracle.matches[match_id]
        record_id = known.demand_id if party == Party.REQUESTER else known.offer_id
        when = known.expires_at + timedelta(minutes=1) if late else self.now + timedelta(minutes=1)
        expected = self.expected_after_answer(known, party, given, when)
        if not expected and known.state == MatchState.PROPOSED and party not in known.answers:
            due = known.expires_at < when or known.expires_at < self.now + timedelta(minutes=1)
            if not due:
                known.answers[party] = given  # a first accept, waiting for the other party
        event = answer(match_id, party, given, record_id, when=when)
        decisions = self.apply(event)
        about = [
            d
            for d in decisions
            if isinstance(d, MatchAccepted | MatchEnded) and d.match_id == match_id
        ]
        assert [str(d.match.state) for d in about] == expected

    def expected_after_answer(
        self, known: Known, party: Party, given: Answer, when: datetime
    ) -> list[str]:
        """What the oracle expects of this match: it expires first if the answer is late
        (or it is due by now), the first answer of a party stands, both accepts accept."""
        if not known.live:
            return []
        if known.state == MatchState.PROPOSED and (
            known.expires_at < when or known.expires_at < self.now + timedelta(minutes=1)
        ):
            return ["expired"]
        if known.state != MatchState.PROPOSED or party in known.answers:
            return []
        answers = {**known.answers, party: given}
        if given == Answer.DECLINED:
            return ["declined"]
        if answers.get(Party.REQUESTER) == answers.get(Party.PROVIDER) == Answer.ACCEPTED:
            return ["accepted"]
        return []

    @rule(minutes=st.integers(1, 45))
    def time_passes(self, minutes: int) -> None:
        self.minute += minutes
        self.log.append((None, self.now))
        self.check(self.market.expire_due(self.now).decisions)

    @precondition(lambda self: any(event is not None for event, _ in self.log))
    @rule(data=st.data())
    def redeliver_an_event(self, data: st.DataObject) -> None:
        """At-least-once delivery: an event seen before, at its own time, changes nothing."""
        events = [(e, t) for e, t in self.log if e is not None]
        event, when = data.draw(st.sampled_from(events))
        if isinstance(event, AnswerGiven):
            return  # an answer seen again may now be first (say its match was replaced)
        self.log.append((event, when))
        outcome = self.market.apply(event, when)
        assert not outcome.changed

    # The oracle ------------------------------------------------------------------------

    def check(self, decisions: list[Decision]) -> None:
        """Walk the decisions in order, checking each against the oracle, then record it."""
        self.decided += decisions
        for decision in decisions:
            if isinstance(decision, Proposal):
                self.check_proposal(decision)
            elif isinstance(decision, MatchEnded):
                self.check_end(decision)
            elif isinstance(decision, MatchAccepted):
                known = self.oracle.matches[decision.match_id]
                assert known.state == MatchState.PROPOSED
                known.state = MatchState.ACCEPTED
            else:
                assert isinstance(decision, NotFound)
                assert not self.oracle.live_of(decision.demand.id)
        for d in decisions:
            if isinstance(d, MatchAccepted | MatchEnded):
                self.record_answers(d)

    def check_proposal(self, proposal: Proposal) -> None:
        demand_id, offer_id = proposal.demand.id, proposal.offer.id
        demand, closed = self.oracle.demands[demand_id]
        offer, live = self.oracle.offers[offer_id]
        assert not closed
        assert live
        assert not self.oracle.live_of(demand_id), "a demand with two live matches"
        assert (demand_id, offer_id) not in self.oracle.never, "re-proposed after a decline"
        assert rules.feasible(offer, self.oracle.free(offer_id), demand), "infeasible proposal"
        assert proposal.match_id not in self.oracle.matches, "a match id repeated"
        self.oracle.matches[proposal.match_id] = Known(
            demand_id, offer_id, demand.seats, proposal.match.expires_at
        )

    def check_end(self, ended: MatchEnded) -> None:
        known = self.oracle.matches[ended.match_id]
        assert known.live
        state = ended.match.state
        if state == MatchState.EXPIRED:
            assert known.state == MatchState.PROPOSED
            accepted = ended.match.requester_answer == Answer.ACCEPTED
            assert ended.next_step == (NextStep.REMATCH if accepted else NextStep.CLOSED)
        if state == MatchState.CANCELLED:
            assert ended.cause is not None
            self.check_cancel(known, ended.cause)
        rematch_elsewhere = state == MatchState.EXPIRED and ended.next_step == NextStep.REMATCH
        if state == MatchState.DECLINED or rematch_elsewhere:
            self.oracle.never.add((known.demand_id, known.offer_id))
        if ended.next_step != NextStep.REMATCH:
            demand, _ = self.oracle.demands[known.demand_id]
            self.oracle.demands[known.demand_id] = (demand, True)
        known.state = state

    def check_cancel(self, known: Known, cause: CancelCause) -> None:
        offer_gone = not self.oracle.offers[known.offer_id][1]
        demand_gone = self.oracle.demands[known.demand_id][1]
        if cause in (CancelCause.OFFER_WITHDRAWN, CancelCause.OFFER_EXPIRED):
            assert offer_gone
        elif cause == CancelCause.CAPACITY_REDUCED:
            assert known.state == MatchState.PROPOSED, "an accepted match was cut"
        else:
            assert demand_gone

    def record_answers(self, decision: MatchAccepted | MatchEnded) -> None:
        known = self.oracle.matches[decision.match_id]
        for party, given in (
            (Party.REQUESTER, decision.match.requester_answer),
            (Party.PROVIDER, decision.match.provider_answer),
        ):
            if given is not None:
                known.answers[party] = given

    @invariant()
    def the_answers_so_far_are_the_oracles(self) -> None:
        """A live match holds exactly the answers the oracle expects to count."""
        for match_id, match in self.market.matches.items():
            known = self.oracle.matches[match_id]
            assert match.requester_answer == known.answers.get(Party.REQUESTER)
            assert match.provider_answer == known.answers.get(Party.PROVIDER)

    @invariant()
    def the_live_matches_are_the_oracles(self) -> None:
        """Every live match the market holds is one the decisions said is live."""
        live = {m for m, known in self.oracle.matches.items() if known.live}
        assert set(self.market.matches) == live
        for match_id, match in self.market.matches.items():
            assert str(match.state) == str(self.oracle.matches[match_id].state)

    @invariant()
    def seats_held_are_counted_and_never_overbooked_by_proposals(self) -> None:
        """Held seats equal the live matches' seats and stay within capacity, except when
        accepted matches alone exceed a cut capacity."""
        for offer_id, (offer, _) in self.oracle.offers.items():
            held = self.oracle.held(offer_id)
            assert self.market.offers[offer_id].reserved == held
            if held > offer.capacity:
                on_it = [m for m in self.oracle.matches.values() if m.offer_id == offer_id]
                assert all(m.state != MatchState.PROPOSED for m in on_it if m.live)

    @invariant()
    def no_demand_waits_while_a_feasible_offer_has_seats(self) -> None:
        """A waiting demand has no live, allowed offer that fits it with free seats."""
        for demand_id in self.oracle.waiting():
            assert self.oracle.could_serve(demand_id) == [], demand_id
            assert self.market.demands[demand_id].state == DemandState.WAITING

    @invariant()
    def nothing_gone_holds_a_live_match(self) -> None:
        """A withdrawn or closed demand, or an offer gone, has no live match."""
        for known in self.oracle.matches.values():
            if known.live:
                assert not self.oracle.demands[known.demand_id][1]
                assert self.oracle.offers[known.offer_id][1]

    @invariant()
    def no_proposal_outlives_its_window(self) -> None:
        """Whatever ended before the last event or sweep has expired."""
        for match in self.market.matches.values():
            assert match.state != MatchState.PROPOSED or match.expires_at >= self.now

    def teardown(self) -> None:
        """The same events (and sweeps) in the same order give the same decisions."""
        replay = Market("after_school", answer_ttl=TTL)
        decided: list[Decision] = []
        for event, when in self.log:
            outcome = replay.expire_due(when) if event is None else replay.apply(event, when)
            decided += outcome.decisions
        assert decided == self.decided


MarketLifecycle.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMarketLifecycle = MarketLifecycle.TestCase
