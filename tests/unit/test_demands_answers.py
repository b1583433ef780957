"""The demand's side of the match lifecycle without I/O: what match.* events change, and
the requester's answer (README: match lifecycle)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.demands import DemandCreate
from concilia.contract.envelope import stable_id
from concilia.contract.matches import Answer, MatchEventData
from concilia.platform.answers import AnswerRefused, Refusal
from concilia.platform.changes import Document
from services.demands import domain, domain_matches
from tests.support.factories import a_demand, a_match_event

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def submitted() -> Document:
    return domain.new_demand(DemandCreate.model_validate(a_demand()), "acme", NOW).document


def event(demand: Document, match_id: str = "m1", **data: Any) -> MatchEventData:
    fields = a_match_event(match_id, demand_id=demand["_id"], proposed_at=NOW, **data)
    return MatchEventData.model_validate(fields)


def applied(demand: Document, type_: str, match_id: str = "m1", **data: Any) -> Document:
    change = domain_matches.apply_match_event(demand, type_, event(demand, match_id, **data), LATER)
    assert change is not None
    return change.document


def proposed() -> Document:
    return applied(submitted(), "match.proposed")


class TestLifecycle:
    def test_a_proposal_shows_state_window_and_keeps_the_offer_snapshot(self) -> None:
        """matched, match.state proposed with expires_at; the offer is kept for the link."""
        demand = proposed()
        assert demand["status"] == "matched"
        assert (demand["match"]["state"], demand["match"]["expires_at"]) == (
            "proposed",
            NOW + timedelta(hours=72),
        )
        assert demand["match_offer"]["title"] == "Doposcuola in Isola"
        assert domain.public(demand).match is not None

    def test_both_accepted_makes_the_match_accepted_once(self) -> None:
        """match.accepted sets the state; a redelivery changes nothing."""
        demand = applied(proposed(), "match.accepted", state="accepted")
        assert (demand["status"], demand["match"]["state"]) == ("matched", "accepted")
        again = event(demand, state="accepted")
        assert domain_matches.apply_match_event(demand, "match.accepted", again, LATER) is None

    @pytest.mark.parametrize("type_", ["match.declined", "match.cancelled", "match.expired"])
    def test_an_end_with_rematch_opens_the_demand_again(self, type_: str) -> None:
        """next_step rematch: open, no match, no event (the matcher looks again)."""
        change = domain_matches.apply_match_event(
            proposed(), type_, event(proposed(), next_step="rematch"), LATER
        )
        assert change is not None
        assert (change.document["status"], change.document["match"], change.messages) == (
            "open",
            None,
            [],
        )

    def test_an_unanswered_expiry_closes_the_demand_as_expired_keeping_the_contact(
        self,
    ) -> None:
        """next_step closed: expired and demand.expired, but no contact tombstone."""
        demand = proposed()
        change = domain_matches.apply_match_event(
            demand, "match.expired", event(demand, state="expired", next_step="closed"), LATER
        )
        assert change is not None
        assert change.document["status"] == "expired"
        assert [(m.topic, m.event_type) for m in change.messages] == [
            (topics.DEMANDS, "demand.expired")
        ]

    def test_a_cancel_after_withdrawal_leaves_the_demand_withdrawn(self) -> None:
        """next_step none: the match goes, the status stays withdrawn."""
        withdrawal = domain.withdraw(proposed(), LATER)
        assert withdrawal is not None
        change = domain_matches.apply_match_event(
            withdrawal.document,
            "match.cancelled",
            event(withdrawal.document, cause="demand_withdrawn", next_step="none"),
            LATER,
        )
        assert change is not None
        assert (change.document["status"], change.document["match"]) == ("withdrawn", None)

    def test_the_end_of_another_match_changes_nothing(self) -> None:
        """Only the current match's end counts; a stale one is ignored."""
        demand = proposed()
        stale = event(demand, "m0", next_step="rematch")
        assert domain_matches.apply_match_event(demand, "match.declined", stale, LATER) is None

    def test_a_redelivered_proposal_never_comes_back_after_its_end(self) -> None:
        """Proposals apply once per match_id, even after the match ended."""
        demand = applied(proposed(), "match.declined", next_step="rematch")
        assert (
            domain_matches.apply_match_event(demand, "match.proposed", event(demand), LATER) is None
        )


class TestRequesterAnswer:
    def test_the_first_answer_is_kept_and_published_once(self) -> None:
        """demand.match_accepted keyed by service_type, subject the demand, stable id."""
        change = domain_matches.answer(proposed(), Answer.ACCEPTED, LATER)
        assert change is not None
        assert change.document["match"]["requester_answer"] == "accepted"
        [message] = change.messages
        assert message.event is not None
        assert (message.topic, message.key, message.event.type) == (
            topics.DEMANDS,
            "after_school",
            "demand.match_accepted",
        )
        assert message.event.subject == change.document["_id"]
        assert message.event.id == stable_id("demand.match_accepted", "m1")
        assert message.event.data["demand_id"] == change.document["_id"]
        assert message.event.data["match_id"] == "m1"

    def test_repeating_ones_answer_changes_nothing(self) -> None:
        """The same answer again: no change, no second event."""
        change = domain_matches.answer(proposed(), Answer.DECLINED, LATER)
        assert change is not None
        assert domain_matches.answer(change.document, Answer.DECLINED, LATER) is None

    def test_a_different_answer_after_answering_is_refused(self) -> None:
        """Accepted, then declined: 409."""
        change = domain_matches.answer(proposed(), Answer.ACCEPTED, LATER)
        assert change is not None
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(change.document, Answer.DECLINED, LATER)
        assert caught.value.refusal is Refusal.ANSWERED

    def test_an_answer_after_the_window_is_refused(self) -> None:
        """now > expires_at: the window is closed."""
        late = NOW + timedelta(hours=73)
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(proposed(), Answer.ACCEPTED, late)
        assert caught.value.refusal is Refusal.CLOSED

    def test_an_answer_without_a_live_match_is_refused(self) -> None:
        """An open demand has nothing to answer; a link's other match_id neither."""
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(submitted(), Answer.ACCEPTED, LATER)
        assert caught.value.refusal is Refusal.ENDED
        with pytest.raises(AnswerRefused):
            domain_matches.answer(proposed(), Answer.ACCEPTED, LATER, match_id="m0")

    def test_a_link_answers_once_even_with_the_same_answer(self) -> None:
        """Single use: once answered, the link is refused as already answered."""
        change = domain_matches.answer(proposed(), Answer.ACCEPTED, LATER, single_use=True)
        assert change is not None
        with pytest.raises(AnswerRefused) as caught:
            domain_matches.answer(change.document, Answer.ACCEPTED, LATER, single_use=True)
        assert caught.value.refusal is Refusal.ANSWERED
