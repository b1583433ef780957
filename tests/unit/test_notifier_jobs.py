"""Notification jobs: which e-mails each match event asks for, the retry policy, and
redacted errors."""

from datetime import UTC, datetime, timedelta

import pytest

from concilia.contract.matches import MatchType
from concilia.contract.notifications import Template
from services.notifier.domain.jobs import (
    RetryPolicy,
    UnusableMatch,
    job_id,
    plan_jobs,
    redact,
    waiting_job_id,
    with_answer_deadline,
)
from tests.support.notifications import PROPOSED_AT, a_match, not_found

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


def planned(type_: str, **changes: object) -> list[tuple[str, str]]:
    return [(j.recipient_ref, j.template) for j in plan_jobs(type_, a_match(**changes))]


class TestProposal:
    def test_a_proposal_asks_for_one_mail_to_each_party(self) -> None:
        """The requester gets requester_match (naming the provider if it can), the provider
        provider_match (naming nobody)."""
        requester, provider = plan_jobs(MatchType.PROPOSED, a_match())
        assert (requester.recipient_ref, requester.template) == ("r-1", Template.REQUESTER_MATCH)
        assert (requester.mention_ref, requester.mention_required) == ("p-1", False)
        assert (provider.recipient_ref, provider.template) == ("p-1", Template.PROVIDER_MATCH)
        assert provider.mention_ref is None

    def test_the_same_match_always_plans_the_same_job_ids(self) -> None:
        """Redelivery maps onto the same ids, which is what makes e-mails exactly once."""
        again = plan_jobs(MatchType.PROPOSED, a_match())
        assert [j.id for j in plan_jobs(MatchType.PROPOSED, a_match())] == [j.id for j in again]
        assert again[0].id == job_id("m-1", "r-1", Template.REQUESTER_MATCH)
        other = plan_jobs(MatchType.PROPOSED, a_match(match_id="m-2"))
        assert other[0].id != again[0].id

    def test_a_proposal_without_provider_is_unusable(self) -> None:
        """No provider ref means nobody to write to: refused, not half-planned."""
        with pytest.raises(UnusableMatch):
            plan_jobs(MatchType.PROPOSED, a_match(provider_ref=None))

    def test_a_proposal_without_a_deadline_gets_72_hours_from_its_proposal(self) -> None:
        """expires_at missing: proposed_at + 72 h, or the event's time + 72 h without it."""
        bare = a_match(expires_at=None)
        assert with_answer_deadline(MatchType.PROPOSED, bare, NOW).expires_at == (
            PROPOSED_AT + timedelta(hours=72)
        )
        barer = a_match(expires_at=None, proposed_at=None)
        assert with_answer_deadline(MatchType.PROPOSED, barer, NOW).expires_at == (
            NOW + timedelta(hours=72)
        )
        given = a_match()
        assert with_answer_deadline(MatchType.PROPOSED, given, NOW) is given


class TestAccepted:
    def test_both_parties_are_mailed_each_needing_the_other_side_s_contact(self) -> None:
        """requester_accepted names the provider, provider_accepted the requester: required."""
        requester, provider = plan_jobs(MatchType.ACCEPTED, a_match(state="accepted"))
        assert (requester.recipient_ref, requester.template) == (
            "r-1",
            Template.REQUESTER_ACCEPTED,
        )
        assert (requester.mention_ref, requester.mention_required) == ("p-1", True)
        assert (provider.recipient_ref, provider.template) == ("p-1", Template.PROVIDER_ACCEPTED)
        assert (provider.mention_ref, provider.mention_required) == ("r-1", True)

    def test_accepted_mails_are_other_jobs_than_the_proposal_s(self) -> None:
        """The same match has a proposal job and an accepted job per party."""
        proposal = {j.id for j in plan_jobs(MatchType.PROPOSED, a_match())}
        accepted = {j.id for j in plan_jobs(MatchType.ACCEPTED, a_match(state="accepted"))}
        assert not proposal & accepted


