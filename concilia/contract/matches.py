"""Match events (welfare.matches.v1). Public: pseudonymous refs only, no personal data."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from concilia.contract.common import WeeklySlot
from concilia.contract.taxonomy import ServiceType


class MatchType:
    PROPOSED = "match.proposed"
    NOT_FOUND = "match.not_found"
    # The match lifecycle (a later version) adds:
    ACCEPTED = "match.accepted"
    DECLINED = "match.declined"
    EXPIRED = "match.expired"


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
    `reasons` holds `reason` plus how many candidates each rule excluded."""

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
