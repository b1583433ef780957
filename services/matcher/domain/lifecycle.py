"""The match lifecycle (as the README states it), one small pure function per rule.

A match is `proposed` → `accepted` (both parties accepted, in any order) | `declined`
(either party declined) | `expired` (not both accepted within the answer window) |
`cancelled` (the demand or the offer went away, or the offer shrank below its holds).
Seats are held while the match is live (proposed or accepted) and released by every end.
Transitions return a new `Match`: nothing here mutates or reads a clock."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from concilia.contract.matches import (
    LIVE_STATES,
    Answer,
    CancelCause,
    MatchState,
    NextStep,
    Party,
)
from services.matcher.domain.model import Demand, Offer

DEFAULT_ANSWER_TTL = timedelta(seconds=259_200)  # 72 h, MATCH_ANSWER_TTL_SECONDS


@dataclass(frozen=True)
class Match:
    """A proposal and its state; `offer` and `demand` are as they were when proposed."""

    match_id: str
    demand: Demand
    offer: Offer
    seats: int
    score: float
    reasons: dict[str, Any]
    seq: int  # proposal order in the market: capacity cuts cancel the newest first
    proposed_at: datetime
    expires_at: datetime
    state: MatchState = MatchState.PROPOSED
    requester_answer: Answer | None = None
    provider_answer: Answer | None = None

    @property
    def demand_id(self) -> str:
        return self.demand.id

    @property
    def offer_id(self) -> str:
        return self.offer.id

    @property
    def live(self) -> bool:
        return holds_seats(self.state)


def expires_at(proposed_at: datetime, ttl: timedelta) -> datetime:
    """The end of the answer window: the proposal's time plus the TTL (README: match lifecycle)."""
    return proposed_at + ttl


def holds_seats(state: MatchState) -> bool:
    """Seats are held from `proposed`, kept while `accepted`, released by every end."""
    return state in LIVE_STATES


def answer_of(match: Match, party: Party) -> Answer | None:
    return match.requester_answer if party == Party.REQUESTER else match.provider_answer


def may_answer(match: Match, party: Party) -> bool:
    """Only a proposal can be answered, and only once by each party (the first answer
    stands: the services refuse a different one with 409 before it is ever published)."""
    return match.state == MatchState.PROPOSED and answer_of(match, party) is None


def answered(match: Match, party: Party, answer: Answer) -> Match:
    """The match after `party` answered: declined at once on a decline, accepted once both
    accepted, still proposed while one answer is missing. Call only if `may_answer`."""
    if party == Party.REQUESTER:
        after = replace(match, requester_answer=answer)
    else:
        after = replace(match, provider_answer=answer)
    if answer == Answer.DECLINED:
        return replace(after, state=MatchState.DECLINED)
    if after.requester_answer == Answer.ACCEPTED and after.provider_answer == Answer.ACCEPTED:
        return replace(after, state=MatchState.ACCEPTED)
    return after


def is_due(match: Match, now: datetime) -> bool:
    """A proposal whose answer window has passed; an accepted match never expires."""
    return match.state == MatchState.PROPOSED and match.expires_at < now


def expired(match: Match) -> Match:
    return replace(match, state=MatchState.EXPIRED)


def next_step_after_expiry(match: Match) -> NextStep:
    """The requester had accepted: look again elsewhere; otherwise the demand closes."""
    return NextStep.REMATCH if match.requester_answer == Answer.ACCEPTED else NextStep.CLOSED


def cancelled(match: Match) -> Match:
    return replace(match, state=MatchState.CANCELLED)


def next_step_after_cancel(cause: CancelCause) -> NextStep:
    """The demand went away: nothing follows; the offer went away or shrank: re-match."""
    if cause in (CancelCause.DEMAND_WITHDRAWN, CancelCause.DEMAND_EXPIRED):
        return NextStep.NONE
    return NextStep.REMATCH


def excludes_offer(ended: Match) -> bool:
    """After a decline, or an expiry the requester had accepted, the demand is never
    proposed that offer again; a cancellation excludes nothing."""
    return ended.state == MatchState.DECLINED or (
        ended.state == MatchState.EXPIRED and next_step_after_expiry(ended) == NextStep.REMATCH
    )


def held(matches: Iterable[Match]) -> int:
    """Seats held by the live matches among `matches`."""
    return sum(m.seats for m in matches if m.live)


def to_cut(matches: Iterable[Match], capacity: int) -> list[Match]:
    """The proposals to cancel so that the offer holds no more than `capacity`: newest
    first, never an accepted match (accepted ones alone may overbook after a cut), and none
    that still fits once the others are cut (a cut that overshot would free seats only to
    propose them again, maybe to the same family, its answer lost)."""
    live = [m for m in matches if m.live]
    over = held(live) - capacity
    cut: list[Match] = []
    for match in sorted(live, key=lambda m: m.seq, reverse=True):
        if over <= 0:
            break
        if match.state == MatchState.PROPOSED:
            cut.append(match)
            over -= match.seats
    kept: set[str] = set()
    for match in cut:  # newest first: the newest that fit back are kept
        if match.seats <= -over:
            kept.add(match.match_id)
            over += match.seats
    return [m for m in cut if m.match_id not in kept]
