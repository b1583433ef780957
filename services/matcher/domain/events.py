"""The market events the matcher understands, parsed from CloudEvent type and data."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from concilia.contract.answers import MatchAnswerData
from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.matches import Answer, Party
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


@dataclass(frozen=True)
class AnswerGiven:
    """demand.match_accepted|declined (the requester), offer.match_accepted|declined (the
    provider): `record_id` is the demand's or the offer's id, as the answering side says."""

    match_id: str
    party: Party
    answer: Answer
    record_id: str
    service_type: str
    answered_at: datetime


MarketEvent = OfferChanged | DemandChanged | AnswerGiven

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

_ANSWER_TYPES = {
    DemandType.MATCH_ACCEPTED: (Party.REQUESTER, Answer.ACCEPTED),
    DemandType.MATCH_DECLINED: (Party.REQUESTER, Answer.DECLINED),
    OfferType.MATCH_ACCEPTED: (Party.PROVIDER, Answer.ACCEPTED),
    OfferType.MATCH_DECLINED: (Party.PROVIDER, Answer.DECLINED),
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
    if event_type in _ANSWER_TYPES:
        return _answer(event_type, MatchAnswerData.model_validate(data))
    raise UnknownEventType(event_type)


def _answer(event_type: str, data: MatchAnswerData) -> AnswerGiven:
    party, answer = _ANSWER_TYPES[event_type]
    record_id = data.demand_id if party == Party.REQUESTER else data.offer_id
    return AnswerGiven(
        match_id=data.match_id,
        party=party,
        answer=answer,
        record_id=record_id or "",  # missing: matches no record, so the answer is ignored
        service_type=str(data.service_type),
        answered_at=data.answered_at,
    )
