"""The market of one service type: offers with their reservations, demands waiting or
matched, and the index that finds offers near a demand. Every state change goes through
`apply`, which is idempotent: an event whose version is already known changes nothing."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from concilia.contract.matches import NotFoundReason
from concilia.contract.offers import OfferStatus
from services.matcher.domain import rules, scoring
from services.matcher.domain.decisions import (
    NotFound,
    Outcome,
    Proposal,
    not_found_id,
    proposal_id,
)
from services.matcher.domain.events import MarketEvent, OfferChanged
from services.matcher.domain.index import GridIndex, OfferIndex
from services.matcher.domain.model import Demand, Offer

_LIVE = {OfferStatus.OPEN, OfferStatus.FULL}


class DemandState(StrEnum):
    WAITING = "waiting"
    MATCHED = "matched"
    CLOSED = "closed"


@dataclass
class OfferRecord:
    offer: Offer
    active: bool  # in the index: published and not withdrawn or expired
    reserved: int = 0

    @property
    def remaining(self) -> int:
        """Seats still free: capacity minus reservations, never below zero."""
        return max(0, self.offer.capacity - self.reserved)


@dataclass
class DemandRecord:
    demand: Demand
    state: DemandState
    seq: int  # submission order: waiting demands are served oldest first
    submitted_at: datetime
    match_id: str | None = None
    offer_id: str | None = None
    waiting_reason: NotFoundReason | None = None  # the last not_found reason sent
    not_found_answers: int = 0  # how many not_found answers it got: part of their ids


class Market:
    """All offers and demands of one service type, as the matcher knows them."""

    def __init__(
        self,
        service_type: str,
        offers: Iterable[OfferRecord] = (),
        demands: Iterable[DemandRecord] = (),
        index: Callable[[], OfferIndex] = GridIndex,
    ) -> None:
        self.service_type = service_type
        self.offers = {r.offer.id: r for r in offers}
        self.demands = {r.demand.id: r for r in demands}
        self._index = index()
        for record in self.offers.values():
            if record.active:
                self._index.add(record.offer)
        self._next_seq = max((r.seq for r in self.demands.values()), default=0) + 1

    @property
    def open_offers(self) -> int:
        return sum(1 for r in self.offers.values() if r.active and r.offer.open)

    @property
    def waiting_demands(self) -> int:
        return sum(1 for r in self.demands.values() if r.state == DemandState.WAITING)

    def apply(self, event: MarketEvent, at: datetime) -> Outcome:
        """The decisions and changes `event` (which happened at `at`) leads to."""
        if isinstance(event, OfferChanged):
            return self._offer_changed(event.offer, event.closing, at)
        return self._demand_changed(event.demand, event.closing, at)

    def _offer_changed(self, offer: Offer, closing: bool, at: datetime) -> Outcome:
        outcome = Outcome()
        known = self.offers.get(offer.id)
        if known is not None and (
            offer.version < known.offer.version
            or (offer.version == known.offer.version and (not closing or not known.active))
        ):
            return outcome  # a redelivery or a stale version
        active = not closing and offer.event.status in _LIVE
        self.offers[offer.id] = OfferRecord(offer, active, known.reserved if known else 0)
        self._index.remove(offer.id)
        if active:
            self._index.add(offer)
        outcome.offers.add(offer.id)
        if active and offer.open:
            self._serve_waiting(offer, at, outcome)
        self._refresh_waiting_reasons(at, outcome)
        return outcome

    def _refresh_waiting_reasons(self, at: datetime, outcome: Outcome) -> None:
        """After an offer changes, a demand still waiting may be waiting for another reason
        (say `no_provider` became `too_far` when the first offer of its kind arrived, which
        can happen after the demand since the two topics are not ordered with each other).
        Answer again, oldest first, but only where the reason changed."""
        for record in self._waiting_oldest_first():
            why = self._why_not(record.demand)
            if why[0] != record.waiting_reason:
                outcome.decisions.append(self._not_found(record, at, why))
                outcome.demands.add(record.demand.id)

    def _waiting_oldest_first(self) -> list[DemandRecord]:
        return sorted(
            (r for r in self.demands.values() if r.state == DemandState.WAITING),
            key=lambda r: r.seq,
        )

    def _serve_waiting(self, offer: Offer, at: datetime, outcome: Outcome) -> None:
        """Waiting demands, oldest first, each matched against all offers. A waiting demand
        had no feasible offer before this one changed, so it is skipped unless this one
        can serve it (which keeps a new offer from costing a scan per waiting demand)."""
        for record in self._waiting_oldest_first():
            if rules.feasible(offer, self.offers[offer.id].remaining, record.demand):
                best = self._best(record.demand)
                if best is not None:
                    outcome.decisions.append(self._reserve(record, best, at, outcome))

    def _demand_changed(self, demand: Demand, closing: bool, at: datetime) -> Outcome:
        outcome = Outcome()
        known = self.demands.get(demand.id)
        if known is None:
            known = DemandRecord(demand, DemandState.WAITING, self._next_seq, at)
            self._next_seq += 1
            self.demands[demand.id] = known
        elif demand.version < known.demand.version or (
            demand.version == known.demand.version
            and (not closing or known.state != DemandState.WAITING)
        ):
            return outcome  # a redelivery or a stale version
        outcome.demands.add(demand.id)
        known.demand = demand
        if known.state != DemandState.WAITING:
            return outcome  # v1: a match stands with its seats; a closed demand stays closed
        if closing or not demand.open:
            known.state = DemandState.CLOSED
            return outcome
        best = self._best(demand)
        if best is not None:
            outcome.decisions.append(self._reserve(known, best, at, outcome))
        else:
            outcome.decisions.append(self._not_found(known, at))
        return outcome

    def _best(self, demand: Demand) -> OfferRecord | None:
        """The feasible offer with the highest score; ties go to the lowest offer id."""
        feasible = [
            self.offers[offer_id]
            for offer_id in self._index.near(demand)
            if rules.feasible(self.offers[offer_id].offer, self.offers[offer_id].remaining, demand)
        ]
        if not feasible:
            return None
        return min(feasible, key=lambda r: (-scoring.score(r.offer, demand), r.offer.id))

    def _reserve(
        self, record: DemandRecord, best: OfferRecord, at: datetime, outcome: Outcome
    ) -> Proposal:
        demand, offer = record.demand, best.offer
        best.reserved += demand.seats
        record.state = DemandState.MATCHED
        record.match_id = proposal_id(demand, offer)
        record.offer_id = offer.id
        outcome.offers.add(offer.id)
        outcome.demands.add(demand.id)
        return Proposal(
            match_id=record.match_id,
            demand=demand,
            offer=offer,
            score=scoring.score(offer, demand),
            reasons=scoring.explain(offer, demand, best.remaining),
            time=at,
            submitted_at=record.submitted_at,
        )

    def _why_not(self, demand: Demand) -> tuple[NotFoundReason, dict[str, Any]]:
        """Why nothing fits: every rule each live offer of this type fails, counted; the
        reason is the one that ruled out the most (ties in the documented order)."""
        candidates = [r for r in self.offers.values() if r.active]
        excluded: dict[NotFoundReason, int] = {}
        for record in candidates:
            for reason in rules.exclusions(record.offer, record.remaining, demand):
                excluded[reason] = excluded.get(reason, 0) + 1
        reason = rules.main_reason(excluded)
        return reason, {
            "reason": str(reason),
            "candidates": len(candidates),
            "excluded": {str(r): excluded[r] for r in rules.REASON_ORDER if r in excluded},
        }

    def _not_found(
        self,
        record: DemandRecord,
        at: datetime,
        why: tuple[NotFoundReason, dict[str, Any]] | None = None,
    ) -> NotFound:
        """Answer that the demand waits, and remember why (`why` if already worked out)."""
        reason, reasons = why or self._why_not(record.demand)
        record.waiting_reason = reason
        record.not_found_answers += 1
        return NotFound(
            match_id=not_found_id(record.demand, record.not_found_answers),
            demand=record.demand,
            reason=reason,
            reasons=reasons,
            time=at,
        )
