"""The dispatcher: sends due notification jobs, one claimed job at a time.

Exactly-once, and its one gap: a job is claimed (pending → sending, under a lease) before
the SMTP conversation and marked `sent` right after the server accepts the message. If the
process dies in the tiny window between the server's acceptance and that mark, the lease
expires and the job is sent again: this is the only place an e-mail can be duplicated, and
the copy carries the same deterministic Message-ID, so it is recognisable as the same mail.
The ledger counts each such resend on its job (`uncertain_resends`), so the window is
measured (the fault soak forces crashes into it and reports the copies).

Once the server accepted a mail it is never sent again by this dispatcher: recording it is
retried with backoff for as long as it takes (a database outage is waited out), and only a
ledger write that still holds the job's lease counts it as sent. If the lease was lost
meanwhile (another dispatcher took the job over after the lease ended), the mail is counted
`lease_lost`: the same duplicate window as above, measured instead of hidden.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from concilia.contract.matches import MatchEventData, MatchType, Party
from concilia.contract.notifications import Template
from concilia.platform.failpoints import failpoint
from concilia.platform.faults import Backoff
from concilia.platform.metrics import EMAILS
from concilia.platform.mongo import Document
from concilia.wording import language_of
from services.notifier.domain.jobs import JobStatus, RetryPolicy, redact, with_answer_deadline
from services.notifier.domain.mails import WITH_ANSWER_LINK, compose
from services.notifier.domain.message import RenderedMail, build_message, render
from services.notifier.domain.views import Contact, MailRequest
from services.notifier.links import AnswerLinks
from services.notifier.mailer import Mailer, PermanentMailError
from services.notifier.metrics import NOTIFICATIONS_UNFINISHED
from services.notifier.store import Ledger, StoredContact

log = logging.getLogger("concilia.notifier.dispatcher")

CANDIDATES = 100  # due jobs looked up per query
GAUGE_SECONDS = 10.0  # how often the unfinished-jobs gauge is counted


@dataclass(frozen=True)
class DispatchSettings:
    mail_from: str
    base_url: str  # PUBLIC_BASE_URL, the footer link of the requester's mails
    links: AnswerLinks
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
        measured_at = -GAUGE_SECONDS
        while True:
            try:
                await self.dispatch_due()
                if time.monotonic() - measured_at >= GAUGE_SECONDS:  # a count costs a scan
                    NOTIFICATIONS_UNFINISHED.set(await self._ledger.unfinished())
                    measured_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch pass failed, retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.poll_seconds)
            self._wake.clear()

    async def dispatch_due(self) -> int:
        """Handle every job due now; returns how many were claimed. Due jobs are looked up
        `CANDIDATES` at a time, then claimed one by one right before each is sent (a
        candidate another dispatcher took meanwhile is skipped)."""
        claimed = 0
        token = uuid.uuid4().hex
        while candidates := await self._ledger.due_ids(_now(), CANDIDATES):
            taken = 0
            for job_id in candidates:
                job = await self._ledger.claim(_now(), self._settings.lease, token, job_id)
                if job is not None:
                    taken += 1
                    await self._handle(job)
            claimed += taken
            if not taken:  # all taken by other dispatchers: they are on it
                break
        return claimed

    async def _handle(self, job: Document) -> None:
        recipient = await self._ledger.contact(job["recipient_ref"])
        if recipient is None:  # the contact may come later, on its own topic
            await self._wait_or_drop(job, job["recipient_ref"], until=None)
            return
        mentioned: StoredContact | None = None
        if mention_ref := job["mention_ref"]:
            mentioned = await self._ledger.contact(mention_ref)
            if mentioned is None and job.get("mention_required"):
                await self._wait_or_drop(job, mention_ref, until=None)
                return
            grace_ends = job["created_at"] + self._settings.mention_grace
            in_grace = mentioned is None and _now() < grace_ends
            if in_grace and not await self._ledger.is_erased(mention_ref):
                await self._ledger.wait_for(job, mention_ref, until=grace_ends)
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
                if await self._ledger.record_outcome(
                    job, JobStatus.FAILED, attempts, error, _now()
                ):
                    self._staged()
                    EMAILS.labels(template, "failed").inc()
                    log.warning("e-mail failed for good", extra={"job": job["_id"], "error": error})
            else:
                at = self._settings.retry.next_attempt_at(attempts, _now())
                await self._ledger.retry_later(job, attempts, error, at)
                EMAILS.labels(template, "retried").inc()
                log.info("e-mail will be retried", extra={"job": job["_id"], "error": error})
            return
        failpoint("mail.after_send")
        await self._settle_sent(job, attempts, template)

    async def _settle_sent(self, job: Document, attempts: int, template: str) -> None:
        """The server accepted the mail: record it (retried until the write goes through),
        and count it sent only if this dispatcher still owned the job."""
        backoff = Backoff(base_seconds=0.2, cap_seconds=10.0)
        failures = 0
        while True:
            try:
                owned = await self._ledger.record_outcome(
                    job, JobStatus.SENT, attempts, None, _now()
                )
                break
            except Exception as exc:
                failures += 1
                log.warning(
                    "recording a mail the server accepted failed; retrying, never resending",
                    extra={"job": job["_id"], "attempt": failures, "error": repr(exc)},
                )
                await asyncio.sleep(backoff.delay(failures))  # backoff, not synchronisation
        if not owned:
            EMAILS.labels(template, "lease_lost").inc()
            log.warning(
                "mail accepted after the job's lease was lost: another dispatcher owns it",
                extra={"job": job["_id"]},
            )
            return
        self._staged()
        EMAILS.labels(template, "sent").inc()

    async def _wait_or_drop(self, job: Document, ref: str, until: datetime | None) -> None:
        """Wait for the contact `ref`, unless it was erased: then the mail can never go out."""
        if await self._ledger.is_erased(ref):
            if await self._ledger.drop(job, _now()):
                EMAILS.labels(job["template"], "dropped").inc()
            return
        await self._ledger.wait_for(job, ref, until)

    def _render(
        self, job: Document, recipient: StoredContact, mentioned: StoredContact | None
    ) -> RenderedMail:
        match = MatchEventData.model_validate(job["match"])
        template = job["template"]
        answer_url = None
        if template in WITH_ANSWER_LINK:
            # Proposals stored before the lifecycle have no deadline: 72 h from the job.
            match = with_answer_deadline(MatchType.PROPOSED, match, job["created_at"])
            party = Party.PROVIDER if template == Template.PROVIDER_MATCH else Party.REQUESTER
            answer_url = self._settings.links.for_party(match, party)
        request = MailRequest(
            template=template,
            match=match,
            recipient_name=recipient.name,
            lang=language_of(recipient.language),
            other=Contact(mentioned.name, mentioned.email) if mentioned else None,
            answer_url=answer_url,
            footer_url=self._settings.base_url if template.startswith("requester_") else "",
        )
        return render(compose(request))


def _now() -> datetime:
    return datetime.now(UTC)
