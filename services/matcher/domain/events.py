"""The market events the matcher understands, parsed from CloudEvent type and data."""

from dataclasses import dataclass
from typing import Any

from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.offers import OfferEventData, OfferType
from services.matcher.domain.model import Demand, Offer


class UnknownEventType(ValueError):
    """An event type the matcher has no rule for."""


@dataclass(frozen=True)
class OfferChanged:
    """offer.published / offer.updated (closing=False), offer.withdrawn / offer.expired."""

    offer: Offer
    closing: bool

    @property
    def service_type(self) -> str:
        return self.offer.service_type


@dataclass(frozen=True)
class DemandChanged:
    """demand.submitted / demand.updated (closing=False), demand.withdrawn / demand.expired."""

    demand: Demand
    closing: bool

    @property
    def service_type(self) -> str:
        return self.demand.service_type


MarketEvent = OfferChanged | DemandChanged

_OFFER_TYPES = {
    OfferType.PUBLISHED: False,
    OfferType.UPDATED: False,
    OfferType.WITHDRAWN: True,
    OfferType.EXPIRED: True,
}
_DEMAND_TYPES = {
    DemandType.SUBMITTED: False,
    DemandType.UPDATED: False,
    DemandType.WITHDRAWN: True,
    DemandType.EXPIRED: True,
}


def parse(event_type: str, data: dict[str, Any]) -> MarketEvent:
    """The market event for a CloudEvent; raises UnknownEventType or pydantic's
    ValidationError."""
    if event_type in _OFFER_TYPES:
        offer = Offer.from_event(OfferEventData.model_validate(data))
        return OfferChanged(offer, closing=_OFFER_TYPES[event_type])
    if event_type in _DEMAND_TYPES:
        demand = Demand.from_event(DemandEventData.model_validate(data))
        return DemandChanged(demand, closing=_DEMAND_TYPES[event_type])
    raise UnknownEventType(event_type)
