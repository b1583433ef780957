"""The offer's side of the match lifecycle without I/O: its matches and seats, the
full/open announcements, and the provider's answer (README: match lifecycle)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from concilia.contract.matches import Answer, MatchEventData
from concilia.contract.offers import OfferCreate, OfferUpdate
from concilia.platform.answers import AnswerRefused, Refusal
from concilia.platform.changes import Change, Conflict, Document
from services.offers import domain, domain_matches
from tests.support.factories import a_match_event, an_offer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def published(capacity: int = 2) -> Document:
    payload = OfferCreate.model_validate(an_offer(capacity=capacity))
    return domain.new_offer(payload, "coop", NOW).document


def apply(offer: Document, type_: str, match_id: str = "m1", **data: Any) -> Change:
    fields = a_match_event(match_id, offer_id=offer["_id"], proposed_at=NOW, **data)
    change = domain_matches.apply_match_event(
        offer, type_, MatchEventData.model_validate(fields), LATER
    )
    assert change is not None
    return change


def updates(change: Change) -> list[tuple[str, int]]:
    return [
        (m.event.data["status"], m.event.data["remaining_capacity"])
        for m in change.messages
        if m.event is not None and m.event.type == "offer.updated"
    ]


class TestSeats:
    def test_reaching_zero_announces_full_and_freeing_a_seat_announces_open(self) -> None:
        """offer.updated (full, 0) when the last seat is held, (open, 1) when one is freed."""
        offer = apply(published(2), "match.proposed", "m1").document
        full = apply(offer, "match.proposed", "m2")
        assert updates(full) == [("full", 0)]
        freed = apply(full.document, "match.declined", "m1", state="declined")
        assert updates(freed) == [("open", 1)]
        assert freed.document["status"] == "open"

    def test_holding_seats_without_reaching_zero_announces_nothing(self) -> None:
        """Seats change quietly while some remain."""
        assert apply(published(3), "match.proposed").messages == []

    def test_an_accepted_match_keeps_its_seats_and_an_end_releases_them_once(self) -> None:
        """accepted keeps the hold; cancelled releases it; a redelivery changes nothing."""
        offer = apply(published(2), "match.proposed", seats=2).document
        accepted = apply(offer, "match.accepted", state="accepted", seats=2).document
        assert domain.remaining_capacity(accepted) == 0
        ended = apply(accepted, "match.cancelled", state="cancelled", seats=2).document
        assert domain.remaining_capacity(ended) == 2
        again = MatchEventData.model_validate(a_match_event("m1", offer_id=ended["_id"]))
        assert domain_matches.apply_match_event(ended, "match.cancelled", again, LATER) is None

    def test_capacity_may_not_go_below_accepted_seats_but_below_held_ones(self) -> None:
        """A cut below accepted seats is a 409; below proposals it is allowed (the matcher
        cancels the newest proposals)."""
        offer = apply(published(4), "match.proposed", "m1", seats=2).document
        offer = apply(offer, "match.accepted", "m1", seats=2, state="accepted").document
        offer = apply(offer, "match.proposed", "m2", seats=2).document
        with pytest.raises(Conflict):
            domain.revise(offer, OfferUpdate(capacity=1), None, LATER)
        cut = domain.revise(offer, OfferUpdate(capacity=2), None, LATER)
        assert cut is not None
        assert (cut.document["status"], domain.remaining_capacity(cut.document)) == ("full", 0)


class TestProviderAnswer:
    def test_the_first_answer_is_kept_and_published(self) -> None:
        """offer.match_declined with offer_id, subject the offer, keyed by service_type."""
        offer = apply(published(), "match.proposed").document
        change = domain_matches.answer(offer, "m1", Answer.DECLINED, LATER)
        assert change is not None
        assert domain_matches.find_match(change.document, "m1")["provider_answer"] == "declined"  # type: ignore[index]
        [message] = change.messages
        assert message.event is not None
        assert (message.key, message.event.type, message.event.subject) == (
            "after_school",
            "offer.match_declined",
            offer["_id"],
        )
        assert message.event.data["offer_id"] == offer["_id"]

    def test_a_repeat_is_no_change_and_a_different_answer_is_refused(self) -> None:
        """Idempotent repeat; accepted then declined is a 409."""
        offer = apply(published(), "match.proposed").document
        change = domain_matches.answer(offer, "m1", Answer.ACCEPTED, LATER)
        assert change is not None
        assert domain_matches.answer(change.document, "m1", Answer.ACCEPTED, LATER) is None
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(change.document, "m1", Answer.DECLINED, LATER)
        assert caught.value.refusal is Refusal.ANSWERED

    @pytest.mark.parametrize("ending", ["match.declined", "match.expired", "match.cancelled"])
    def test_an_ended_or_unknown_match_is_refused(self, ending: str) -> None:
        """Nothing to answer once the match ended, or for a match of another offer."""
        offer = apply(apply(published(), "match.proposed").document, ending).document
        for match_id in ("m1", "m9"):
            with pytest.raises(AnswerRefused) as caught:
                domain_matches.answer(offer, match_id, Answer.ACCEPTED, LATER)
            assert caught.value.refusal is Refusal.ENDED

    def test_an_answer_after_the_window_is_refused(self) -> None:
        """now > expires_at: closed."""
        offer = apply(published(), "match.proposed").document
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(offer, "m1", Answer.ACCEPTED, NOW + timedelta(days=4))
        assert caught.value.refusal is Refusal.CLOSED


class TestMatchList:
    def test_the_requester_contact_shows_only_for_accepted_matches(self) -> None:
        """A proposed match hides the contact even when one is at hand."""
        contact = {"name": "Giulia Rossi", "email": "giulia@example.org", "language": "it"}
        offer = apply(published(), "match.proposed").document
        entry = domain_matches.find_match(offer, "m1")
        assert entry is not None
        assert domain_matches.match_public(entry, contact).requester is None
        accepted = domain_matches.find_match(apply(offer, "match.accepted").document, "m1")
        assert accepted is not None
        shown = domain_matches.match_public(accepted, contact).requester
        assert shown is not None
        assert shown.name == "Giulia Rossi"
