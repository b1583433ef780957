"""What a pure domain function decides about a record: the new document and the messages
it emits, or a rule it refuses on. No I/O here: the record store persists a Change."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from concilia.contract import topics
from concilia.contract.contacts import ContactEventData, ContactType
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.platform.messages import OutgoingMessage

Document = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """The record after a decision, and the events to stage with it in one transaction."""

    document: Document
    messages: list[OutgoingMessage] = field(default_factory=list)


class Conflict(Exception):
    """The record's state forbids the request (HTTP 409)."""


class InvalidChange(Exception):
    """The request is well-formed but breaks a rule on named fields (HTTP 422)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    @classmethod
    def from_validation(cls, exc: ValidationError) -> "InvalidChange":
        """The same error shape the HTTP layer gives for request validation errors."""
        return cls(
            [
                {
                    "field": ".".join(str(p) for p in err["loc"]) or "body",
                    "message": err["msg"],
                    "type": err["type"],
                }
                for err in exc.errors()
            ]
        )


def now_ms() -> datetime:
    """Now, truncated to milliseconds: what MongoDB stores, so reads equal writes."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def revised(document: Document, now: datetime, **fields: Any) -> Document:
    """The next version of a record: `fields` changed, version + 1, updated_at = now."""
    return {**document, **fields, "version": document["version"] + 1, "updated_at": now}


def noted(document: Document, now: datetime, **fields: Any) -> Document:
    """A note the service makes on a record in the background (a match applied, a waiting
    reason, a seat held): the fields change but `version`, the one clients name in If-Match,
    does not — their next PATCH must not conflict with what they do not own. A change that
    publishes an event about the record uses `revised`: event ids are made of the version."""
    return {**document, **fields, "updated_at": now}


def check_version(document: Document, expected_version: int | None, kind: str) -> None:
    """A stale If-Match version is a conflict (409); no If-Match checks nothing."""
    if expected_version is not None and expected_version != document["version"]:
        raise Conflict(
            f"If-Match names version {expected_version}, the {kind} is at version "
            f"{document['version']}"
        )


def merged_payload(model: type[BaseModel], current: Document, update: BaseModel) -> Document:
    """The client-given fields after a PATCH, validated again as a whole by `model` (so
    cross-field rules still hold); a broken rule is an InvalidChange naming its fields."""
    try:
        merged = model.model_validate({**current, **update.model_dump(exclude_unset=True)})
    except ValidationError as exc:
        raise InvalidChange.from_validation(exc) from exc
    return merged.model_dump(mode="json")


def record_event(
    *, topic: str, source: str, type_: str, document: Document, data: BaseModel
) -> OutgoingMessage:
    """An event about a record, keyed by service_type; its id is stable for (type, id,
    version), so a retried transaction or a republished outbox row carries the same id."""
    return OutgoingMessage(
        topic=topic,
        key=document["service_type"],
        event=CloudEvent.new(
            type=type_,
            source=source,
            subject=document["_id"],
            data=data.model_dump(mode="json"),
            id=stable_id(type_, document["_id"], document["version"]),
            time=document["updated_at"],
        ),
    )


def contact_upserted(source: str, ref: str, contact: Document, version: int) -> OutgoingMessage:
    """The personal data behind a pseudonymous ref, for welfare.contacts.v1 only."""
    data = ContactEventData(ref=ref, **contact)
    return OutgoingMessage(
        topic=topics.CONTACTS,
        key=ref,
        event=CloudEvent.new(
            type=ContactType.UPSERTED,
            source=source,
            subject=ref,
            data=data.model_dump(mode="json"),
            id=stable_id(ContactType.UPSERTED, ref, version),
        ),
    )


def contact_erased(ref: str) -> OutgoingMessage:
    """A tombstone: compaction then forgets the contact behind `ref`."""
    return OutgoingMessage(topic=topics.CONTACTS, key=ref, event=None)
