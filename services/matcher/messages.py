"""Decisions as match events on welfare.matches.v1 (key = service_type, subject = demand,
id = stable_id(match_id, type)): README: events, lifecycle. Lifecycle events repeat every field of
the proposal and add its state."""

import json
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic_core import to_jsonable_python

from concilia.contract import topics
from concilia.contract.catalogue import dataschema_of
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.matches import MatchType
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
    # Built from parts already validated (the domain's records, snapshots checked once per
    # payload), in the canonical form of MatchEventData: validating it all again cost more
    # than deciding (tests/unit/test_matcher_messages.py holds it to the contract model).
    event = CloudEvent.model_construct(
        specversion="1.0",
        id=stable_id(decision.match_id, event_type),
        source=f"/services/{SOURCE}",
        type=event_type,
        time=decision.time,
        subject=demand.id,
        datacontenttype="application/json",
        dataschema=dataschema_of(event_type),
        data=data,
    )
    return OutgoingMessage(topic=topics.MATCHES, key=demand.service_type, event=event)


def _typed_data(decision: Decision) -> tuple[str, dict[str, Any]]:
    if isinstance(decision, Proposal):
        return MatchType.PROPOSED, match_data(decision.match)
    if isinstance(decision, MatchAccepted):
        return MatchType.ACCEPTED, match_data(decision.match)
    if isinstance(decision, MatchEnded):
        data = match_data(decision.match)
        data["declined_by"] = _value(decision.declined_by)
        data["cause"] = _value(decision.cause)
        data["next_step"] = _value(decision.next_step)
        return _ENDED_TYPE[str(decision.match.state)], data
    return MatchType.NOT_FOUND, not_found_data(decision)


def match_data(match: Match) -> dict[str, Any]:
    """Every field of the proposal, and the match's state and answers so far: MatchEventData
    as JSON (its fields in order)."""
    demand, offer = match.demand, match.offer
    offer_view, demand_view = _offer_view(offer.raw), _demand_view(demand.raw)
    return {
        "match_id": match.match_id,
        "offer_id": offer.id,
        "demand_id": demand.id,
        "service_type": str(demand.service_type),
        "score": float(match.score),
        "reasons": match.reasons,
        "seats": match.seats,
        "provider_ref": offer_view.ref,
        "requester_ref": demand_view.ref,
        "offer": offer_view.snapshot,
        "demand": demand_view.snapshot,
        "reason": None,
        "state": str(match.state),
        "proposed_at": to_jsonable_python(match.proposed_at),
        "expires_at": to_jsonable_python(match.expires_at),
        "requester_answer": _value(match.requester_answer),
        "provider_answer": _value(match.provider_answer),
        "declined_by": None,
        "cause": None,
        "next_step": None,
    }


def not_found_data(decision: NotFound) -> dict[str, Any]:
    """MatchEventData of a match.not_found as JSON (its fields in order)."""
    demand = decision.demand
    view = _demand_view(demand.raw)
    return {
        "match_id": decision.match_id,
        "offer_id": None,
        "demand_id": demand.id,
        "service_type": str(demand.service_type),
        "score": 0.0,
        "reasons": decision.reasons,
        "seats": demand.seats,
        "provider_ref": None,
        "requester_ref": view.ref,
        "offer": None,
        "demand": view.snapshot,
        "reason": str(decision.reason),
        "state": None,
        "proposed_at": None,
        "expires_at": None,
        "requester_answer": None,
        "provider_answer": None,
        "declined_by": None,
        "cause": None,
        "next_step": None,
    }


def _value(member: StrEnum | None) -> str | None:
    return None if member is None else str(member)


class _View(NamedTuple):
    ref: str
    snapshot: dict[str, Any]  # as JSON; shared by every message about the record: never changed


# A demand is answered many times (not found, again with another reason, proposed) and an
# offer proposed to many demands: each payload is parsed once. The payloads are the JSON of
# validated events (Offer.raw, Demand.raw), so their fields are already in canonical form.
@lru_cache(maxsize=8192)
def _offer_view(raw: bytes) -> _View:
    data = json.loads(raw)
    return _View(data["provider_ref"], offer_snapshot(data))


@lru_cache(maxsize=8192)
def _demand_view(raw: bytes) -> _View:
    data = json.loads(raw)
    return _View(data["requester_ref"], demand_snapshot(data))


def offer_snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """What the parties see of the offer (OfferSnapshot as JSON), from its payload."""
    location = data.get("location")
    return {
        "title": data["title"],
        "organization_id": data["organization_id"],
        "address": location["address"] if location else None,
        "remote": data["remote"],
        "availability": data["availability"],
        "price_eur": float(data["price_eur"]),
        "price_unit": data["price_unit"],
        "welfare_eligible": data["welfare_eligible"],
    }


def demand_snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """What the parties see of the demand (DemandSnapshot as JSON), from its payload."""
    return {
        "organization_id": data["organization_id"],
        "needed": data["needed"],
        "seats": data["seats"],
        "beneficiary_age": data.get("beneficiary_age"),
        "languages": data["languages"],
    }
