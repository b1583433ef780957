"""Kafka entrypoints: contacts and matches in, contacts and notification jobs stored.
Thin: validate, call the domain, persist, wake the dispatcher."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from concilia.contract import topics
from concilia.contract.contacts import ContactEventData, ContactType
from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import MatchEventData, MatchType
from concilia.platform.consumer import Handler, PoisonMessage, Record
from concilia.platform.metrics import EMAILS
from concilia.wording import language_of
from services.notifier.domain.jobs import (
    UnusableMatch,
    plan_jobs,
    waiting_job_id,
    with_answer_deadline,
)
from services.notifier.store import Ledger, StoredContact


def make_handler(
    ledger: Ledger, wake: Callable[[], None], waiting_delay: timedelta = timedelta(0)
) -> Handler:
    """One handler for both topics the notifier reads (one consumer, group concilia-notifier)."""

    async def handle(event: CloudEvent | None, record: Record) -> str:
        if record.topic == topics.CONTACTS:
            outcome = await on_contact(ledger, event, record)
        elif record.topic == topics.MATCHES:
            outcome = await on_match(ledger, event, waiting_delay)
        else:
            raise PoisonMessage("unexpected_topic", record.topic)
        if outcome == "processed":
            wake()
        return outcome

    return handle


async def on_contact(ledger: Ledger, event: CloudEvent | None, record: Record) -> str:
    """contact.upserted stores the contact; a tombstone (null value) erases it and drops the
    pending e-mails that cannot go out without it."""
    if event is None:
        if not record.key:
            raise PoisonMessage("tombstone_without_key")
        dropped = await ledger.erase_contact(record.key.decode(), datetime.now(UTC))
        for template in dropped:
            EMAILS.labels(template, "dropped").inc()
        return "erased"
    if event.type != ContactType.UPSERTED:
        raise PoisonMessage("unknown_type", event.type)
    data = ContactEventData.model_validate(event.data)
    contact = StoredContact(data.ref, data.name, str(data.email), language_of(data.language))
    await ledger.upsert_contact(contact, datetime.now(UTC))
    return "processed"


async def on_match(
    ledger: Ledger, event: CloudEvent | None, waiting_delay: timedelta = timedelta(0)
) -> str:
    """Every match event plans its e-mails (README, lifecycle), once each: redeliveries map onto the
    same job ids.

    A demand's "still waiting" e-mail is held back `waiting_delay`: the offers and demands
    topics are not ordered with each other, so a demand often waits a moment only because
    its offer is not known yet. A proposal within that delay makes the e-mail moot."""
    if event is None:
        raise PoisonMessage("unexpected_tombstone", "welfare.matches.v1 is not compacted")
    match = MatchEventData.model_validate(event.data)
    match = with_answer_deadline(event.type, match, event.time)
    try:
        planned = plan_jobs(event.type, match)
    except UnusableMatch as exc:
        raise PoisonMessage("invalid_data", str(exc)) from exc
    if not planned:
        return "ignored"
    now = datetime.now(UTC)
    if event.type == MatchType.PROPOSED:
        await ledger.supersede(waiting_job_id(match.demand_id), now)
    due = now + waiting_delay if event.type == MatchType.NOT_FOUND else now
    created = await ledger.add_jobs(planned, match.model_dump(mode="json"), now, due)
    return "processed" if created else "duplicate"
