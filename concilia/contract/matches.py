"""Match events (welfare.matches.v1). Public: pseudonymous refs only, no personal data.

The matcher is the only writer of this topic and owns the state of every match (README, lifecycle):
`proposed` → `accepted` | `declined` | `expired` | `cancelled`."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from concilia.contract.common import WeeklySlot
from concilia.contract.taxonomy import ServiceType


class MatchType:
    PROPOSED = "match.proposed"
    NOT_FOUND = "match.not_found"
    # The match lifecycle (v1, additive):
    ACCEPTED = "match.accepted"
    DECLINED = "match.declined"
    EXPIRED = "match.expired"
    CANCELLED = "match.cancelled"


# The lifecycle events that end a match (its seats are released).
ENDING_TYPES = (MatchType.DECLINED, MatchType.EXPIRED, MatchType.CANCELLED)
LIFECYCLE_TYPES = (MatchType.ACCEPTED, *ENDING_TYPES)


class MatchState(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


LIVE_STATES = (MatchState.PROPOSED, MatchState.ACCEPTED)


class Party(StrEnum):
    """The two sides of a match, each answering for itself."""

    REQUESTER = "requester"
    PROVIDER = "provider"


class Answer(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class CancelCause(StrEnum):
    """Why a match was cancelled (`cause` of match.cancelled)."""

    DEMAND_WITHDRAWN = "demand_withdrawn"
    DEMAND_EXPIRED = "demand_expired"
    OFFER_WITHDRAWN = "offer_withdrawn"
    OFFER_EXPIRED = "offer_expired"
    CAPACITY_REDUCED = "capacity_reduced"


class NextStep(StrEnum):
    """What happens to the demand after its match ended."""

    REMATCH = "rematch"  # the matcher looks for another offer (a proposal or not_found follows)
    CLOSED = "closed"  # the demand is closed as expired (no answer from the requester)
    NONE = "none"  # the demand itself went away (withdrawn or expired)


class NotFoundReason(StrEnum):
    """Why no offer fits a demand, in the order used to break ties between reasons."""

    NO_PROVIDER = "no_provider"
    TOO_FAR = "too_far"
    NO_TIME_OVERLAP = "no_time_overlap"
    OVER_BUDGET = "over_budget"
    FULL = "full"
    LANGUAGE = "language"
    AGE = "age"


class OfferSnapshot(BaseModel):
    """What the e-mails need to know of the offer (all of it public on welfare.offers.v1)."""

    title: str
    organization_id: str
    address: str | None
    remote: bool
    availability: list[WeeklySlot]
    price_eur: float
    price_unit: str
    welfare_eligible: bool


class DemandSnapshot(BaseModel):
    """What the provider's e-mail needs to know of the demand (public on welfare.demands.v1)."""

    organization_id: str
    needed: list[WeeklySlot]
    seats: int
    beneficiary_age: int | None
    languages: list[str]


class MatchEventData(BaseModel):
    """Payload of match.* events. For match.not_found `offer_id` is null, `score` 0 and
    `reasons` holds `reason` plus how many candidates each rule excluded.

    Lifecycle events (accepted, declined, expired, cancelled) repeat the proposal's fields
    and add the state: `expires_at` (end of the answer window), each party's answer so far,
    `declined_by` (match.declined), `cause` (match.cancelled) and `next_step` (what happens
    to the demand after an end)."""

    match_id: str
    offer_id: str | None
    demand_id: str
    service_type: ServiceType
    score: Annotated[float, Field(ge=0, le=1)]
    reasons: dict[str, Any]
    seats: int
    provider_ref: str | None = None
    requester_ref: str
    offer: OfferSnapshot | None = None
    demand: DemandSnapshot | None = None
    reason: NotFoundReason | None = None
    # The match lifecycle (README), additive:
    state: MatchState | None = None
    proposed_at: datetime | None = None
    expires_at: datetime | None = None
    requester_answer: Answer | None = None
    provider_answer: Answer | None = None
    declined_by: Party | None = None
    cause: CancelCause | None = None
    next_step: NextStep | None = None
