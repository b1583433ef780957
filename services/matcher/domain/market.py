"""The market of one service type: offers with the seats their matches hold, demands
waiting or matched, the live matches, and the index that finds offers near a demand.

Every state change goes through `apply` (an event at its time) or `expire_due` (the answer
windows that passed by a given moment). Before an event at time t is applied, every
proposal whose window ended before t expires, so a replay decides exactly the same whether
or not a timer got there first. Redeliveries change nothing (README: rules, lifecycle).

The work of an event does not grow with the market, nor (mostly) with its density: a
demand's best offer is searched best-first among the offers with a free seat, stopping when
nothing left can beat it (`index.py`); waiting demands are found near an offer, oldest
first, through queues by place and need (`waiting.py`); a waiting demand's reason comes
from counts of the supply (`supply.py`) and of the offers within its reach, counted by
bands of latitude (`reach.py`) and kept exact only where the reason depends on it. An offer
leaving or moving still updates every waiting demand within its reach. Closed demands
leave memory (the database keeps them; `leaving` holds them until saved, a tombstone of
their version stays)."""

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from concilia.contract.demands import DemandStatus
from concilia.contract.matches import CancelCause, MatchState, NextStep, NotFoundReason, Party
from concilia.contract.offers import OfferStatus
from services.matcher.domain import lifecycle, rules, scoring, supply
from services.matcher.domain.decisions import (
    MatchAccepted,
    MatchEnded,
    NotFound,
    Outcome,
    Proposal,
    not_found_id,
    proposal_id,
)
from services.matcher.domain.events import AnswerGiven, DemandChanged, MarketEvent, OfferChanged
from services.matcher.domain.index import FreeIndex, GridIndex, OfferIndex
from services.matcher.domain.lifecycle import DEFAULT_ANSWER_TTL, Match
from services.matcher.domain.model import Demand, Offer
from services.matcher.domain.reach import ReachCounter
from services.matcher.domain.supply import Supply
from services.matcher.domain.waiting import Reach, WaitingIndex

_LIVE = {OfferStatus.OPEN, OfferStatus.FULL}


def _same_reach(old: Offer, new: Offer) -> bool:
    """The two versions are within the same demands' distance (and as remote-capable)."""
    return (old.lat, old.lon, old.radius_km, old.remote) == (
        new.lat,
        new.lon,
        new.radius_km,
        new.remote,
    )


class DemandState(StrEnum):
    WAITING = "waiting"
    MATCHED = "matched"
    CLOSED = "closed"


CLOSED = DemandState.CLOSED


@dataclass(slots=True)
class OfferRecord:
    offer: Offer
    active: bool  # in the index: published and not withdrawn or expired
    reserved: int = 0  # seats held by its live matches (proposed or accepted)

    @property
    def remaining(self) -> int:
        """Seats still free: capacity minus holds, never below zero."""
        return max(0, self.offer.capacity - self.reserved)


@dataclass(slots=True)
class DemandRecord:
    demand: Demand
    state: DemandState
    seq: int  # submission order: waiting demands are served oldest first
    submitted_at: datetime
    match_id: str | None = None  # its live match, if any
    offer_id: str | None = None
    waiting_reason: NotFoundReason | None = None  # the last not_found reason sent
    not_found_answers: int = 0  # how many not_found answers it got: part of their ids
    proposals: int = 0  # how many proposals it got: part of their ids
    excluded: set[str] = field(default_factory=set)  # offers never to propose it again


@dataclass(frozen=True)
class Gap:
    """A market's supply and demand: offers with a free seat, their free seats, the
    demands waiting, and the seats held by each provider organisation."""

    open_offers: int
    open_seats: int
    waiting_demands: int
    held_by_organization: Counter[str]


@dataclass(frozen=True)
class _Choice:
    """The best offer for a demand, with its score and distance (worked out once)."""

    record: OfferRecord
    score: float
    km: float | None