class TestEndings:
    @pytest.mark.parametrize(
        ("type_", "kind"),
        [(MatchType.DECLINED, "declined"), (MatchType.EXPIRED, "expired")],
    )
    def test_a_declined_or_expired_match_tells_both_parties(self, type_: str, kind: str) -> None:
        """Both parties learn the end: requester_<kind> and provider_<kind>, naming nobody."""
        jobs = plan_jobs(type_, a_match(state=kind, next_step="rematch"))
        assert [(j.recipient_ref, j.template) for j in jobs] == [
            ("r-1", f"requester_{kind}"),
            ("p-1", f"provider_{kind}"),
        ]
        assert all(j.mention_ref is None for j in jobs)

    def test_a_capacity_cut_tells_both_parties(self) -> None:
        """Cancelled because the offer shrank: both are told."""
        assert planned(
            MatchType.CANCELLED, state="cancelled", cause="capacity_reduced", next_step="rematch"
        ) == [("r-1", Template.REQUESTER_CANCELLED), ("p-1", Template.PROVIDER_CANCELLED)]

    def test_a_requester_who_withdrew_the_demand_is_not_told(self) -> None:
        """cause demand_withdrawn: only the provider learns its seats are free."""
        assert planned(
            MatchType.CANCELLED, state="cancelled", cause="demand_withdrawn", next_step="none"
        ) == [("p-1", Template.PROVIDER_CANCELLED)]

    def test_an_expired_demand_still_tells_its_requester(self) -> None:
        """cause demand_expired is not the requester's own doing: both are told."""
        assert len(planned(MatchType.CANCELLED, cause="demand_expired", next_step="none")) == 2

    @pytest.mark.parametrize("cause", ["offer_withdrawn", "offer_expired"])
    def test_a_provider_whose_offer_went_away_is_not_told(self, cause: str) -> None:
        """The provider withdrew (or let expire) the offer itself: only the requester is told."""
        assert planned(MatchType.CANCELLED, cause=cause, next_step="rematch") == [
            ("r-1", Template.REQUESTER_CANCELLED)
        ]


class TestNotFound:
    def test_a_waiting_demand_gets_one_mail_whatever_its_match_ids(self) -> None:
        """Every match.not_found of one demand plans the same job: one e-mail per demand."""
        (first,) = plan_jobs(MatchType.NOT_FOUND, not_found(match_id="nf-1"))
        (second,) = plan_jobs(MatchType.NOT_FOUND, not_found(match_id="nf-2"))
        assert (first.recipient_ref, first.template) == ("r-1", Template.REQUESTER_WAITING)
        assert first.id == second.id == waiting_job_id("d-1")
        (other,) = plan_jobs(MatchType.NOT_FOUND, not_found(demand_id="d-2"))
        assert other.id != first.id

    def test_a_type_without_mails_plans_nothing(self) -> None:
        """An event type the notifier does not mail about is ignored, not refused."""
        assert plan_jobs("match.something_new", a_match()) == []


class TestRetryPolicy:
    def test_backoff_doubles_and_is_capped(self) -> None:
        """Waits of base, 2·base, 4·base… never longer than the cap."""
        policy = RetryPolicy(max_attempts=5, base_seconds=10, cap_seconds=30)
        waits = [(policy.next_attempt_at(n, NOW) - NOW) for n in (1, 2, 3, 4)]
        assert waits == [timedelta(seconds=s) for s in (10, 20, 30, 30)]

    def test_it_gives_up_after_max_attempts(self) -> None:
        """The fifth failure of five allowed attempts is final."""
        policy = RetryPolicy(max_attempts=5)
        assert not policy.gives_up_after(4)
        assert policy.gives_up_after(5)


class TestRedaction:
    def test_addresses_never_appear_in_an_error(self) -> None:
        """SMTP errors quoting the recipient are published without the address."""
        error = redact("550 5.1.1 <giulia.rossi@example.org>: Recipient address rejected")
        assert "giulia" not in error
        assert "example.org" not in error
        assert "Recipient address rejected" in error

    def test_errors_are_one_short_line(self) -> None:
        """Multi-line server replies become one line of bounded length."""
        error = redact("421 busy\r\n" * 100)
        assert "\n" not in error
        assert len(error) <= 300
