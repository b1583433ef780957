"""Demand rules without I/O: submission, revision, withdrawal, match status, privacy."""

from datetime import UTC, datetime, timedelta

import pytest

from concilia.contract import topics
from concilia.contract.demands import DemandCreate, DemandUpdate
from concilia.contract.matches import MatchEventData
from concilia.platform.changes import Conflict, Document
from services.demands import domain, domain_matches
from tests.support.factories import a_demand
from tests.support.places import VIA_BORSIERI

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def submitted(**overrides: object) -> Document:
    payload = DemandCreate.model_validate(a_demand(**overrides))
    return domain.new_demand(payload, "acme", NOW).document


def proposal(match_id: str, demand: Document) -> MatchEventData:
    return MatchEventData(
        match_id=match_id,
        offer_id="off_1",
        demand_id=demand["_id"],
        service_type=demand["service_type"],
        score=0.7,
        reasons={"distance_km": 0.3},
        seats=1,
        requester_ref=demand["requester_ref"],
    )


class TestSubmission:
    def test_the_public_event_is_pseudonymous_and_coarse(self) -> None:
        """demand.submitted: requester_ref, no requester, 3-decimal point, no address."""
        change = domain.new_demand(DemandCreate.model_validate(a_demand()), "acme", NOW)
        event = change.messages[0].event
        assert event is not None
        assert event.type == "demand.submitted"
        assert "requester" not in event.data
        assert event.data["requester_ref"] == change.document["requester_ref"]
        assert event.data["location"] == {
            "lat": round(VIA_BORSIERI.lat, 3),
            "lon": round(VIA_BORSIERI.lon, 3),
        }
        assert b"Borsieri" not in event.to_bytes()
        assert b"Giulia" not in event.to_bytes()

    def test_the_requester_goes_to_the_contacts_topic_only(self) -> None:
        """contact.upserted keyed by requester_ref carries name, e-mail and language."""
        change = domain.new_demand(DemandCreate.model_validate(a_demand()), "acme", NOW)
        contact = change.messages[1]
        assert (contact.topic, contact.key) == (topics.CONTACTS, change.document["requester_ref"])
        assert contact.event is not None
        assert contact.event.data["email"] == "family@example.org"


class TestRevisionAndWithdrawal:
    def test_only_an_open_demand_can_change(self) -> None:
        """Matched or withdrawn demands are a 409."""
        for status in ("matched", "withdrawn"):
            with pytest.raises(Conflict):
                domain.revise({**submitted(), "status": status}, DemandUpdate(seats=2), None, NOW)

    def test_a_change_emits_demand_updated(self) -> None:
        """Version 2 and demand.updated."""
        change = domain.revise(submitted(), DemandUpdate(seats=2), 1, LATER)
        assert change is not None
        assert change.document["version"] == 2
        assert [m.event_type for m in change.messages] == ["demand.updated"]

    def test_withdrawal_erases_the_contact_once(self) -> None:
        """demand.withdrawn plus a tombstone keyed by requester_ref; again is no change."""
        demand = submitted()
        change = domain.withdraw(demand, LATER)
        assert change is not None
        tombstone = change.messages[1]
        assert (tombstone.topic, tombstone.key, tombstone.event) == (
            topics.CONTACTS,
            demand["requester_ref"],
            None,
        )
        assert domain.withdraw(change.document, LATER) is None


class TestMatchStatus:
    def test_a_proposal_matches_an_open_demand_once(self) -> None:
        """matched with the summary; the same match_id again is no change; no event."""
        demand = submitted()
        change = domain_matches.propose(demand, proposal("m1", demand), LATER)
        assert change is not None
        assert change.messages == []
        assert change.document["status"] == "matched"
        assert change.document["match"]["match_id"] == "m1"
        assert domain_matches.propose(change.document, proposal("m1", demand), LATER) is None

    def test_a_withdrawn_demand_ignores_a_proposal(self) -> None:
        """A late proposal does not resurrect a withdrawn demand."""
        withdrawn = {**submitted(), "status": "withdrawn"}
        assert domain_matches.propose(withdrawn, proposal("m1", withdrawn), LATER) is None

    def test_not_found_sets_the_waiting_reason_while_open(self) -> None:
        """waiting_reason follows the last match.not_found; unchanged reason is no change."""
        change = domain_matches.note_waiting(submitted(), "too_far", LATER)
        assert change is not None
        assert change.document["waiting_reason"] == "too_far"
        assert domain_matches.note_waiting(change.document, "too_far", LATER) is None
        matched = {**submitted(), "status": "matched"}
        assert domain_matches.note_waiting(matched, "full", LATER) is None