class Market:
    """All offers, demands and live matches of one service type, as the matcher knows them.
    `answer_ttl` is the answer window of a proposal (MATCH_ANSWER_TTL_SECONDS)."""

    def __init__(
        self,
        service_type: str,
        offers: Iterable[OfferRecord] = (),
        demands: Iterable[DemandRecord] = (),
        index: Callable[[], OfferIndex] = GridIndex,
        *,
        matches: Iterable[Match] = (),
        answer_ttl: timedelta = DEFAULT_ANSWER_TTL,
        answer_grace: timedelta = timedelta(0),
        closed: Iterable[tuple[str, int, int]] = (),
    ) -> None:
        """`closed`: (id, version, seq) of closed demands no longer held in memory.
        `answer_grace`: how long after a window's end an event's time leaves it open, for an
        answer given in time that is still on its way (on the other topic, through the other
        service's relay); the expiry timer waits as long."""
        self.service_type = service_type
        self.answer_ttl = answer_ttl
        self.answer_grace = answer_grace
        self.offers = {r.offer.id: r for r in offers}
        demands = list(demands)
        # Closed demands: only their version, so that a stale or repeated event is ignored.
        self.closed = {r.demand.id: r.demand.version for r in demands if r.state == CLOSED}
        closed = list(closed)
        self.closed.update((demand_id, version) for demand_id, version, _ in closed)
        self.demands = {r.demand.id: r for r in demands if r.state != CLOSED}
        self.leaving: dict[str, DemandRecord] = {}  # closed since the last `saved()`
        self.matches = {m.match_id: m for m in matches if m.live}
        self.supply = Supply()
        self.waiting = WaitingIndex()
        self._by_offer: dict[str, set[str]] = {}
        for match in self.matches.values():
            self._by_offer.setdefault(match.offer_id, set()).add(match.match_id)
        self._index = index()
        self._free = FreeIndex()  # the offers that can take a demand now, best-first
        self._located = ReachCounter()  # live offers with a place, to count reaches
        self._located_remote = ReachCounter()  # the remote-capable ones among them
        for record in self.offers.values():
            if record.active:
                self._index.add(record.offer)
                self._count_in(record.offer)
                self.supply.add(record.offer, record.remaining)
                self._refree(record)
        seqs = [r.seq for r in demands] + [seq for _, _, seq in closed]
        self._next_seq = max(seqs, default=0) + 1
        # Demands with offers of their own excluded: when to look at each again (by
        # `supply.changes`), lazily cleaned like `_due`.
        self._recheck: list[tuple[int, int, str]] = []
        self._recheck_at: dict[str, int] = {}
        for waiting in sorted(self.demands.values(), key=lambda r: r.seq):
            if waiting.state == DemandState.WAITING:
                self._wait(waiting, self._reach_of(waiting))
                if waiting.demand.id in self.waiting.special:
                    self._look_again(waiting, 0)  # at the next refresh
        self._next_match_seq = max((m.seq for m in self.matches.values()), default=0) + 1
        # Proposals by end of window (lazily cleaned: answered or ended ones are skipped).
        self._due = [
            (m.expires_at, m.seq, m.match_id)
            for m in self.matches.values()
            if m.state == MatchState.PROPOSED
        ]
        heapq.heapify(self._due)

    @property
    def open_offers(self) -> int:
        return sum(1 for r in self.offers.values() if r.active and r.offer.open)

    @property
    def waiting_demands(self) -> int:
        return len(self.waiting)

    def gap(self) -> "Gap":
        """What the operators' gap gauges show of this market (one pass over its offers)."""
        open_offers = open_seats = 0
        held: Counter[str] = Counter()
        for record in self.offers.values():
            if not record.active:
                continue
            held[record.offer.organization_id] += record.reserved
            if record.offer.open and record.remaining > 0:
                open_offers += 1
                open_seats += record.remaining
        return Gap(open_offers, open_seats, len(self.waiting), held)

    def state_of(self, demand_id: str) -> DemandState | None:
        """The demand's state; closed ones are no longer held, only known to be closed."""
        if demand_id in self.demands:
            return self.demands[demand_id].state
        return CLOSED if demand_id in self.closed else None

    def demand_record(self, demand_id: str) -> DemandRecord:
        """A held demand, or one closed since the last `saved()` (for storage)."""
        return self.demands.get(demand_id) or self.leaving[demand_id]

    def saved(self) -> None:
        """The records that closed are in the database now: forget them."""
        self.leaving.clear()

    def apply(self, event: MarketEvent, at: datetime) -> Outcome:
        """The decisions and changes `event` (which happened at `at`) leads to, after the
        answer windows that ended more than `answer_grace` before `at` have expired."""
        outcome = Outcome()
        self._expire(at - self.answer_grace, outcome)
        if isinstance(event, OfferChanged):
            self._offer_changed(event.offer, event.closing, at, outcome)
        elif isinstance(event, DemandChanged):
            self._demand_changed(event.demand, event.closing, at, outcome)
        else:
            self._answered(event, at, outcome)
        return outcome

    def expire_due(self, now: datetime) -> Outcome:
        """Expire every proposal whose answer window ended before `now` (README, lifecycle)."""
        outcome = Outcome()
        self._expire(now, outcome)
        return outcome

    # Offers --------------------------------------------------------------------------

    def _offer_changed(self, offer: Offer, closing: bool, at: datetime, outcome: Outcome) -> None:
        known = self.offers.get(offer.id)
        if known is not None and (
            offer.version < known.offer.version
            or (offer.version == known.offer.version and (not closing or not known.active))
        ):
            return  # a redelivery or a stale version
        active = not closing and offer.status in _LIVE
        record = OfferRecord(offer, active, known.reserved if known else 0)
        if known is None:
            outcome.created.add(offer.id)
        self.offers[offer.id] = record
        self._index.remove(offer.id)
        self._located.remove(offer.id)
        self._located_remote.remove(offer.id)
        if known is not None and known.active:
            self.supply.add(known.offer, known.remaining, -1)
        if active:
            self._index.add(offer)
            self._count_in(offer)
            self.supply.add(offer, record.remaining)
        self._free.remove(offer.id)
        self._refree(record)
        self._reach_changed(known, record)
        outcome.offers.add(offer.id)
        if not active:
            self._cancel_matches_of(offer, at, outcome)
        else:
            self._cut_to_capacity(record, at, outcome)
            if offer.open:
                self._serve_waiting(offer, at, outcome)
        self._refresh_waiting_reasons(at, outcome)

    def _cancel_matches_of(self, offer: Offer, at: datetime, outcome: Outcome) -> None:
        """The offer went away: every live match of it is cancelled, its demands re-matched."""
        expired = offer.status == OfferStatus.EXPIRED
        cause = CancelCause.OFFER_EXPIRED if expired else CancelCause.OFFER_WITHDRAWN
        live = sorted(self._matches_of(offer.id), key=lambda m: m.seq)
        self._cancel(live, cause, at, outcome)

    def _cut_to_capacity(self, record: OfferRecord, at: datetime, outcome: Outcome) -> None:
        """Capacity below the holds: the newest proposals are cancelled, accepted kept."""
        if record.reserved <= record.offer.capacity:
            return
        cut = lifecycle.to_cut(self._matches_of(record.offer.id), record.offer.capacity)
        self._cancel(cut, CancelCause.CAPACITY_REDUCED, at, outcome)

    def _cancel(
        self, matches: list[Match], cause: CancelCause, at: datetime, outcome: Outcome
    ) -> None:
        step = lifecycle.next_step_after_cancel(cause)
        ended = [lifecycle.cancelled(m) for m in matches]
        demands = [self._release(m, MatchEnded(m, at, step, cause=cause), outcome) for m in ended]
        self._rematch(demands, at, outcome)

    def _matches_of(self, offer_id: str) -> list[Match]:
        return [self.matches[m] for m in sorted(self._by_offer.get(offer_id, ()))]

    def _reach_changed(self, before: OfferRecord | None, after: OfferRecord) -> None:
        """Keep each waiting demand's count of live offers within its distance."""
        old = before.offer if before is not None and before.active else None
        new = after.offer if after.active else None
        near: set[str] = set()
        if old is not None and new is not None and _same_reach(old, new):
            return  # seats, price or hours changed (say, it filled up): no reach moves
        if old is None and new is not None:
            # An arrival only raises counts: the lazy ones stay lower bounds (waiting.py).
            near = self.waiting.near(new, eager_only=True)
            if new.lat is not None:
                self.waiting.arrived()
        else:
            for offer in (old, new):
                if offer is not None:
                    near |= self.waiting.near(offer)
        for demand_id in near:
            record = self.demands[demand_id]
            if after.offer.id in record.excluded:
                continue
            was = old is not None and rules.within_distance(old, record.demand)
            now = new is not None and rules.within_distance(new, record.demand)
            gained = int(now) - int(was)
            remote = int(now and new is not None and new.remote) - int(
                was and old is not None and old.remote
            )
            if gained or remote:
                self.waiting.moved(demand_id, gained, remote)

    def _refresh_waiting_reasons(self, at: datetime, outcome: Outcome) -> None:
        """After an offer changes, a demand still waiting may be waiting for another reason
        (say `no_provider` became `too_far` when the first offer of its kind arrived, which
        can happen after the demand since the two topics are not ordered with each other).
        Answer again, oldest first, but only where the reason changed."""
        for record in self._reason_may_have_changed():
            why = self._why_not(record)
            if why[0] != record.waiting_reason:
                outcome.decisions.append(self._not_found(record, at, why))
                outcome.reasons.add(record.demand.id)

    def _reason_may_have_changed(self) -> list[DemandRecord]:
        """Waiting demands, oldest first, whose reason may differ from the one last sent:
        in each group, those on the wrong side of its `too_far` threshold (waiting.py)."""
        live, remote = self.supply.live, self.supply.remote
        found = self._special_due()
        for sample, by_label in self.waiting.groups():
            failing = self.supply.failing(sample)
            top = rules.main_reason(failing) if failing else None
            most = failing.get(top, 0) if top is not None else 0
            threshold = live - most - (remote if sample.accepts_remote else 0)
            for label, by_near in by_label.items():
                if live and label == NotFoundReason.TOO_FAR:
                    keys = by_near.above(threshold)
                elif live and label is not None and label == top:
                    keys = by_near.at_most(threshold)
                elif not live and label == NotFoundReason.NO_PROVIDER:
                    keys = []
                else:
                    keys = by_near.keys
                for key in keys:
                    found |= by_near.ids[key]
        return sorted((self.demands[d] for d in found), key=lambda r: r.seq)

    def _look_again(self, record: DemandRecord, due: int) -> None:
        """Look at a demand with excluded offers again once `supply.changes` reaches due."""
        self._recheck_at[record.demand.id] = due
        heapq.heappush(self._recheck, (due, record.seq, record.demand.id))

    def _special_due(self) -> set[str]:
        """The waiting demands with excluded offers whose reason may have changed since it
        was last worked out (`supply.steps_to_change`), not every one of them."""
        due: set[str] = set()
        while self._recheck and self._recheck[0][0] <= self.supply.changes:
            at, _, demand_id = heapq.heappop(self._recheck)
            if self._recheck_at.get(demand_id) == at:
                del self._recheck_at[demand_id]
                if demand_id in self.waiting.special:
                    due.add(demand_id)
        return due

    def _waiting_near(self, offer: Offer) -> Iterator[DemandRecord]:
        """Waiting demands the offer might serve, oldest first, found as they are asked for
        (the caller stops when the offer is full)."""
        for demand_id in self.waiting.oldest_first(offer):
            if demand_id in self.waiting:
                yield self.demands[demand_id]

    def _serve_waiting(self, offer: Offer, at: datetime, outcome: Outcome) -> None:
        """Waiting demands, oldest first, each matched against all offers. A waiting demand
        had no feasible offer before this one changed (or freed seats), so only those this
        one can serve are looked at (found through the waiting index)."""
        record = self.offers[offer.id]
        if not (record.active and offer.open):
            return
        for waiting in self._waiting_near(offer):
            if record.remaining == 0:
                break  # full: it serves no one else
            if offer.id not in waiting.excluded and rules.feasible(
                offer, record.remaining, waiting.demand
            ):
                best = self._best(waiting)
                if best is not None:
                    outcome.decisions.append(self._reserve(waiting, best, at, outcome))

    # Demands -------------------------------------------------------------------------

    def _demand_changed(
        self, demand: Demand, closing: bool, at: datetime, outcome: Outcome
    ) -> None:
        known = self.demands.get(demand.id)
        if demand.id in self.closed:
            # v1: a closed demand stays closed; a newer version of it only moves the tombstone.
            self.closed[demand.id] = max(demand.version, self.closed[demand.id])
            return
        if known is None:
            known = DemandRecord(demand, DemandState.WAITING, self._next_seq, at)
            self._next_seq += 1
            self.demands[demand.id] = known
            outcome.created.add(demand.id)
        elif demand.version < known.demand.version or (
            demand.version == known.demand.version
            and (not closing or known.state != DemandState.WAITING)
        ):
            return  # a redelivery or a stale version
        outcome.demands.add(demand.id)
        known.demand = demand
        self.waiting.remove(demand.id)
        gone = closing or not demand.open
        if known.state == DemandState.MATCHED and gone:
            self._cancel_match_of(known, at, outcome)
        if known.state != DemandState.WAITING:
            return  # v1: a live match stands with its seats; a closed demand stays closed
        if gone:
            known.state = DemandState.CLOSED
            self._retire(known)
            return
        self._match_or_wait(known, at, outcome)

    def _cancel_match_of(self, record: DemandRecord, at: datetime, outcome: Outcome) -> None:
        """The demand went away: its live match is cancelled, the seats serve others."""
        match = self.matches.get(record.match_id or "")
        record.state = DemandState.CLOSED
        if match is None:
            self._retire(record)
            return
        expired = record.demand.status == DemandStatus.EXPIRED
        cause = CancelCause.DEMAND_EXPIRED if expired else CancelCause.DEMAND_WITHDRAWN
        self._cancel([match], cause, at, outcome)
        self._serve_waiting(self.offers[match.offer_id].offer, at, outcome)

    def _match_or_wait(self, record: DemandRecord, at: datetime, outcome: Outcome) -> None:
        best = self._best(record)
        if best is not None:
            outcome.decisions.append(self._reserve(record, best, at, outcome))
        else:
            self._wait(record, self._reach_of(record))
            outcome.decisions.append(self._not_found(record, at))
            outcome.demands.add(record.demand.id)

    def _wait(self, record: DemandRecord, reach: Reach) -> None:
        self.waiting.add(
            record.demand, record.seq, reach, record.waiting_reason, bool(record.excluded)
        )

    def _retire(self, record: DemandRecord) -> None:
        """A closed demand leaves memory (kept in `leaving` until saved)."""
        self.waiting.remove(record.demand.id)
        self.demands.pop(record.demand.id, None)
        self.closed[record.demand.id] = record.demand.version
        self.leaving[record.demand.id] = record

    def _rematch(self, records: list[DemandRecord], at: datetime, outcome: Outcome) -> None:
        """Demands whose match ended with next step `rematch`, oldest first."""
        for record in sorted(records, key=lambda r: r.seq):
            if record.state == DemandState.WAITING:
                self._match_or_wait(record, at, outcome)

    # Answers and expiry ----------------------------------------------------------------

    def _answered(self, event: AnswerGiven, at: datetime, outcome: Outcome) -> None:
        """A party's answer: an unknown or ended match, or another record's, is ignored; a
        late answer finds the match expired; the first answer of each party stands."""
        match = self.matches.get(event.match_id)
        record_id = match and (
            match.demand_id if event.party == Party.REQUESTER else match.offer_id
        )
        if match is None or record_id != event.record_id:
            return
        if lifecycle.is_due(match, event.answered_at):
            self._expire_one(match, outcome)
            return
        if not lifecycle.may_answer(match, event.party):
            return
        after = lifecycle.answered(match, event.party, event.answer)
        if after.state == MatchState.DECLINED:
            decision = MatchEnded(after, at, NextStep.REMATCH, declined_by=event.party)
            self._after_end([self._release(after, decision, outcome)], after.offer, at, outcome)
            return
        self.matches[after.match_id] = after
        outcome.matches[after.match_id] = after
        if after.state == MatchState.ACCEPTED:
            outcome.decisions.append(MatchAccepted(after, at))

    def _expire(self, now: datetime, outcome: Outcome) -> None:
        """Expire the proposals due by `now`, earliest window first (an expiry may lead to
        a proposal whose own window has already passed: it is expired in turn)."""
        while self._due and self._due[0][0] < now:
            _, _, match_id = heapq.heappop(self._due)
            match = self.matches.get(match_id)
            if match is not None and lifecycle.is_due(match, now):
                self._expire_one(match, outcome)

    def _expire_one(self, match: Match, outcome: Outcome) -> None:
        """The window ended: the match expired at `expires_at` (whoever noticed it when)."""
        ended, at = lifecycle.expired(match), match.expires_at
        decision = MatchEnded(ended, at, lifecycle.next_step_after_expiry(match))
        self._after_end([self._release(ended, decision, outcome)], ended.offer, at, outcome)

    def _after_end(
        self, demands: list[DemandRecord], offer: Offer, at: datetime, outcome: Outcome
    ) -> None:
        """The demand looks again (if so decided), then the freed seats serve the waiting."""
        self._rematch(demands, at, outcome)
        self._serve_waiting(self.offers[offer.id].offer, at, outcome)

    def _release(self, ended: Match, decision: MatchEnded, outcome: Outcome) -> DemandRecord:
        """Record an end: the seats are free, the demand waits again or is closed."""
        self.matches.pop(ended.match_id, None)
        self._by_offer.get(ended.offer_id, set()).discard(ended.match_id)
        outcome.matches[ended.match_id] = ended
        outcome.decisions.append(decision)
        offer = self.offers[ended.offer_id]
        self._hold(offer, max(0, offer.reserved - ended.seats))
        outcome.offers.add(ended.offer_id)
        record = self.demands[ended.demand_id]
        if lifecycle.excludes_offer(ended):
            record.excluded.add(ended.offer_id)
        record.match_id = record.offer_id = None
        rematch = decision.next_step == NextStep.REMATCH
        record.state = DemandState.WAITING if rematch else DemandState.CLOSED
        outcome.demands.add(ended.demand_id)
        if not rematch:
            self._retire(record)
        return record

    def _hold(self, record: OfferRecord, reserved: int) -> None:
        """Set the seats an offer's matches hold (the supply counts its free seats)."""
        before = record.remaining
        record.reserved = reserved
        if record.active and record.remaining != before:
            self.supply.reseat(before, record.remaining)
            self._refree(record)

    def _refree(self, record: OfferRecord) -> None:
        """Keep the offer among those that can take a demand now, or out of them."""
        free = record.active and record.offer.open and record.remaining > 0
        if free and record.offer.id not in self._free:
            self._free.add(record.offer)
        elif not free:
            self._free.remove(record.offer.id)

    # Choosing ------------------------------------------------------------------------

    def _best(self, record: DemandRecord) -> _Choice | None:
        """The feasible offer with the highest score, excluded offers aside (ties go to the
        lowest offer id). Best-first: offers with a free seat come in batches by the best
        score any of them could have, and the search stops at the first batch that cannot
        beat (or tie) the best found. Each candidate's distance and score are worked out
        once."""
        demand = record.demand
        best: _Choice | None = None
        batches = self._free.best_first(
            demand,
            lambda km: scoring.bound_within(demand, km),
            lambda price: scoring.bound_remote(demand, price),
        )
        for bound, offer_ids in batches:
            if best is not None and scoring.cannot_beat(bound, best.score):
                break
            for offer_id in offer_ids:
                if offer_id in record.excluded:
                    continue
                candidate = self.offers[offer_id]
                offer = candidate.offer
                km = rules.distance_km(offer, demand)
                if not rules.feasible_at(offer, candidate.remaining, demand, km):
                    continue
                score = scoring.score_at(offer, demand, km)
                if best is None or (-score, offer_id) < (-best.score, best.record.offer.id):
                    best = _Choice(candidate, score, km)
        return best

    def _count_in(self, offer: Offer) -> None:
        self._located.add(offer)
        if offer.remote:
            self._located_remote.add(offer)

    def _reach_of(self, record: DemandRecord) -> Reach:
        """How many live offers, excluded ones aside, are within the demand's distance
        (and how many of them are remote-capable): a waiting demand keeps this count.
        Counted by bands of latitude (reach.py): only the offers near the edge of its disc
        are measured."""
        demand = record.demand
        near = self._located.within(demand)
        near_remote = self._located_remote.within(demand)
        if near is None or near_remote is None:  # by a pole or the antimeridian
            reach = Reach()
            for offer_id in self._index.near(demand):
                offer = self.offers[offer_id].offer
                if offer_id not in record.excluded and rules.within_distance(offer, demand):
                    reach.near += 1
                    reach.near_remote += offer.remote
            return reach
        for offer_id in record.excluded:
            excluded = self.offers.get(offer_id)
            if (
                excluded is not None
                and excluded.active
                and rules.within_distance(excluded.offer, demand)
            ):
                near -= 1
                near_remote -= excluded.offer.remote
        return Reach(near, near_remote)

    def _reserve(
        self, record: DemandRecord, choice: _Choice, at: datetime, outcome: Outcome
    ) -> Proposal:
        best = choice.record
        demand, offer = record.demand, best.offer
        self._hold(best, best.reserved + demand.seats)
        self.waiting.remove(demand.id)
        record.proposals += 1
        match = Match(
            match_id=proposal_id(demand, offer, record.proposals),
            demand=demand,
            offer=offer,
            seats=demand.seats,
            score=choice.score,
            reasons=scoring.explain(offer, demand, best.remaining, choice.km),
            seq=self._next_match_seq,
            proposed_at=at,
            expires_at=lifecycle.expires_at(at, self.answer_ttl),
        )
        self._next_match_seq += 1
        self.matches[match.match_id] = match
        self._by_offer.setdefault(offer.id, set()).add(match.match_id)
        heapq.heappush(self._due, (match.expires_at, match.seq, match.match_id))
        record.state = DemandState.MATCHED
        record.match_id = match.match_id
        record.offer_id = offer.id
        outcome.matches[match.match_id] = match
        outcome.created.add(match.match_id)
        outcome.offers.add(offer.id)
        outcome.matched.add(demand.id)
        return Proposal(match, submitted_at=record.submitted_at)

    def _why_not(self, record: DemandRecord) -> tuple[NotFoundReason, dict[str, Any]]:
        """Why nothing fits: every rule each live offer of this type (excluded ones aside)
        fails, counted; the reason is the one that ruled out the most (ties in the
        documented order). From the supply's counts and the demand's reach, less the
        offers it excludes: no scan of the offers (a waiting demand's reach is kept)."""
        demand = record.demand
        failing = self.supply.failing(demand)
        live, remote = self.supply.live, self.supply.remote
        for offer_id in record.excluded:
            offer = self.offers.get(offer_id)
            if offer is None or not offer.active:
                continue
            live -= 1
            remote -= offer.offer.remote
            for reason, n in supply.failing_one(offer.offer, offer.remaining, demand).items():
                failing[reason] -= n
        reach = self.waiting.reach(demand.id)
        if reach is None:  # kept lazily since the last count: count it again
            reach = self._reach_of(record)
            self.waiting.set_reach(demand.id, reach)
        reachable = reach.near + (remote - reach.near_remote if demand.accepts_remote else 0)
        if demand.id in self.waiting.special:
            steps = supply.steps_to_change(live - reachable, failing)
            self._look_again(record, self.supply.changes + steps)
        return supply.why(live, live - reachable, failing)

    def _not_found(
        self,
        record: DemandRecord,
        at: datetime,
        why: tuple[NotFoundReason, dict[str, Any]] | None = None,
    ) -> NotFound:
        """Answer that the demand waits, and remember why (`why` if already worked out)."""
        reason, reasons = why or self._why_not(record)
        record.waiting_reason = reason
        self.waiting.relabel(record.demand.id, reason)
        record.not_found_answers += 1
        return NotFound(
            match_id=not_found_id(record.demand, record.not_found_answers),
            demand=record.demand,
            reason=reason,
            reasons=reasons,
            time=at,
        )
