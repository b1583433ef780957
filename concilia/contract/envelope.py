"""The CloudEvents 1.0 envelope (structured mode) every message value uses (contract).
`dataschema` names the JSON Schema of `data` (its `$id` in docs/contract/)."""

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from concilia.contract.catalogue import dataschema_of

# Namespace for deterministic event ids: the same fact always gets the same id, so an id is
# stable across retries and redeliveries.
EVENT_NAMESPACE = uuid.UUID("5b6f1c1e-4d0e-4a57-9a53-6f1c0c11a0b1")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def stable_id(*parts: object) -> str:
    """A deterministic UUID (v5) from the given parts: uuid.uuid5(EVENT_NAMESPACE, the
    parts joined by U+001F), written out without building a UUID object (a decision's
    event costs one of these, and UUID() took as long as the rest of the event)."""
    name = "\x1f".join(str(p) for p in parts).encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # a URI on the wire: a null default would contradict it


class CloudEvent(BaseModel):
    """One event on a Concilia topic. `subject` is the aggregate id; `data` the payload."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(pattern=r"^/services/[a-z]+$")
    type: str = Field(min_length=1)
    time: datetime
    subject: str = Field(min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    # Always set on what we publish; optional on what we read (events from before v1.1).
    dataschema: Annotated[
        str | None, WithJsonSchema({"type": "string", "format": "uri"}, mode="serialization")
    ] = Field(default=None, json_schema_extra=_no_default)
    data: dict[str, Any]

    @classmethod
    def new(
        cls,
        *,
        type: str,
        source: str,
        subject: str,
        data: dict[str, Any],
        id: str | None = None,
        time: datetime | None = None,
    ) -> "CloudEvent":
        return cls(
            id=id or str(uuid.uuid4()),
            source=f"/services/{source}",
            type=type,
            time=time or utcnow(),
            subject=subject,
            dataschema=dataschema_of(type),
            data=data,
        )

    def to_bytes(self) -> bytes:
        unset = {"dataschema"} if self.dataschema is None else None  # an unknown type's
        return self.model_dump_json(exclude=unset).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "CloudEvent":
        return cls.model_validate_json(raw)
