"""Offer rules without I/O: publication, revision, withdrawal, expiry, capacity view."""

from datetime import UTC, date, datetime, timedelta

import pytest

from concilia.contract import topics
from concilia.contract.matches import MatchEventData
from concilia.contract.offers import OfferCreate, OfferUpdate
from concilia.platform.changes import Conflict, Document, InvalidChange
from services.offers import domain, domain_matches
from tests.support.factories import a_match_event, an_offer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def proposal(match_id: str, seats: int) -> MatchEventData:
    return MatchEventData.model_validate(a_match_event(match_id, seats=seats))


def published(**overrides: object) -> Document:
    return domain.new_offer(OfferCreate.model_validate(an_offer(**overrides)), "coop", NOW).document


class TestPublication:
    def test_a_new_offer_is_open_at_version_1_with_its_own_refs(self) -> None:
        """Version 1, open, full capacity remaining, off_/prv_ refs that differ per offer."""
        first, second = published(), published()
        assert (first["status"], first["version"], first["area"]) == ("open", 1, "family")
        assert domain.remaining_capacity(first) == 5
        assert first["_id"].startswith("off_")
        assert first["provider_ref"].startswith("prv_")
        assert first["provider_ref"] != second["provider_ref"]

    def test_publication_emits_the_offer_without_contact_and_the_contact_apart(self) -> None:
        """offer.published keyed by service_type; contact.upserted keyed by provider_ref."""
        change = domain.new_offer(OfferCreate.model_validate(an_offer()), "coop", NOW)
        offer_msg, contact_msg = change.messages
        assert (offer_msg.topic, offer_msg.key) == (topics.OFFERS, "after_school")
        assert offer_msg.event is not None
        assert offer_msg.event.type == "offer.published"
        assert "contact" not in offer_msg.event.data
        assert offer_msg.event.data["provider_ref"] == change.document["provider_ref"]
        assert (contact_msg.topic, contact_msg.key) == (
            topics.CONTACTS,
            change.document["provider_ref"],
        )
        assert contact_msg.event is not None
        assert contact_msg.event.data["language"] == "it"


class TestRevision:
    def test_a_change_bumps_the_version_and_emits_offer_updated(self) -> None:
        """Only a real change counts: version 2 and one offer.updated."""
        change = domain.revise(published(), OfferUpdate(title="Nuovo corso"), None, LATER)
        assert change is not None
        assert (change.document["version"], change.document["updated_at"]) == (2, LATER)
        assert [m.event_type for m in change.messages] == ["offer.updated"]

    def test_a_patch_that_changes_nothing_is_no_change(self) -> None:
        """Same values: nothing to write, nothing to publish."""
        offer = published()
        assert domain.revise(offer, OfferUpdate(title=offer["title"]), None, LATER) is None

    def test_a_new_contact_is_upserted_too(self) -> None:
        """Changing the contact also emits contact.upserted for the same ref."""
        contact = {"name": "Coop Nuova", "email": "nuova@example.org"}
        change = domain.revise(
            published(), OfferUpdate.model_validate({"contact": contact}), None, LATER
        )
        assert change is not None
        assert [m.event_type for m in change.messages] == ["offer.updated", "contact.upserted"]

    def test_the_merged_offer_must_still_be_valid(self) -> None:
        """Going on-site without a location breaks the cross-field rule: 422."""
        remote = published(near=None)
        with pytest.raises(InvalidChange):
            domain.revise(remote, OfferUpdate(remote=False), None, LATER)

    def test_a_stale_version_conflicts(self) -> None:
        """If-Match with an older version is a 409."""
        with pytest.raises(Conflict):
            domain.revise(published(), OfferUpdate(title="Altro titolo"), 7, LATER)

    @pytest.mark.parametrize("status", ["withdrawn", "expired"])
    def test_a_closed_offer_cannot_change(self, status: str) -> None:
        """Withdrawn and expired offers are final."""
        with pytest.raises(Conflict):
            domain.revise({**published(), "status": status}, OfferUpdate(capacity=9), None, LATER)


class TestWithdrawalAndExpiry:
    def test_withdrawal_happens_once(self) -> None:
        """The first DELETE withdraws with an event; a second is no change."""
        change = domain.withdraw(published(), LATER)
        assert change is not None
        assert change.document["status"] == "withdrawn"
        assert [m.event_type for m in change.messages] == ["offer.withdrawn"]
        assert domain.withdraw(change.document, LATER) is None

    def test_an_offer_expires_the_day_after_valid_until(self) -> None:
        """valid_until is the last valid day: due only when today is later."""
        offer = published(valid_from="2026-01-01", valid_until="2026-03-01")
        assert domain.expire(offer, date(2026, 3, 1), LATER) is None
        change = domain.expire(offer, date(2026, 3, 2), LATER)
        assert change is not None
        assert change.document["status"] == "expired"
        assert [m.event_type for m in change.messages] == ["offer.expired"]

    def test_an_offer_without_end_date_never_expires(self) -> None:
        """valid_until null: open-ended."""
        assert not domain.is_due_to_expire(published(valid_until=None), date(2100, 1, 1))


class TestCapacity:
    def test_a_proposal_holds_seats_once(self) -> None:
        """Seats are held by live matches; a repeated match.proposed changes nothing."""
        change = domain_matches.apply_match_event(
            published(capacity=3), "match.proposed", proposal("m1", 2), LATER
        )
        assert change is not None
        assert domain.remaining_capacity(change.document) == 1
        again = domain_matches.apply_match_event(
            change.document, "match.proposed", proposal("m1", 2), LATER
        )
        assert again is None

    def test_the_offer_is_full_at_zero_and_never_below(self) -> None:
        """Over-holding shows 0 remaining and status full."""
        change = domain_matches.apply_match_event(
            published(capacity=2), "match.proposed", proposal("m1", 3), LATER
        )
        assert change is not None
        assert (domain.remaining_capacity(change.document), change.document["status"]) == (
            0,
            "full",
        )

    def test_raising_capacity_reopens_a_full_offer(self) -> None:
        """A PATCH of capacity above the held seats makes it open again."""
        full = domain_matches.apply_match_event(
            published(capacity=2), "match.proposed", proposal("m1", 2), LATER
        )
        assert full is not None
        change = domain.revise(full.document, OfferUpdate(capacity=4), None, LATER)
        assert change is not None
        assert change.document["status"] == "open"
        assert domain.public(change.document).remaining_capacity == 2
