"""Offer rules, free of I/O: publishing, revising (merge + revalidate), withdrawing,
expiring, the capacity view and the events each change emits. What the match lifecycle
changes on an offer is in domain_matches."""

import secrets
from datetime import date, datetime

from concilia.contract import topics
from concilia.contract.matches import LIVE_STATES, MatchState
from concilia.contract.offers import (
    OfferCreate,
    OfferEventData,
    OfferPublic,
    OfferStatus,
    OfferType,
    OfferUpdate,
)
from concilia.contract.taxonomy import area_of
from concilia.platform.changes import (
    Change,
    Conflict,
    Document,
    check_version,
    contact_upserted,
    merged_payload,
    record_event,
    revised,
)
from concilia.platform.messages import OutgoingMessage

SOURCE = "offers"
PAYLOAD_FIELDS = tuple(OfferCreate.model_fields)
ON_THE_MARKET = (OfferStatus.OPEN, OfferStatus.FULL)


def new_offer(payload: OfferCreate, organization_id: str, now: datetime) -> Change:
    """A freshly published offer (version 1, open) with its own pseudonymous provider_ref."""
    offer: Document = {
        "_id": "off_" + secrets.token_hex(8),
        "organization_id": organization_id,
        "provider_ref": "prv_" + secrets.token_hex(8),
        "status": OfferStatus.OPEN.value,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "area": area_of(payload.service_type).value,
        "matches": [],
        **payload.model_dump(mode="json"),
    }
    return Change(offer, [offer_event(offer, OfferType.PUBLISHED), _contact(offer)])


def revise(
    offer: Document, update: OfferUpdate, expected_version: int | None, now: datetime
) -> Change | None:
    """Apply a PATCH: the merged offer must still be a valid OfferCreate. None if nothing
    changes. Withdrawn or expired offers, and a stale If-Match version, are conflicts."""
    if offer["status"] not in ON_THE_MARKET:
        raise Conflict(f"offer {offer['_id']} is {offer['status']} and can no longer change")
    check_version(offer, expected_version, "offer")
    current = payload_of(offer)
    payload = merged_payload(OfferCreate, current, update)
    if payload == current:
        return None
    if payload["capacity"] < accepted_seats(offer):
        raise Conflict(
            f"capacity {payload['capacity']} is below the {accepted_seats(offer)} seats of "
            "accepted matches"
        )
    changed = revised(offer, now, **payload)
    changed["status"] = capacity_status(changed).value
    messages = [offer_event(changed, OfferType.UPDATED)]
    if payload["contact"] != current["contact"]:
        messages.append(_contact(changed))
    return Change(changed, messages)


def withdraw(offer: Document, now: datetime) -> Change | None:
    """Take the offer off the market; None (nothing to do) if it already is."""
    if offer["status"] not in ON_THE_MARKET:
        return None
    changed = revised(offer, now, status=OfferStatus.WITHDRAWN.value)
    return Change(changed, [offer_event(changed, OfferType.WITHDRAWN)])


def is_due_to_expire(offer: Document, today: date) -> bool:
    """An open or full offer whose last valid day is before `today` (Europe/Rome)."""
    until = offer.get("valid_until")
    return (
        offer["status"] in ON_THE_MARKET and until is not None and date.fromisoformat(until) < today
    )


def expire(offer: Document, today: date, now: datetime) -> Change | None:
    """Mark an offer past its valid_until as expired; None if it is not due."""
    if not is_due_to_expire(offer, today):
        return None
    changed = revised(offer, now, status=OfferStatus.EXPIRED.value)
    return Change(changed, [offer_event(changed, OfferType.EXPIRED)])


def held_seats(offer: Document) -> int:
    """Seats held by the offer's live matches (proposed or accepted)."""
    live = {s.value for s in LIVE_STATES}
    return sum(int(m["seats"]) for m in offer.get("matches", []) if m["state"] in live)


def accepted_seats(offer: Document) -> int:
    """Seats of accepted matches: a capacity cut may not go below these (README, lifecycle)."""
    return sum(
        int(m["seats"]) for m in offer.get("matches", []) if m["state"] == MatchState.ACCEPTED
    )


def remaining_capacity(offer: Document) -> int:
    """Seats still free: capacity minus held seats, never below zero."""
    return max(int(offer["capacity"]) - held_seats(offer), 0)


def capacity_status(offer: Document) -> OfferStatus:
    """Open and full follow the remaining capacity; other statuses stay as they are."""
    status = OfferStatus(offer["status"])
    if status not in ON_THE_MARKET:
        return status
    return OfferStatus.FULL if remaining_capacity(offer) == 0 else OfferStatus.OPEN


def payload_of(offer: Document) -> Document:
    """The provider-given fields of a stored offer (what OfferCreate validates)."""
    return {name: offer[name] for name in PAYLOAD_FIELDS}


def public(offer: Document) -> OfferPublic:
    return OfferPublic.model_validate(
        {**offer, "id": offer["_id"], "remaining_capacity": remaining_capacity(offer)}
    )


def event_data(offer: Document) -> OfferEventData:
    """The public event payload: everything but the contact and the matches, plus the
    provider_ref and the remaining capacity."""
    fields = {k: v for k, v in offer.items() if k not in ("contact", "matches")}
    return OfferEventData.model_validate(
        {**fields, "id": offer["_id"], "remaining_capacity": remaining_capacity(offer)}
    )


def offer_event(offer: Document, type_: str) -> OutgoingMessage:
    return record_event(
        topic=topics.OFFERS, source=SOURCE, type_=type_, document=offer, data=event_data(offer)
    )


def _contact(offer: Document) -> OutgoingMessage:
    return contact_upserted(SOURCE, offer["provider_ref"], offer["contact"], offer["version"])
