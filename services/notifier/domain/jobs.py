"""Notification jobs: which e-mails a match asks for, and what happens after an attempt."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from concilia.contract.envelope import stable_id
from concilia.contract.matches import MatchEventData
from concilia.contract.notifications import Template

_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class JobStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one dispatcher, under a lease
    SENT = "sent"
    FAILED = "failed"


class UnusableMatch(ValueError):
    """A match.proposed that lacks what the e-mails need (provider, offer or demand)."""


@dataclass(frozen=True)
class PlannedJob:
    """One e-mail to send: to `recipient_ref`, naming `mention_ref` (the provider) if any."""

    id: str
    match_id: str
    recipient_ref: str
    template: str
    mention_ref: str | None


def job_id(match_id: str, recipient_ref: str, template: str) -> str:
    """The one id of the e-mail a match sends to one party: redeliveries map onto it."""
    return stable_id(match_id, recipient_ref, template)


def plan_jobs(match: MatchEventData) -> list[PlannedJob]:
    """The two e-mails of a proposed match: one to the requester, one to the provider."""
    if match.provider_ref is None or match.offer is None or match.demand is None:
        raise UnusableMatch("match.proposed needs provider_ref, offer and demand")
    requester = PlannedJob(
        id=job_id(match.match_id, match.requester_ref, Template.REQUESTER_MATCH),
        match_id=match.match_id,
        recipient_ref=match.requester_ref,
        template=Template.REQUESTER_MATCH,
        mention_ref=match.provider_ref,
    )
    provider = PlannedJob(
        id=job_id(match.match_id, match.provider_ref, Template.PROVIDER_MATCH),
        match_id=match.match_id,
        recipient_ref=match.provider_ref,
        template=Template.PROVIDER_MATCH,
        mention_ref=None,
    )
    return [requester, provider]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt n failed → wait base * 2**(n-1), at most `cap`."""

    max_attempts: int = 5
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime:
        delay = min(self.base_seconds * 2 ** max(attempts - 1, 0), self.cap_seconds)
        return now + timedelta(seconds=delay)


def redact(error: str, limit: int = 300) -> str:
    """An error text fit for a public topic and the ledger: e-mail addresses removed."""
    return _ADDRESS.sub("<recipient>", single_spaced(error))[:limit]


def single_spaced(text: str) -> str:
    return " ".join(text.split())
