"""Every topic of the contract in one table: its payload model, key, event types, who
publishes and who reads it, and how it is laid out (partitions, compaction). The JSON
Schemas, the AsyncAPI document and each event's `dataschema` are all derived from here."""

from dataclasses import dataclass, field

from pydantic import BaseModel

from concilia.contract import topics
from concilia.contract.answers import MatchAnswerData
from concilia.contract.contacts import ContactEventData, ContactType
from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.matches import MatchEventData, MatchType
from concilia.contract.notifications import NotificationEventData, NotificationType
from concilia.contract.offers import OfferEventData, OfferType

# `dataschema` of an event and `$id` of its JSON Schema: this prefix and the schema's file
# name in docs/contract/ (a URN: the schemas are published with the repository, not served).
SCHEMA_URN = "urn:concilia:schema:"
ENVELOPE_SCHEMA = "cloudevent.schema.json"
ANSWER_SCHEMA = "match_answer.data.schema.json"


def _types_of(holder: type) -> tuple[str, ...]:
    return tuple(v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str))


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the contract."""

    name: str
    payload: type[BaseModel]
    key: str  # the field whose value is the message key
    types: tuple[str, ...]
    publishers: tuple[str, ...]
    consumers: tuple[str, ...]
    summary: str
    # Event types whose data is another model than the topic's payload (the answers).
    other_payloads: dict[str, type[BaseModel]] = field(default_factory=dict)
    compacted: bool = False

    @property
    def restricted(self) -> bool:
        return self.name not in topics.PUBLIC

    @property
    def co_partitioned(self) -> bool:
        return self.name in topics.CO_PARTITIONED

    @property
    def schema_file(self) -> str:
        return f"{self.name}.data.schema.json"

    def schema_file_of(self, event_type: str) -> str:
        """The file of the JSON Schema of `event_type`'s data."""
        return ANSWER_SCHEMA if event_type in self.other_payloads else self.schema_file

    def payload_of(self, event_type: str) -> type[BaseModel]:
        return self.other_payloads.get(event_type, self.payload)


_ANSWERS_OF_OFFERS: dict[str, type[BaseModel]] = {
    OfferType.MATCH_ACCEPTED: MatchAnswerData,
    OfferType.MATCH_DECLINED: MatchAnswerData,
}
_ANSWERS_OF_DEMANDS: dict[str, type[BaseModel]] = {
    DemandType.MATCH_ACCEPTED: MatchAnswerData,
    DemandType.MATCH_DECLINED: MatchAnswerData,
}

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        topics.OFFERS,
        OfferEventData,
        "service_type",
        _types_of(OfferType),
        publishers=("offers",),
        consumers=("matcher",),
        summary="Offers of welfare services and the providers' answers to proposals.",
        other_payloads=_ANSWERS_OF_OFFERS,
    ),
    TopicSpec(
        topics.DEMANDS,
        DemandEventData,
        "service_type",
        _types_of(DemandType),
        publishers=("demands",),
        consumers=("matcher",),
        summary="Demands for welfare services (no personal data: a rounded position, a "
        "pseudonymous requester_ref) and the requesters' answers to proposals.",
        other_payloads=_ANSWERS_OF_DEMANDS,
    ),
    TopicSpec(
        topics.MATCHES,
        MatchEventData,
        "service_type",
        _types_of(MatchType),
        publishers=("matcher",),
        consumers=("offers", "demands", "notifier"),
        summary="Proposals, demands nothing fits yet, and the lifecycle of every match; the "
        "matcher is its only writer.",
    ),
    TopicSpec(
        topics.CONTACTS,
        ContactEventData,
        "ref",
        _types_of(ContactType),
        publishers=("offers", "demands"),
        consumers=("notifier",),
        summary="RESTRICTED: the personal data behind pseudonymous refs (names, e-mail "
        "addresses). Compacted; a null value (tombstone) erases the contact. Only the notifier "
        "may read it.",
        compacted=True,
    ),
    TopicSpec(
        topics.NOTIFICATIONS,
        NotificationEventData,
        "match_id",
        _types_of(NotificationType),
        publishers=("notifier",),
        consumers=(),
        summary="The outcome of every e-mail (sent or failed), without personal data.",
    ),
)

BY_NAME = {spec.name: spec for spec in TOPICS}
_BY_PREFIX = {spec.types[0].split(".")[0]: spec for spec in TOPICS}


def topic_of_type(event_type: str) -> TopicSpec | None:
    """The topic an event type belongs to (by its prefix), or None for an unknown one."""
    spec = _BY_PREFIX.get(event_type.split(".")[0])
    return spec if spec is not None and event_type in spec.types else None


def dataschema_of(event_type: str) -> str | None:
    """The `dataschema` URI of an event type: the `$id` of the JSON Schema of its data."""
    spec = topic_of_type(event_type)
    return SCHEMA_URN + spec.schema_file_of(event_type) if spec else None
