"""Demand rules, free of I/O: submitting, revising (merge + revalidate), withdrawing, and
the events each change emits. What the match lifecycle changes is in domain_matches."""

import secrets
from datetime import datetime

from concilia.contract import topics
from concilia.contract.common import Point
from concilia.contract.demands import (
    DemandCreate,
    DemandEventData,
    DemandPublic,
    DemandStatus,
    DemandType,
    DemandUpdate,
)
from concilia.contract.taxonomy import area_of
from concilia.platform.changes import (
    Change,
    Conflict,
    Document,
    check_version,
    contact_erased,
    contact_upserted,
    merged_payload,
    record_event,
    revised,
)
from concilia.platform.messages import OutgoingMessage

SOURCE = "demands"
PAYLOAD_FIELDS = tuple(DemandCreate.model_fields)
CLOSED = (DemandStatus.WITHDRAWN, DemandStatus.EXPIRED)
PUBLIC_DECIMALS = 3  # about 100 m: enough to match by distance, too coarse to find a door


def new_demand(payload: DemandCreate, organization_id: str, now: datetime) -> Change:
    """A freshly submitted demand (version 1, open) with its own pseudonymous requester_ref."""
    demand: Document = {
        "_id": "dem_" + secrets.token_hex(8),
        "organization_id": organization_id,
        "requester_ref": "req_" + secrets.token_hex(8),
        "status": DemandStatus.OPEN.value,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "area": area_of(payload.service_type).value,
        "match": None,
        "waiting_reason": None,
        "applied_matches": [],
        **payload.model_dump(mode="json"),
    }
    return Change(demand, [demand_event(demand, DemandType.SUBMITTED), _contact(demand)])


def revise(
    demand: Document, update: DemandUpdate, expected_version: int | None, now: datetime
) -> Change | None:
    """Apply a PATCH to an open demand: the merged demand must still be a valid
    DemandCreate. None if nothing changes. Matched or closed demands conflict."""
    if demand["status"] != DemandStatus.OPEN:
        raise Conflict(f"demand {demand['_id']} is {demand['status']} and can no longer change")
    check_version(demand, expected_version, "demand")
    current = payload_of(demand)
    payload = merged_payload(DemandCreate, current, update)
    if payload == current:
        return None
    changed = revised(demand, now, **payload)
    messages = [demand_event(changed, DemandType.UPDATED)]
    if payload["requester"] != current["requester"]:
        messages.append(_contact(changed))
    return Change(changed, messages)


def withdraw(demand: Document, now: datetime) -> Change | None:
    """Withdraw the demand and erase the requester's contact (a tombstone on the contacts
    topic); None if it is already closed."""
    if demand["status"] in CLOSED:
        return None
    changed = revised(demand, now, status=DemandStatus.WITHDRAWN.value)
    return Change(
        changed,
        [demand_event(changed, DemandType.WITHDRAWN), contact_erased(demand["requester_ref"])],
    )


def payload_of(demand: Document) -> Document:
    """The requester-given fields of a stored demand (what DemandCreate validates)."""
    return {name: demand[name] for name in PAYLOAD_FIELDS}


def public(demand: Document) -> DemandPublic:
    return DemandPublic.model_validate({**demand, "id": demand["_id"]})


def event_data(demand: Document) -> DemandEventData:
    """The public payload: no requester, no address, coordinates rounded to ~100 m."""
    fields = {k: v for k, v in demand.items() if k not in ("requester", "location")}
    location = demand["location"]
    point = Point(
        lat=round(location["lat"], PUBLIC_DECIMALS), lon=round(location["lon"], PUBLIC_DECIMALS)
    )
    return DemandEventData.model_validate({**fields, "id": demand["_id"], "location": point})


def demand_event(demand: Document, type_: str) -> OutgoingMessage:
    return record_event(
        topic=topics.DEMANDS, source=SOURCE, type_=type_, document=demand, data=event_data(demand)
    )


def _contact(demand: Document) -> OutgoingMessage:
    return contact_upserted(SOURCE, demand["requester_ref"], demand["requester"], demand["version"])
