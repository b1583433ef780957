"""The dispatcher: sends due notification jobs, one claimed job at a time.

Exactly-once, and its one gap: a job is claimed (pending → sending, under a lease) before
the SMTP conversation and marked `sent` right after the server accepts the message. If the
process dies in the tiny window between the server's acceptance and that mark, the lease
expires and the job is sent again: this is the only place an e-mail can be duplicated, and
the copy carries the same deterministic Message-ID, so it is recognisable as the same mail.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from concilia.contract.matches import MatchEventData
from concilia.contract.notifications import Template
from concilia.platform.metrics import EMAILS
from concilia.platform.mongo import Document
from services.notifier.domain.jobs import JobStatus, RetryPolicy, redact
from services.notifier.domain.message import RenderedMail, build_message, render
from services.notifier.domain.views import provider_view, requester_view
from services.notifier.domain.wording import language_of
from services.notifier.mailer import Mailer, PermanentMailError
from services.notifier.metrics import NOTIFICATIONS_UNFINISHED
from services.notifier.store import Ledger, StoredContact

log = logging.getLogger("concilia.notifier.dispatcher")


@dataclass(frozen=True)
class DispatchSettings:
    mail_from: str
    base_url: str
    retry: RetryPolicy
    lease: timedelta
    mention_grace: timedelta
    poll_seconds: float


class Dispatcher:
    """Background task of the notifier (started and stopped by the app's lifespan)."""

    def __init__(
        self,
        ledger: Ledger,
        mailer: Mailer,
        staged: Callable[[], None],
        settings: DispatchSettings,
    ) -> None:
        """`staged` is called after a commit that staged a notification event (the relay's
        notify)."""
        self._ledger = ledger
        self._mailer = mailer
        self._staged = staged
        self._settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for due jobs now (a match or a contact just arrived)."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier-dispatcher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.dispatch_due()
                NOTIFICATIONS_UNFINISHED.set(await self._ledger.unfinished())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch pass failed, retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_seconds)
            self._wake.clear()

    async def dispatch_due(self) -> int:
        """Handle every job due now; returns how many were claimed."""
        claimed = 0
        token = uuid.uuid4().hex
        while job := await self._ledger.claim(_now(), self._settings.lease, token):
            claimed += 1
            await self._handle(job)
        return claimed

    async def _handle(self, job: Document) -> None:
        recipient = await self._ledger.contact(job["recipient_ref"])
        if recipient is None:  # the contact may come later, on its own topic
            await self._ledger.wait_for(job, job["recipient_ref"], until=None)
            return
        mentioned: StoredContact | None = None
        if job["mention_ref"]:
            mentioned = await self._ledger.contact(job["mention_ref"])
            grace_ends = job["created_at"] + self._settings.mention_grace
            if mentioned is None and _now() < grace_ends:
                await self._ledger.wait_for(job, job["mention_ref"], until=grace_ends)
                return
        attempts = job["attempts"] + 1
        template = job["template"]
        try:
            mail = self._render(job, recipient, mentioned)
            message = build_message(
                job_id=job["_id"],
                mail_from=self._settings.mail_from,
                to_name=recipient.name,
                to_email=recipient.email,
                mail=mail,
                now=_now(),
            )
            await self._mailer.send(message)
        except Exception as exc:
            error = redact(f"{exc.__class__.__name__}: {exc}")
            if isinstance(exc, PermanentMailError) or self._settings.retry.gives_up_after(attempts):
                await self._ledger.record_outcome(job, JobStatus.FAILED, attempts, error, _now())
                self._staged()
                EMAILS.labels(template, "failed").inc()
                log.warning("e-mail failed for good", extra={"job": job["_id"], "error": error})
            else:
                at = self._settings.retry.next_attempt_at(attempts, _now())
                await self._ledger.retry_later(job, attempts, error, at)
                EMAILS.labels(template, "retried").inc()
                log.info("e-mail will be retried", extra={"job": job["_id"], "error": error})
            return
        await self._ledger.record_outcome(job, JobStatus.SENT, attempts, None, _now())
        self._staged()
        EMAILS.labels(template, "sent").inc()

    def _render(
        self, job: Document, recipient: StoredContact, mentioned: StoredContact | None
    ) -> RenderedMail:
        match = MatchEventData.model_validate(job["match"])
        lang = language_of(recipient.language)
        if job["template"] == Template.REQUESTER_MATCH:
            view = requester_view(
                match,
                recipient_name=recipient.name,
                provider_name=mentioned.name if mentioned else None,
                lang=lang,
                base_url=self._settings.base_url,
            )
        else:
            view = provider_view(match, recipient_name=recipient.name, lang=lang)
        return render(job["template"], view)


def _now() -> datetime:
    return datetime.now(UTC)
