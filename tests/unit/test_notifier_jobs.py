"""Notification jobs: one per party per match, the retry policy, and redacted errors."""

from datetime import UTC, datetime, timedelta

import pytest

from concilia.contract.notifications import Template
from services.notifier.domain.jobs import RetryPolicy, UnusableMatch, job_id, plan_jobs, redact
from tests.support.notifications import a_match

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


class TestPlanning:
    def test_a_match_asks_for_one_mail_to_each_party(self) -> None:
        """The requester gets requester_match (naming the provider), the provider provider_match."""
        requester, provider = plan_jobs(a_match())
        assert (requester.recipient_ref, requester.template) == ("r-1", Template.REQUESTER_MATCH)
        assert requester.mention_ref == "p-1"
        assert (provider.recipient_ref, provider.template) == ("p-1", Template.PROVIDER_MATCH)
        assert provider.mention_ref is None

    def test_the_same_match_always_plans_the_same_job_ids(self) -> None:
        """Redelivery maps onto the same ids, which is what makes e-mails exactly once."""
        assert [j.id for j in plan_jobs(a_match())] == [j.id for j in plan_jobs(a_match())]
        assert plan_jobs(a_match())[0].id == job_id("m-1", "r-1", Template.REQUESTER_MATCH)
        assert plan_jobs(a_match(match_id="m-2"))[0].id != plan_jobs(a_match())[0].id

    def test_a_proposed_match_without_provider_is_unusable(self) -> None:
        """No provider ref means nobody to write to: refused, not half-planned."""
        with pytest.raises(UnusableMatch):
            plan_jobs(a_match(provider_ref=None))


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
