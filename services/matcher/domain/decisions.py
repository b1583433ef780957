"""What the market decides (README: rules, lifecycle): proposals, not-found answers, the
lifecycle of matches (accepted, ended), and which records changed."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from concilia.contract.envelope import stable_id
from concilia.contract.matches import CancelCause, NextStep, NotFoundReason, Party
from services.matcher.domain.lifecycle import Match
from services.matcher.domain.model import Demand, Offer


def proposal_id(demand: Demand, offer: Offer, proposal: int) -> str:
    """The demand's `proposal`-th proposal (a counter per demand: a demand may be proposed
    the same offer again after a cancellation, and match ids never repeat)."""
    return stable_id("match", demand.id, offer.id, demand.version, proposal)


def not_found_id(demand: Demand, answer: int) -> str:
    """The `answer`-th not_found about this demand (a refreshed reason is a new answer)."""
    return stable_id("not_found", demand.id, demand.version, answer)


class AboutAMatch:
    """A decision about one match: its id and demand are the match's."""

    match: Match

    @property
    def match_id(self) -> str:
        return self.match.match_id

    @property
    def demand(self) -> Demand:
        return self.match.demand


@dataclass(frozen=True)
class Proposal(AboutAMatch):
    """The demand is matched with the offer; `seats` are held on it until an answer."""

    match: Match
    submitted_at: datetime

    @property
    def offer(self) -> Offer:
        return self.match.offer

    @property
    def score(self) -> float:
        return self.match.score

    @property
    def reasons(self) -> dict[str, Any]:
        return self.match.reasons

    @property
    def time(self) -> datetime:
        return self.match.proposed_at


@dataclass(frozen=True)
class NotFound:
    """No offer can serve the demand now; it waits for one."""

    match_id: str
    demand: Demand
    reason: NotFoundReason
    reasons: dict[str, Any]
    time: datetime


@dataclass(frozen=True)
class MatchAccepted(AboutAMatch):
    """Both parties accepted: the match stands with its seats and never expires."""

    match: Match
    time: datetime


@dataclass(frozen=True)
class MatchEnded(AboutAMatch):
    """The match was declined, expired or cancelled: its seats are free again, and
    `next_step` says what happens to the demand."""

    match: Match
    time: datetime
    next_step: NextStep
    declined_by: Party | None = None
    cause: CancelCause | None = None


Decision = Proposal | NotFound | MatchAccepted | MatchEnded


@dataclass
class Outcome:
    """The decisions one event led to, and the records it changed (matches by id, with
    their latest state, ended ones included so that their end is stored). `reasons`: the
    waiting demands that were only answered again with a new reason (nothing else of them
    changed: storage may keep just their reason and answer count). `created`: the ids of
    the offers, demands and matches that first appeared here (storage inserts them, which
    costs the database a fraction of replacing a record). `matched`: the demands that got a
    proposal here (their live match, stored anyway, says so: storage need not rewrite them
    unless they are in `demands` too)."""

    decisions: list[Decision] = field(default_factory=list)
    offers: set[str] = field(default_factory=set)
    demands: set[str] = field(default_factory=set)
    matches: dict[str, Match] = field(default_factory=dict)
    reasons: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)
    matched: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(
            self.decisions
            or self.offers
            or self.demands
            or self.matches
            or self.reasons
            or self.matched
        )

    def merge(self, other: "Outcome") -> None:
        self.decisions += other.decisions
        self.offers |= other.offers
        self.demands |= other.demands
        self.matched |= other.matched
        self.matches.update(other.matches)
        self.reasons |= other.reasons
        self.created |= other.created
