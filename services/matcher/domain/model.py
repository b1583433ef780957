"""Offer and Demand value objects, built from the event payloads the matcher consumes.

The payload itself is kept as compact JSON (`raw`), not as the validated model: a market
holds tens of thousands of them, and the model takes five times the memory. It is
validated once, on the way in; `data` gives it back as a dict for snapshots and storage."""

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from concilia.contract.common import WeeklySlot
from concilia.contract.demands import DemandEventData, DemandStatus
from concilia.contract.offers import OfferEventData, OfferStatus

_LIVE_OFFER = (OfferStatus.OPEN, OfferStatus.FULL)


class Slot(NamedTuple):
    """A weekly interval in minutes since midnight: (day, start, end), end exclusive."""

    day: str
    start: int
    end: int


def slots_of(weekly: list[WeeklySlot]) -> tuple[Slot, ...]:
    return tuple(Slot(str(s.day), s.start_minute, s.end_minute) for s in weekly)


def merged(slots: tuple[Slot, ...]) -> dict[str, list[tuple[int, int]]]:
    """Per day, the union of the slots as sorted disjoint intervals (adjacent ones joined)."""
    by_day: dict[str, list[tuple[int, int]]] = {}
    for day, start, end in sorted(slots):
        intervals = by_day.setdefault(day, [])
        if intervals and start <= intervals[-1][1]:
            intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
        else:
            intervals.append((start, end))
    return by_day


@dataclass(frozen=True, slots=True)
class Offer:
    """What the rules need of an offer; `raw` keeps the payload for snapshots and storage."""

    id: str
    service_type: str
    organization_id: str  # the provider's
    version: int
    open: bool
    remote: bool
    lat: float | None
    lon: float | None
    radius_km: float | None
    availability: dict[str, list[tuple[int, int]]]
    valid_from: date
    valid_until: date | None
    capacity: int
    price_eur: float
    languages: frozenset[str]
    min_age: int | None
    max_age: int | None
    status: OfferStatus
    raw: bytes = field(compare=False, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        """The payload as JSON-ready values (as `model_dump(mode="json")` gives it)."""
        data: dict[str, Any] = json.loads(self.raw)
        return data

    @property
    def event(self) -> OfferEventData:
        """The payload as its model (validated again: for the rare reader that needs it)."""
        return OfferEventData.model_validate_json(self.raw)

    @classmethod
    def from_event(cls, data: OfferEventData) -> "Offer":
        return cls(
            id=data.id,
            service_type=str(data.service_type),
            organization_id=data.organization_id,
            version=data.version,
            open=data.status in _LIVE_OFFER,  # full is live too: the matcher counts seats
            remote=data.remote,
            lat=data.location.lat if data.location else None,
            lon=data.location.lon if data.location else None,
            radius_km=data.radius_km,
            availability=merged(slots_of(data.availability)),
            valid_from=data.valid_from,
            valid_until=data.valid_until,
            capacity=data.capacity,
            price_eur=data.price_eur,
            languages=frozenset(data.languages),
            min_age=data.min_age,
            max_age=data.max_age,
            status=data.status,
            raw=data.model_dump_json().encode(),
        )


@dataclass(frozen=True, slots=True)
class Demand:
    """What the rules need of a demand; `raw` keeps the payload for snapshots and storage."""

    id: str
    service_type: str
    version: int
    open: bool
    lat: float
    lon: float
    max_distance_km: float
    accepts_remote: bool
    needed: tuple[Slot, ...]
    seats: int
    max_price_eur: float | None
    languages: frozenset[str]
    beneficiary_age: int | None
    needed_from: date
    status: DemandStatus
    raw: bytes = field(compare=False, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        """The payload as JSON-ready values (as `model_dump(mode="json")` gives it)."""
        data: dict[str, Any] = json.loads(self.raw)
        return data

    @property
    def event(self) -> DemandEventData:
        """The payload as its model (validated again: for the rare reader that needs it)."""
        return DemandEventData.model_validate_json(self.raw)

    @classmethod
    def from_event(cls, data: DemandEventData) -> "Demand":
        return cls(
            id=data.id,
            service_type=str(data.service_type),
            version=data.version,
            open=data.status == DemandStatus.OPEN,
            lat=data.location.lat,
            lon=data.location.lon,
            max_distance_km=data.max_distance_km,
            accepts_remote=data.accepts_remote,
            needed=slots_of(data.needed),
            seats=data.seats,
            max_price_eur=data.max_price_eur,
            languages=frozenset(data.languages),
            beneficiary_age=data.beneficiary_age,
            needed_from=data.needed_from,
            status=data.status,
            raw=data.model_dump_json().encode(),
        )

    @property
    def minutes_needed(self) -> int:
        """Minutes per week the demand needs (overlapping needed slots counted once)."""
        return sum(end - start for day in merged(self.needed).values() for start, end in day)
