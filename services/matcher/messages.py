"""Decisions as match events on welfare.matches.v1 (key = service_type, subject = demand)."""

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.matches import DemandSnapshot, MatchEventData, MatchType, OfferSnapshot
from concilia.platform.outbox import OutgoingMessage
from services.matcher.domain.decisions import Decision, Proposal
from services.matcher.domain.model import Demand, Offer

SOURCE = "matcher"


def match_message(decision: Decision) -> OutgoingMessage:
    """The match.proposed / match.not_found message for a decision; its id is stable."""
    demand = decision.demand
    if isinstance(decision, Proposal):
        event_type = MatchType.PROPOSED
        data = MatchEventData(
            match_id=decision.match_id,
            offer_id=decision.offer.id,
            demand_id=demand.id,
            service_type=demand.event.service_type,
            score=decision.score,
            reasons=decision.reasons,
            seats=demand.seats,
            provider_ref=decision.offer.event.provider_ref,
            requester_ref=demand.event.requester_ref,
            offer=offer_snapshot(decision.offer),
            demand=demand_snapshot(demand),
        )
    else:
        event_type = MatchType.NOT_FOUND
        data = MatchEventData(
            match_id=decision.match_id,
            offer_id=None,
            demand_id=demand.id,
            service_type=demand.event.service_type,
            score=0,
            reasons=decision.reasons,
            seats=demand.seats,
            requester_ref=demand.event.requester_ref,
            demand=demand_snapshot(demand),
            reason=decision.reason,
        )
    event = CloudEvent.new(
        id=stable_id(decision.match_id, event_type),
        type=event_type,
        source=SOURCE,
        subject=demand.id,
        time=decision.time,
        data=data.model_dump(mode="json"),
    )
    return OutgoingMessage(topic=topics.MATCHES, key=demand.service_type, event=event)


def offer_snapshot(offer: Offer) -> OfferSnapshot:
    data = offer.event
    return OfferSnapshot(
        title=data.title,
        organization_id=data.organization_id,
        address=data.location.address if data.location else None,
        remote=data.remote,
        availability=data.availability,
        price_eur=data.price_eur,
        price_unit=str(data.price_unit),
        welfare_eligible=data.welfare_eligible,
    )


def demand_snapshot(demand: Demand) -> DemandSnapshot:
    data = demand.event
    return DemandSnapshot(
        organization_id=data.organization_id,
        needed=data.needed,
        seats=data.seats,
        beneficiary_age=data.beneficiary_age,
        languages=data.languages,
    )
