"""Write the JSON Schemas of every event payload and the topic catalogue, generated from
the contract models: `python -m concilia.contract docs/contract`."""

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from concilia.contract import topics
from concilia.contract.answers import MatchAnswerData
from concilia.contract.contacts import ContactEventData, ContactType
from concilia.contract.demands import DemandEventData, DemandType
from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import MatchEventData, MatchType
from concilia.contract.notifications import NotificationEventData, NotificationType
from concilia.contract.offers import OfferEventData, OfferType

# topic → (payload model, message key)
CATALOGUE: dict[str, tuple[type[BaseModel], str]] = {
    topics.OFFERS: (OfferEventData, "service_type"),
    topics.DEMANDS: (DemandEventData, "service_type"),
    topics.MATCHES: (MatchEventData, "service_type"),
    topics.CONTACTS: (ContactEventData, "ref"),
    topics.NOTIFICATIONS: (NotificationEventData, "match_id"),
}


# Event types whose data is not the topic's main payload model: the answers to a proposal.
TYPE_SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    OfferType.MATCH_ACCEPTED: (MatchAnswerData, "match_answer.data.schema.json"),
    OfferType.MATCH_DECLINED: (MatchAnswerData, "match_answer.data.schema.json"),
    DemandType.MATCH_ACCEPTED: (MatchAnswerData, "match_answer.data.schema.json"),
    DemandType.MATCH_DECLINED: (MatchAnswerData, "match_answer.data.schema.json"),
}


def _types_of(holder: type) -> list[str]:
    return [v for k, v in vars(holder).items() if k.isupper() and isinstance(v, str)]


def documents() -> dict[str, Any]:
    """File name → JSON document, for every schema in the contract."""
    event_types = {
        topics.OFFERS: _types_of(OfferType),
        topics.DEMANDS: _types_of(DemandType),
        topics.MATCHES: _types_of(MatchType),
        topics.CONTACTS: _types_of(ContactType),
        topics.NOTIFICATIONS: _types_of(NotificationType),
    }
    docs: dict[str, Any] = {"cloudevent.schema.json": CloudEvent.model_json_schema()}
    for model, name in TYPE_SCHEMAS.values():
        docs[name] = model.model_json_schema()
    catalogue = []
    for topic, (model, key) in CATALOGUE.items():
        name = f"{topic}.data.schema.json"
        docs[name] = model.model_json_schema()
        types = event_types[topic]
        catalogue.append(
            {
                "topic": topic,
                "key": key,
                "types": types,
                "data_schema": name,
                "type_data_schemas": {t: TYPE_SCHEMAS[t][1] for t in types if t in TYPE_SCHEMAS},
                "dlq": topics.dlq(topic),
                "public": topic in topics.PUBLIC,
            }
        )
    docs["topics.json"] = {"envelope": "cloudevent.schema.json", "topics": catalogue}
    return docs


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/contract")
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in documents().items():
        (out / name).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(documents())} documents to {out}")


if __name__ == "__main__":
    main()
