"""What the market decides: proposals, not-found answers, and which records changed."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from concilia.contract.envelope import stable_id
from concilia.contract.matches import NotFoundReason
from services.matcher.domain.model import Demand, Offer


def proposal_id(demand: Demand, offer: Offer) -> str:
    return stable_id("match", demand.id, offer.id, demand.version)


def not_found_id(demand: Demand, answer: int) -> str:
    """The `answer`-th not_found about this demand (a refreshed reason is a new answer)."""
    return stable_id("not_found", demand.id, demand.version, answer)


@dataclass(frozen=True)
class Proposal:
    """The demand is matched with the offer; `seats` are reserved on it."""

    match_id: str
    demand: Demand
    offer: Offer
    score: float
    reasons: dict[str, Any]
    time: datetime
    submitted_at: datetime


@dataclass(frozen=True)
class NotFound:
    """No offer can serve the demand now; it waits for one."""

    match_id: str
    demand: Demand
    reason: NotFoundReason
    reasons: dict[str, Any]
    time: datetime


Decision = Proposal | NotFound


@dataclass
class Outcome:
    """The decisions one event led to, and the ids of the records it changed."""

    decisions: list[Decision] = field(default_factory=list)
    offers: set[str] = field(default_factory=set)
    demands: set[str] = field(default_factory=set)

    @property
    def changed(self) -> bool:
        return bool(self.decisions or self.offers or self.demands)
