"""JSON Schemas of what goes on the wire, generated from the contract models.

They describe messages as we publish them (pydantic's serialization mode): every field is
written, so every field is in `required`, `null` included where a value may be absent. Each
schema has an `$id` (`urn:concilia:schema:<file>`), which is what an event's `dataschema`
names."""

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema
from pydantic_core import core_schema

from concilia.contract.catalogue import ENVELOPE_SCHEMA, SCHEMA_URN, TOPICS
from concilia.contract.envelope import CloudEvent

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class WireSchema(GenerateJsonSchema):
    """Serialization-mode schemas in which every written field is required."""

    def field_is_required(
        self,
        field: core_schema.ModelField | core_schema.DataclassField | core_schema.TypedDictField,
        total: bool,
    ) -> bool:
        if self.mode == "serialization":
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


def wire_schema(model: type[BaseModel], ref_template: str = DEFAULT_REF_TEMPLATE) -> dict[str, Any]:
    """The schema of `model` as it is written (serialization mode, every field required)."""
    return model.model_json_schema(
        mode="serialization", schema_generator=WireSchema, ref_template=ref_template
    )


def published(model: type[BaseModel], file_name: str) -> dict[str, Any]:
    """The schema of `model` as published in docs/contract/`file_name`, with its `$id`."""
    return {"$schema": DIALECT, "$id": SCHEMA_URN + file_name, **wire_schema(model)}


def schema_files() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema: the envelope and the data of every event type."""
    files = {ENVELOPE_SCHEMA: published(CloudEvent, ENVELOPE_SCHEMA)}
    for spec in TOPICS:
        for event_type in spec.types:
            name = spec.schema_file_of(event_type)
            files.setdefault(name, published(spec.payload_of(event_type), name))
    return files
