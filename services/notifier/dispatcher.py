"""The dispatcher: sends due notification jobs, a claimed batch at a time.

Due jobs are claimed in batches (pending → sending, under a lease), their contacts read in
one query, and a few SMTP conversations run at once. The outcome of each send (sent, or
failed for good) is written by a group commit: the outcomes that finished while the
previous ledger transaction ran share the next one, with their notification events as one
outbox row. The database's cost per e-mail is then a share of a few queries, not a handful
of its own (one job at a time sent ~110 mails a minute under the fault soak).

Exactly-once, and its one gap: a job is claimed before the SMTP conversation and marked
`sent` right after the server accepts the message (at the next group commit, milliseconds
later). If the process dies between the server's acceptance and that mark, the lease
expires and the job is sent again: this is the only place an e-mail can be duplicated, and
the copy carries the same deterministic Message-ID, so it is recognisable as the same mail.
The ledger counts each such resend on its job (`uncertain_resends`), so the window is
measured (the fault soak forces crashes into it and reports the copies).

Once the server accepted a mail it is never sent again by this dispatcher: recording it is
retried with backoff for as long as it takes (a database outage is waited out), and only a
ledger write that still holds the job's lease counts it as sent. If the lease was lost
meanwhile (another dispatcher took the job over after the lease ended), the mail is counted
`lease_lost`: the same duplicate window as above, measured instead of hidden.

A send only ever runs while its lease holds: a job that waited for a free sender until less
than half its lease was left goes back to the queue unsent, and a conversation is cut off
after a quarter of the lease (a stalled server, then waited out like an unreachable one).
So a slow server cannot make a second dispatcher, which takes the job after the lease, send
it too.

An SMTP server that cannot be reached (refused, timed out, 421) is an outage: the job waits
with capped, jittered backoff without using an attempt, and the dispatcher stops sending
until the wait is over. A 4xx answer about the message uses an attempt; a 5xx fails it.
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
from concilia.platform.group_commit import GroupCommit
from concilia.platform.metrics import EMAILS
from concilia.platform.mongo import Document
from concilia.wording import language_of
from services.notifier.domain.jobs import JobStatus, RetryPolicy, redact, with_answer_deadline
from services.notifier.domain.mails import WITH_ANSWER_LINK, compose
from services.notifier.domain.message import RenderedMail, build_message, render
from services.notifier.domain.views import Contact, MailRequest
from services.notifier.links import AnswerLinks
from services.notifier.mailer import Mailer, PermanentMailError, is_server_unreachable
from services.notifier.metrics import NOTIFICATIONS_UNFINISHED
from services.notifier.store import Ledger, Outcome, StoredContact

log = logging.getLogger("concilia.notifier.dispatcher")

CANDIDATES = 200  # due jobs looked up per query
CLAIM = 50  # due jobs claimed at once
SENDERS = 4  # SMTP conversations at once
GAUGE_SECONDS = 10.0  # how often the unfinished-jobs gauge is counted
STOP_GRACE_SECONDS = 30.0  # for the jobs in hand to finish when the service stops


@dataclass(frozen=True)
class DispatchSettings:
    mail_from: str
    base_url: str  # PUBLIC_BASE_URL, the footer link of the requester's mails
    links: AnswerLinks
    retry: RetryPolicy
    lease: timedelta
    mention_grace: timedelta
    poll_seconds: float
    outage_backoff: Backoff  # while the SMTP server is unreachable


class SmtpOutage:
    """The SMTP server was found unreachable: sends wait until `until`, a capped exponential
    backoff with jitter over the outages in a row; the first accepted mail ends it."""

    def __init__(self, backoff: Backoff) -> None:
        self._backoff = backoff
        self._in_a_row = 0
        self.until = _now()

    def now(self) -> bool:
        return _now() < self.until

    def began(self) -> datetime:
        """Note a failed connection; until when to wait (sends failing together count once)."""
        if not self.now():
            self._in_a_row += 1
            delay = self._backoff.base_seconds + self._backoff.delay(self._in_a_row)
            self.until = _now() + timedelta(seconds=delay)
        return self.until

    def over(self) -> None:
        self._in_a_row = 0
        self.until = _now()


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
        # Outcomes of concurrent sends share one ledger transaction (see the module doc).
        self._outcomes: GroupCommit[Outcome, bool] = GroupCommit(
            ledger.record_outcomes, self._record_alone
        )
        self._outage = SmtpOutage(settings.outage_backoff)
        self._stopping = False

    def wake(self) -> None:
        """Look for due jobs now (a match or a contact just arrived)."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier-dispatcher")

    async def stop(self) -> None:
        """Claim nothing more and let the jobs in hand finish (their outcomes recorded: a
        job left `sending` would be mailed again when its lease ends); cancel after
        STOP_GRACE_SECONDS."""
        if self._task:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _run(self) -> None:
        measured_at = -GAUGE_SECONDS
        while not self._stopping:
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
        `CANDIDATES` at a time (the database's cost of that grows with how many are due, so
        it is paid once per many e-mails), claimed `CLAIM` at a time, their contacts read in
        one query, and up to `SENDERS` of them sent at once. Stops early while the SMTP
        server is unreachable."""
        claimed = 0
        while (
            not self._outage.now()
            and not self._stopping
            and (candidates := await self._ledger.due_ids(_now(), CANDIDATES))
        ):
            taken = 0
            for start in range(0, len(candidates), CLAIM):
                if self._outage.now() or self._stopping:
                    break
                chunk = candidates[start : start + CLAIM]
                jobs = await self._ledger.claim(_now(), self._settings.lease, _token(), chunk)
                taken += len(jobs)
                await self._handle_all(jobs)
            claimed += taken
            if not taken:  # all taken by other dispatchers: they are on it
                break
        return claimed

    async def _handle_all(self, jobs: list[Document]) -> None:
        refs = {job["recipient_ref"] for job in jobs}
        refs |= {job["mention_ref"] for job in jobs if job["mention_ref"]}
        contacts = await self._ledger.contacts(refs)
        erased = await self._ledger.erased(refs - contacts.keys())
        senders = asyncio.Semaphore(SENDERS)

        async def one(job: Document) -> None:
            async with senders:
                try:
                    await self._handle(job, contacts, erased)
                except Exception:  # the job stays claimed: retried when its lease ends
                    log.exception("handling a job failed", extra={"job": job["_id"]})

        await asyncio.gather(*(one(job) for job in jobs))

    async def _handle(
        self, job: Document, contacts: dict[str, StoredContact], erased: set[str]
    ) -> None:
        recipient = contacts.get(job["recipient_ref"])
        if recipient is None:  # the contact may come later, on its own topic
            await self._wait_or_drop(job, job["recipient_ref"], erased)
            return
        mentioned: StoredContact | None = None
        if mention_ref := job["mention_ref"]:
            mentioned = contacts.get(mention_ref)
            if mentioned is None and job.get("mention_required"):
                await self._wait_or_drop(job, mention_ref, erased)
                return
            grace_ends = job["created_at"] + self._settings.mention_grace
            in_grace = mentioned is None and _now() < grace_ends
            if in_grace and mention_ref not in erased:
                await self._ledger.wait_for(job, mention_ref, until=grace_ends)
                return
        if self._outage.now():  # another send just found the server unreachable
            await self._ledger.wait_out(job, self._outage.until, "smtp unreachable")
            return
        lease = self._settings.lease
        if job["lease_until"] - _now() < lease / 2:  # waited too long for a sender
            await self._ledger.wait_out(job, _now(), "lease running out before the send")
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
            # A send ends while the lease holds, with time left to record it: after the
            # lease another dispatcher may take the mail and send it too.
            async with asyncio.timeout((lease / 4).total_seconds()):
                await self._mailer.send(message)
        except Exception as exc:
            await self._not_sent(job, attempts, template, exc)
            return
        self._outage.over()
        failpoint("mail.after_send")
        await self._settle(Outcome(job, JobStatus.SENT, attempts, None, _now()))

    async def _not_sent(self, job: Document, attempts: int, template: str, exc: Exception) -> None:
        """An outage of the server is waited out without using an attempt; a refusal (5xx)
        fails the job at once; anything else uses an attempt of the retry policy."""
        error = redact(f"{exc.__class__.__name__}: {exc}")
        if is_server_unreachable(exc):
            until = self._outage.began()
            await self._ledger.wait_out(job, until, error)
            EMAILS.labels(template, "waited").inc()
            log.warning("SMTP server unreachable, waiting it out", extra={"error": error})
        elif isinstance(exc, PermanentMailError) or self._settings.retry.gives_up_after(attempts):
            if await self._settle(Outcome(job, JobStatus.FAILED, attempts, error, _now())):
                log.warning("e-mail failed for good", extra={"job": job["_id"], "error": error})
        else:
            at = self._settings.retry.next_attempt_at(attempts, _now())
            await self._ledger.retry_later(job, attempts, error, at)
            EMAILS.labels(template, "retried").inc()
            log.info("e-mail will be retried", extra={"job": job["_id"], "error": error})

    async def _settle(self, outcome: Outcome) -> bool:
        """Record a sent or failed job (retried until the write goes through: a mail the
        server accepted is never sent again by this dispatcher); counts it only if this
        dispatcher still owned the job. Returns whether it did."""
        backoff = Backoff(base_seconds=0.2, cap_seconds=10.0)
        failures = 0
        job, template = outcome.job, outcome.job["template"]
        while True:
            try:
                owned = await self._outcomes.submit(outcome)
                break
            except Exception as exc:
                failures += 1
                log.warning(
                    "recording the outcome of a mail failed; retrying, never resending",
                    extra={"job": job["_id"], "attempt": failures, "error": repr(exc)},
                )
                await asyncio.sleep(backoff.delay(failures))  # backoff, not synchronisation
        if not owned:
            EMAILS.labels(template, "lease_lost").inc()
            log.warning(
                "mail settled after the job's lease was lost: another dispatcher owns it",
                extra={"job": job["_id"]},
            )
            return False
        self._staged()
        EMAILS.labels(template, outcome.status).inc()
        return True

    async def _record_alone(self, outcome: Outcome) -> bool:
        [owned] = await self._ledger.record_outcomes([outcome])
        return owned

    async def _wait_or_drop(self, job: Document, ref: str, erased: set[str]) -> None:
        """Wait for the contact `ref`, unless it was erased: then the mail can never go out."""
        if ref in erased:
            if await self._ledger.drop(job, _now()):
                EMAILS.labels(job["template"], "dropped").inc()
            return
        await self._ledger.wait_for(job, ref, until=None)

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


def _token() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)
