"""Demands: HTTP models (DemandCreate, DemandUpdate, DemandPublic) and the event payload."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StrictBool

from concilia.contract.common import (
    STRICT,
    Contact,
    LanguageCode,
    Location,
    Point,
    StrictModel,
    WeeklySlot,
    absent,
)
from concilia.contract.matches import Answer, MatchState
from concilia.contract.taxonomy import ServiceType


class DemandStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class DemandType:
    SUBMITTED = "demand.submitted"
    UPDATED = "demand.updated"
    WITHDRAWN = "demand.withdrawn"
    EXPIRED = "demand.expired"
    # The requester's answer to a proposal (README: match lifecycle), data MatchAnswerData:
    MATCH_ACCEPTED = "demand.match_accepted"
    MATCH_DECLINED = "demand.match_declined"


Seats = Annotated[int, STRICT, Field(ge=1, le=1000)]
Distance = Annotated[float, STRICT, Field(gt=0, le=1000)]


class DemandCreate(StrictModel):
    """What a member organisation posts on behalf of a worker or a family."""

    service_type: ServiceType
    location: Location
    max_distance_km: Distance = 3
    accepts_remote: StrictBool = False
    needed: Annotated[list[WeeklySlot], Field(min_length=1, max_length=50)]
    seats: Seats = 1
    max_price_eur: Annotated[float, STRICT, Field(ge=0, le=1_000_000)] | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=20)] = Field(default_factory=list)
    beneficiary_age: Annotated[int, STRICT, Field(ge=0, le=120)] | None = None
    needed_from: date
    requester: Contact


class DemandUpdate(StrictModel):
    """A PATCH: any field but service_type; absent fields stay as they are."""

    location: Location = absent()
    max_distance_km: Distance = absent()
    accepts_remote: StrictBool = absent()
    needed: Annotated[list[WeeklySlot], Field(min_length=1, max_length=50)] = absent()
    seats: Seats = absent()
    max_price_eur: Annotated[float, STRICT, Field(ge=0, le=1_000_000)] | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=20)] = absent()
    beneficiary_age: Annotated[int, STRICT, Field(ge=0, le=120)] | None = None
    needed_from: date = absent()
    requester: Contact = absent()


class MatchSummary(BaseModel):
    """The current match of a demand, as the demands service learned it from the matcher:
    `state` is `proposed` or `accepted`; `expires_at` ends the window to answer a proposal;
    `requester_answer` is what the requester answered so far (null: not yet)."""

    match_id: str
    offer_id: str
    state: MatchState = MatchState.PROPOSED
    score: float
    reasons: dict[str, Any]
    seats: int
    matched_at: datetime
    expires_at: datetime | None = None
    requester_answer: Answer | None = None


class DemandPublic(BaseModel):
    """A demand as the HTTP API returns it."""

    id: str
    organization_id: str
    status: DemandStatus
    version: int
    created_at: datetime
    updated_at: datetime
    service_type: ServiceType
    area: str
    location: Location
    max_distance_km: float
    accepts_remote: bool
    needed: list[WeeklySlot]
    seats: int
    max_price_eur: float | None
    languages: list[str]
    beneficiary_age: int | None
    needed_from: date
    requester: Contact
    match: MatchSummary | None = None
    waiting_reason: str | None = Field(
        default=None, description="Why no offer fits yet (last match.not_found reason)"
    )


class DemandEventData(BaseModel):
    """Payload of demand.* events: no requester, a pseudonymous `requester_ref`, and the
    location rounded to 3 decimals (about 100 m) with no address."""

    id: str
    organization_id: str
    requester_ref: str
    status: DemandStatus
    version: int
    service_type: ServiceType
    area: str
    location: Point
    max_distance_km: float
    accepts_remote: bool
    needed: list[WeeklySlot]
    seats: int
    max_price_eur: float | None
    languages: list[str]
    beneficiary_age: int | None
    needed_from: date
    created_at: datetime
