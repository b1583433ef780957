"""Offers: HTTP models (OfferCreate, OfferUpdate, OfferPublic) and the event payload."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from concilia.contract.common import (
    FLATTENED,
    MULTI_LINE,
    STRICT,
    Contact,
    LanguageCode,
    Location,
    StrictModel,
    WeeklySlot,
    absent,
)
from concilia.contract.matches import Answer, MatchState
from concilia.contract.taxonomy import ServiceType

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=120), FLATTENED
]
Description = Annotated[str, Field(max_length=2000), MULTI_LINE]
Age = Annotated[int, STRICT, Field(ge=0, le=120)]


class OfferStatus(StrEnum):
    OPEN = "open"
    FULL = "full"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class PriceUnit(StrEnum):
    MONTH = "month"
    SESSION = "session"
    HOUR = "hour"


class OfferType:
    PUBLISHED = "offer.published"
    UPDATED = "offer.updated"
    WITHDRAWN = "offer.withdrawn"
    EXPIRED = "offer.expired"
    # The provider's answer to a proposal (README: match lifecycle), data MatchAnswerData:
    MATCH_ACCEPTED = "offer.match_accepted"
    MATCH_DECLINED = "offer.match_declined"


class OfferCreate(StrictModel):
    """What a provider posts to publish an offer."""

    title: Title
    description: Description = ""
    service_type: ServiceType
    remote: StrictBool = False
    location: Annotated[Location | None, Field(validate_default=True)] = None
    radius_km: Annotated[float, STRICT, Field(gt=0, le=1000)] | None = None
    availability: Annotated[list[WeeklySlot], Field(min_length=1, max_length=50)]
    valid_from: date
    valid_until: date | None = None
    capacity: Annotated[int, STRICT, Field(ge=1, le=100_000)]
    price_eur: Annotated[float, STRICT, Field(ge=0, le=1_000_000)] = 0
    price_unit: PriceUnit = PriceUnit.MONTH
    welfare_eligible: StrictBool = False
    languages: Annotated[list[LanguageCode], Field(max_length=20)] = Field(default_factory=list)
    min_age: Age | None = None
    max_age: Age | None = None
    contact: Contact

    # Rules across fields, each checked on the later field (declared after the one it
    # depends on), so that a 422 names the field at fault; skipped when that one is bad.

    @field_validator("location")
    @classmethod
    def _located_unless_remote(cls, location: Location | None, info: ValidationInfo) -> Any:
        if location is None and info.data.get("remote") is False:
            raise ValueError("location is required unless the offer is remote")
        return location

    @field_validator("valid_until")
    @classmethod
    def _not_before_valid_from(cls, valid_until: date | None, info: ValidationInfo) -> Any:
        valid_from = info.data.get("valid_from")
        if valid_until is not None and valid_from is not None and valid_until < valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return valid_until

    @field_validator("max_age")
    @classmethod
    def _not_below_min_age(cls, max_age: int | None, info: ValidationInfo) -> Any:
        min_age = info.data.get("min_age")
        if max_age is not None and min_age is not None and max_age < min_age:
            raise ValueError("max_age must not be below min_age")
        return max_age


class OfferUpdate(StrictModel):
    """A PATCH: any field but service_type; absent fields stay as they are. The merged offer
    is validated again as an OfferCreate, so cross-field rules hold after every change."""

    title: Title = absent()
    description: Description = absent()
    remote: StrictBool = absent()
    location: Location | None = None
    radius_km: Annotated[float, STRICT, Field(gt=0, le=1000)] | None = None
    availability: Annotated[list[WeeklySlot], Field(min_length=1, max_length=50)] = absent()
    valid_from: date = absent()
    valid_until: date | None = None
    capacity: Annotated[int, STRICT, Field(ge=1, le=100_000)] = absent()
    price_eur: Annotated[float, STRICT, Field(ge=0, le=1_000_000)] = absent()
    price_unit: PriceUnit = absent()
    welfare_eligible: StrictBool = absent()
    languages: Annotated[list[LanguageCode], Field(max_length=20)] = absent()
    min_age: Age | None = None
    max_age: Age | None = None
    contact: Contact = absent()


class OfferPublic(BaseModel):
    """An offer as the HTTP API returns it."""

    id: str
    organization_id: str
    status: OfferStatus
    version: int
    remaining_capacity: int
    created_at: datetime
    updated_at: datetime
    title: str
    description: str
    service_type: ServiceType
    area: str
    remote: bool
    location: Location | None
    radius_km: float | None
    availability: list[WeeklySlot]
    valid_from: date
    valid_until: date | None
    capacity: int
    price_eur: float
    price_unit: PriceUnit
    welfare_eligible: bool
    languages: list[str]
    min_age: int | None
    max_age: int | None
    contact: Contact


class OfferEventData(BaseModel):
    """Payload of offer.* events: the offer without `contact`, plus `provider_ref`.
    The provider's business address stays: it is where the service is delivered."""

    id: str
    organization_id: str
    provider_ref: str
    status: OfferStatus
    version: int
    title: str
    description: str
    service_type: ServiceType
    area: str
    remote: bool
    location: Location | None
    radius_km: float | None
    availability: list[WeeklySlot]
    valid_from: date
    valid_until: date | None
    capacity: int
    price_eur: float
    price_unit: PriceUnit
    welfare_eligible: bool
    languages: list[str]
    min_age: int | None
    max_age: int | None
    created_at: datetime
    remaining_capacity: int | None = None  # the offers service's view; the matcher keeps its own


class OfferMatchPublic(BaseModel):
    """One match of an offer, for its provider (GET /v1/offers/{id}/matches). The
    requester's contact is there only once both parties accepted."""

    match_id: str
    demand_id: str
    state: MatchState
    seats: int
    proposed_at: datetime
    expires_at: datetime | None
    provider_answer: Answer | None
    requester: Contact | None = None
