"""The shared contract: taxonomy, envelope, validation of incoming payloads."""

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from concilia.contract import topics
from concilia.contract.__main__ import documents
from concilia.contract.demands import DemandCreate
from concilia.contract.envelope import EVENT_NAMESPACE, CloudEvent, stable_id
from concilia.contract.offers import OfferCreate
from concilia.contract.taxonomy import AREA_OF, Area, ServiceType, area_of
from tests.support.factories import a_demand, an_offer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contract"


class TestTaxonomy:
    def test_every_service_type_belongs_to_exactly_one_area(self) -> None:
        """Each of the 21 service types maps to one of the four areas."""
        assert set(AREA_OF) == set(ServiceType)
        assert len(ServiceType) == 21
        assert set(AREA_OF.values()) == set(Area)

    def test_smart_working_advice_is_work(self) -> None:
        """The network's smart-working line of action sits in the work area."""
        assert area_of("smart_working_advice") is Area.WORK
        assert area_of("elderly_care") is Area.FAMILY


class TestEnvelope:
    def test_an_event_round_trips_through_bytes(self) -> None:
        """A CloudEvent written to Kafka reads back equal, with specversion 1.0."""
        event = CloudEvent.new(type="offer.published", source="offers", subject="o1", data={"a": 1})
        again = CloudEvent.from_bytes(event.to_bytes())
        assert again == event
        assert json.loads(event.to_bytes())["specversion"] == "1.0"
        assert again.source == "/services/offers"

    def test_every_event_names_the_json_schema_of_its_data(self) -> None:
        """`dataschema` is the `$id` of the schema of the type's data (answers have their own)."""
        offer = CloudEvent.new(type="offer.published", source="offers", subject="o1", data={})
        answer = CloudEvent.new(
            type="demand.match_accepted", source="demands", subject="d", data={}
        )
        assert offer.dataschema == "urn:concilia:schema:welfare.offers.v1.data.schema.json"
        assert answer.dataschema == "urn:concilia:schema:match_answer.data.schema.json"
        for name, schema in documents().items():
            if name.endswith(".schema.json"):
                assert schema["$id"] == f"urn:concilia:schema:{name}"

    def test_an_event_without_dataschema_is_still_read(self) -> None:
        """Events written before `dataschema` existed parse, and an unknown type has none."""
        raw = b'{"specversion":"1.0","id":"1","source":"/services/offers","type":"offer.x",'
        raw += b'"time":"2026-01-01T00:00:00Z","subject":"o","data":{}}'
        assert CloudEvent.from_bytes(raw).dataschema is None
        stray = CloudEvent.new(type="offer.x", source="offers", subject="o", data={})
        assert "dataschema" not in json.loads(stray.to_bytes())

    def test_stable_ids_depend_only_on_their_parts(self) -> None:
        """The same parts give the same id, different parts a different one."""
        assert stable_id("match", "d1", "o1", 1) == stable_id("match", "d1", "o1", 1)
        assert stable_id("match", "d1", "o1", 1) != stable_id("match", "d1", "o1", 2)

    @given(st.lists(st.one_of(st.text(), st.integers(), st.none()), max_size=4))
    def test_a_stable_id_is_the_uuid5_of_its_parts(self, parts: list[object]) -> None:
        """The ids already published stay what they were: uuid5 of the parts joined by
        U+001F, in the event namespace, even with non-ASCII parts."""
        joined = "\x1f".join(str(p) for p in parts)
        assert stable_id(*parts) == str(uuid.uuid5(EVENT_NAMESPACE, joined))

    def test_a_source_outside_services_is_refused(self) -> None:
        """The envelope's source names one of our services."""
        with pytest.raises(ValidationError):
            CloudEvent(
                id="x",
                source="elsewhere",
                type="t",
                time="2026-01-01T00:00:00Z",
                subject="s",
                data={},
            )


class TestIncomingPayloads:
    def test_the_factories_make_valid_payloads(self) -> None:
        """The test factories produce what the API accepts."""
        OfferCreate.model_validate(an_offer())
        DemandCreate.model_validate(a_demand())

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"capacity": 0}, "capacity"),
            ({"service_type": "astrology"}, "service_type"),
            ({"location": {"address": "Via X 1", "lat": 91, "lon": 9.19}}, "location.lat"),
            ({"availability": [{"day": "mon", "start": "18:00", "end": "09:00"}]}, "availability"),
            ({"contact": {"name": "A", "email": "not-an-email"}}, "contact.email"),
            ({"colour": "red"}, "colour"),
            ({"title": "ab"}, "title"),
        ],
    )
    def test_an_invalid_offer_names_the_bad_field(
        self, change: dict[str, object], field: str
    ) -> None:
        """Each kind of bad input is refused with the offending field in the error location."""
        with pytest.raises(ValidationError) as error:
            OfferCreate.model_validate(an_offer(**change))
        locations = {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}
        assert any(loc.startswith(field) for loc in locations), locations

    def test_a_non_remote_offer_needs_a_location(self) -> None:
        """Only remote offers may omit where they are."""
        with pytest.raises(ValidationError):
            OfferCreate.model_validate(an_offer(location=None, remote=False))
        OfferCreate.model_validate(an_offer(near=None))

    def test_newlines_in_a_name_are_flattened(self) -> None:
        """User text that may reach a mail header never carries CR or LF."""
        demand = DemandCreate.model_validate(a_demand(name="Giulia\r\nBcc: victim@example.org"))
        assert "\n" not in demand.requester.name
        assert "\r" not in demand.requester.name


class TestGeneratedDocuments:
    def test_the_committed_schemas_match_the_models(self) -> None:
        """docs/contract is generated from the models (`python -m concilia.contract`)."""
        for name, doc in documents().items():
            committed = json.loads((DOCS / name).read_text())
            assert committed == json.loads(json.dumps(doc)), f"regenerate {name}"

    def test_the_catalogue_lists_every_topic_with_its_dlq(self) -> None:
        """Every topic has a data schema and a dead-letter topic."""
        catalogue = documents()["topics.json"]["topics"]
        assert {t["topic"] for t in catalogue} == set(topics.ALL)
        assert all(t["dlq"] == t["topic"] + ".dlq" for t in catalogue)
        assert [t["topic"] for t in catalogue if not t["public"]] == [topics.CONTACTS]
