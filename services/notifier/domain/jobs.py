"""Notification jobs: which e-mails a match event asks for, and what happens after an attempt."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from concilia.contract.envelope import stable_id
from concilia.contract.matches import CancelCause, MatchEventData, MatchType
from concilia.contract.notifications import Template

_ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")


class JobStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one dispatcher, under a lease
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"  # a contact it needs was erased: nobody left to write to


# How long a party may answer when match.proposed does not say (the README's default).
DEFAULT_ANSWER_WINDOW = timedelta(hours=72)

_ENDING_TEMPLATES = {
    MatchType.DECLINED: (Template.REQUESTER_DECLINED, Template.PROVIDER_DECLINED),
    MatchType.EXPIRED: (Template.REQUESTER_EXPIRED, Template.PROVIDER_EXPIRED),
    MatchType.CANCELLED: (Template.REQUESTER_CANCELLED, Template.PROVIDER_CANCELLED),
}
# A party who ended the match itself is not told about it (README: match lifecycle).
_REQUESTER_OWN_CAUSES = {CancelCause.DEMAND_WITHDRAWN}
_PROVIDER_OWN_CAUSES = {CancelCause.OFFER_WITHDRAWN, CancelCause.OFFER_EXPIRED}


class UnusableMatch(ValueError):
    """A match event that lacks what its e-mails need (provider, offer or demand)."""


@dataclass(frozen=True)
class PlannedJob:
    """One e-mail to send to `recipient_ref`, naming the contact `mention_ref` if any.

    An optional mention (the provider's name in a proposal) waits a grace period for the
    contact, then the mail goes out without it; a required one (the other side's contact in
    an accepted mail) waits until the contact arrives or is erased."""

    id: str
    match_id: str
    recipient_ref: str
    template: str
    mention_ref: str | None = None
    mention_required: bool = False


def job_id(match_id: str, recipient_ref: str, template: str) -> str:
    """The one id of the e-mail a match sends to one party: redeliveries map onto it."""
    return stable_id(match_id, recipient_ref, template)


def waiting_job_id(demand_id: str) -> str:
    """The one id of a demand's waiting e-mail: every match.not_found of it maps onto it."""
    return stable_id("demand", demand_id, Template.REQUESTER_WAITING)


def plan_jobs(event_type: str, match: MatchEventData) -> list[PlannedJob]:
    """The e-mails a match event asks for (README, lifecycle); none for a type without e-mails."""
    if event_type == MatchType.NOT_FOUND:
        return [_waiting(match)]
    if event_type == MatchType.PROPOSED:
        provider_ref = _usable(event_type, match)
        return [
            _job(match, match.requester_ref, Template.REQUESTER_MATCH, provider_ref, False),
            _job(match, provider_ref, Template.PROVIDER_MATCH),
        ]
    if event_type == MatchType.ACCEPTED:
        provider_ref = _usable(event_type, match)
        return [
            _job(match, match.requester_ref, Template.REQUESTER_ACCEPTED, provider_ref, True),
            _job(match, provider_ref, Template.PROVIDER_ACCEPTED, match.requester_ref, True),
        ]
    if event_type in _ENDING_TEMPLATES:
        provider_ref = _usable(event_type, match)
        to_requester, to_provider = _ENDING_TEMPLATES[event_type]
        planned = []
        if match.cause not in _REQUESTER_OWN_CAUSES:
            planned.append(_job(match, match.requester_ref, to_requester))
        if match.cause not in _PROVIDER_OWN_CAUSES:
            planned.append(_job(match, provider_ref, to_provider))
        return planned
    return []


def with_answer_deadline(
    event_type: str, match: MatchEventData, event_time: datetime
) -> MatchEventData:
    """A proposal with its `expires_at` set: as published, else its proposed time (or the
    event's) + 72 h. Other events are returned as they are."""
    if event_type != MatchType.PROPOSED or match.expires_at is not None:
        return match
    proposed_at = match.proposed_at or event_time
    return match.model_copy(update={"expires_at": proposed_at + DEFAULT_ANSWER_WINDOW})


def _usable(event_type: str, match: MatchEventData) -> str:
    if match.provider_ref is None or match.offer is None or match.demand is None:
        raise UnusableMatch(f"{event_type} needs provider_ref, offer and demand")
    return match.provider_ref


def _job(
    match: MatchEventData,
    recipient_ref: str,
    template: str,
    mention_ref: str | None = None,
    mention_required: bool = False,
) -> PlannedJob:
    return PlannedJob(
        id=job_id(match.match_id, recipient_ref, template),
        match_id=match.match_id,
        recipient_ref=recipient_ref,
        template=template,
        mention_ref=mention_ref,
        mention_required=mention_required,
    )


def _waiting(match: MatchEventData) -> PlannedJob:
    return PlannedJob(
        id=waiting_job_id(match.demand_id),
        match_id=match.match_id,
        recipient_ref=match.requester_ref,
        template=Template.REQUESTER_WAITING,
    )


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
