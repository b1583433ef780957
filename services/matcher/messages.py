"""Decisions as match events on welfare.matches.v1 (key = service_type, subject = demand,
id = stable_id(match_id, type)): DESIGN §4 and §8. Lifecycle events repeat every field of
the proposal and add its state."""

import json
from functools import lru_cache
from typing import Any, NamedTuple

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.matches import DemandSnapshot, MatchEventData, MatchType, OfferSnapshot
from concilia.platform.messages import OutgoingMessage
from services.matcher.domain.decisions import (
    Decision,
    MatchAccepted,
    MatchEnded,
    NotFound,
    Proposal,
)
from services.matcher.domain.lifecycle import Match

SOURCE = "matcher"

_ENDED_TYPE = {
    "declined": MatchType.DECLINED,
    "expired": MatchType.EXPIRED,
    "cancelled": MatchType.CANCELLED,
}


def match_message(decision: Decision) -> OutgoingMessage:
    """The match.* message for a decision; its id is stable (redelivery-safe)."""
    event_type, data = _typed_data(decision)
    demand = decision.demand
    event = CloudEvent.new(
        id=stable_id(decision.match_id, event_type),
        type=event_type,
        source=SOURCE,
        subject=demand.id,
        time=decision.time,
        data=data.model_dump(mode="json"),
    )
    return OutgoingMessage(topic=topics.MATCHES, key=demand.service_type, event=event)


def _typed_data(decision: Decision) -> tuple[str, MatchEventData]:
    if isinstance(decision, Proposal):
        return MatchType.PROPOSED, match_data(decision.match)
    if isinstance(decision, MatchAccepted):
        return MatchType.ACCEPTED, match_data(decision.match)
    if isinstance(decision, MatchEnded):
        data = match_data(decision.match).model_copy(
            update={
                "declined_by": decision.declined_by,
                "cause": decision.cause,
                "next_step": decision.next_step,
            }
        )
        return _ENDED_TYPE[str(decision.match.state)], data
    return MatchType.NOT_FOUND, not_found_data(decision)


def match_data(match: Match) -> MatchEventData:
    """Every field of the proposal, and the match's state and answers so far."""
    demand, offer = match.demand, match.offer
    offer_view, demand_view = _offer_view(offer.raw), _demand_view(demand.raw)
    return MatchEventData(
        match_id=match.match_id,
        offer_id=offer.id,
        demand_id=demand.id,
        service_type=demand.service_type,
        score=match.score,
        reasons=match.reasons,
        seats=match.seats,
        provider_ref=offer_view.ref,
        requester_ref=demand_view.ref,
        offer=offer_view.snapshot,
        demand=demand_view.snapshot,
        state=match.state,
        proposed_at=match.proposed_at,
        expires_at=match.expires_at,
        requester_answer=match.requester_answer,
        provider_answer=match.provider_answer,
    )


def not_found_data(decision: NotFound) -> MatchEventData:
    demand = decision.demand
    view = _demand_view(demand.raw)
    return MatchEventData(
        match_id=decision.match_id,
        offer_id=None,
        demand_id=demand.id,
        service_type=demand.service_type,
        score=0,
        reasons=decision.reasons,
        seats=demand.seats,
        requester_ref=view.ref,
        demand=view.snapshot,
        reason=decision.reason,
    )


class _OfferView(NamedTuple):
    ref: str
    snapshot: OfferSnapshot


class _DemandView(NamedTuple):
    ref: str
    snapshot: DemandSnapshot


# A demand is answered many times (not found, again with another reason, proposed) and an
# offer proposed to many demands: each payload is parsed and its snapshot checked once.
# The snapshots are never changed (a message copies them into its own data).
@lru_cache(maxsize=8192)
def _offer_view(raw: bytes) -> _OfferView:
    data = json.loads(raw)
    return _OfferView(data["provider_ref"], offer_snapshot(data))


@lru_cache(maxsize=8192)
def _demand_view(raw: bytes) -> _DemandView:
    data = json.loads(raw)
    return _DemandView(data["requester_ref"], demand_snapshot(data))


def offer_snapshot(data: dict[str, Any]) -> OfferSnapshot:
    """What the parties see of the offer, from its payload (`Offer.data`)."""
    location = data.get("location")
    return OfferSnapshot.model_validate(
        {
            "title": data["title"],
            "organization_id": data["organization_id"],
            "address": location["address"] if location else None,
            "remote": data["remote"],
            "availability": data["availability"],
            "price_eur": data["price_eur"],
            "price_unit": data["price_unit"],
            "welfare_eligible": data["welfare_eligible"],
        }
    )


def demand_snapshot(data: dict[str, Any]) -> DemandSnapshot:
    """What the parties see of the demand, from its payload (`Demand.data`)."""
    return DemandSnapshot.model_validate(
        {
            "organization_id": data["organization_id"],
            "needed": data["needed"],
            "seats": data["seats"],
            "beneficiary_age": data.get("beneficiary_age"),
            "languages": data["languages"],
        }
    )
