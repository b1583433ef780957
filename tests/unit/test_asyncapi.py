"""The AsyncAPI 3.0 document of the topics: generated from the contract, accepted by the
official AsyncAPI CLI, and in agreement with what FastStream declares for each service."""

import importlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from concilia.contract import topics
from concilia.contract.__main__ import ASYNCAPI_FILE, asyncapi_yaml
from concilia.contract.asyncapi import SERVICES, document
from concilia.contract.catalogue import BY_NAME, SCHEMA_URN, dataschema_of
from concilia.contract.jsonschema import schema_files

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "contract" / ASYNCAPI_FILE
CLI = ROOT / "tools" / "asyncapi" / "node_modules" / ".bin" / "asyncapi"
SECRET = "a-test-secret-of-32-characters-xx"


def channels_by_address(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["address"]: channel for channel in doc["channels"].values()}


def operations_of(doc: dict[str, Any], service: str, action: str) -> set[str]:
    """The topics on which `service` does `action` (send or receive) in `doc`."""
    found = set()
    for op in doc["operations"].values():
        if op["action"] == action and {"name": service} in op.get("tags", []):
            channel = op["channel"]["$ref"].split("/")[-1]
            found.add(doc["channels"][channel]["address"])
    return found


def faststream_document(service: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document FastStream generates for one service's broker."""
    app_module = importlib.import_module(f"services.{service}.app")
    settings_module = importlib.import_module(f"services.{service}.settings")
    broker = KafkaBroker("127.0.0.1:9092")
    app_module.create_app(settings_module.Settings(auth_jwt_secret=SECRET), broker=broker)
    spec = AsyncAPI(broker, schema_version="3.0.0").to_specification()
    return json.loads(spec.to_json())  # type: ignore[no-any-return]


class TestTheDocument:
    def test_the_committed_document_is_the_generated_one(self) -> None:
        """asyncapi.yaml is generated from the models (`python -m concilia.contract`)."""
        assert COMMITTED.read_text() == asyncapi_yaml(), "regenerate docs/contract"

    def test_every_topic_and_its_dead_letter_topic_is_a_channel(self) -> None:
        """All five topics and their five DLQs are channels, contacts tagged restricted."""
        channels = channels_by_address(document())
        assert set(channels) == set(topics.ALL) | {topics.dlq(t) for t in topics.ALL}
        assert {"name": "restricted"} in [
            {"name": tag["name"]} for tag in channels[topics.CONTACTS]["tags"]
        ]
        assert channels[topics.CONTACTS]["bindings"]["kafka"]["topicConfiguration"] == {
            "cleanup.policy": ["compact"]
        }
        assert "tags" not in channels[topics.OFFERS]

    def test_every_event_type_is_a_message_with_its_payload_schema_key_and_headers(self) -> None:
        """Each type names its data schema, keeps the CloudEvents header and a Kafka key."""
        doc = document()
        messages = {m["name"]: m for m in doc["components"]["messages"].values()}
        for spec in BY_NAME.values():
            for event_type in spec.types:
                message = messages[event_type]
                data = message["payload"]["allOf"][1]["properties"]
                assert data["dataschema"] == {"const": dataschema_of(event_type)}
                assert data["data"]["$ref"].split("/")[-1] in doc["components"]["schemas"]
                assert message["headers"]["$ref"].endswith("CloudEventsHeaders")
                assert message["contentType"] == "application/cloudevents+json"
                assert "key" in message["bindings"]["kafka"]

    def test_no_schema_reference_dangles(self) -> None:
        """Every $ref of the document points inside it, at something that exists."""
        doc = document()
        text = json.dumps(doc)
        for ref in {part.split('"')[0] for part in text.split('"$ref": "')[1:]}:
            node: Any = doc
            for step in ref.removeprefix("#/").split("/"):
                node = node[step]
            assert node, ref

    def test_every_json_schema_has_an_id_and_every_written_field_required(self) -> None:
        """Each schema file has its `$id` (what dataschema names) and a complete required list."""
        for name, schema in schema_files().items():
            assert schema["$id"] == SCHEMA_URN + name
            assert set(schema["required"]) == set(schema["properties"]), name
        assert "specversion" in schema_files()["cloudevent.schema.json"]["required"]


class TestOfficialTooling:
    def test_the_asyncapi_cli_accepts_the_document(self, tmp_path: Path) -> None:
        """`asyncapi validate` (the official CLI, installed by `make install`) finds no error."""
        if not CLI.exists():
            if shutil.which("npm") is None:
                pytest.skip("could not run: npm is not installed, so neither is the AsyncAPI CLI")
            pytest.fail("the AsyncAPI CLI is missing: run `make install`")
        analytics = tmp_path / "analytics.json"
        analytics.write_text('{"analyticsEnabled": "false", "infoMessageShown": "true"}')
        result = subprocess.run(
            [str(CLI), "validate", str(COMMITTED), "--fail-severity", "error"],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PATH": "/usr/bin:/bin", "ASYNCAPI_METRICS_CONFIG_PATH": str(analytics)},
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is valid" in result.stdout


class TestFastStreamAgrees:
    @pytest.mark.parametrize("service", SERVICES)
    def test_what_faststream_declares_for_a_service_is_in_the_contract(self, service: str) -> None:
        """The topics a service's FastStream subscribers read are its receive operations."""
        generated = faststream_document(service)
        ours = document()

        def declared(action: str) -> set[str]:
            channels = generated["channels"]
            return {
                channels[op["channel"]["$ref"].split("/")[-1]]["bindings"]["kafka"]["topic"]
                for op in generated.get("operations", {}).values()
                if op["action"] == action
            }

        assert declared("receive") == operations_of(ours, service, "receive")
        assert declared("send") <= operations_of(ours, service, "send")
        assert operations_of(ours, service, "receive") == {
            topic for topic, spec in BY_NAME.items() if service in spec.consumers
        }


def test_the_yaml_parses_to_the_generated_document() -> None:
    """The YAML text is the document (nothing lost in the dump)."""
    assert yaml.safe_load(asyncapi_yaml()) == json.loads(json.dumps(document()))
