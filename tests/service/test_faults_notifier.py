"""The notifier once the SMTP server has accepted a mail: a lost lease is not counted as
sent by the loser, and a failure to record the mail never sends it again (real broker,
SMTP sink and database; the one failed ledger write is injected)."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pymongo.errors import AutoReconnect

from services.notifier.app import create_app
from services.notifier.domain.jobs import JobStatus
from services.notifier.mailer import SmtpMailer
from services.notifier.store import JOBS, Ledger, Outcome
from tests.support.notifier import Mongo, Parties, mails_arrived, mails_to, settings_for
from tests.support.services import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


class AfterAccepted:
    """The real SMTP mailer, then `then(message)` once, right after the first accepted
    mail."""

    def __init__(self, port: int, then: Callable[[EmailMessage], Awaitable[None]]) -> None:
        self._smtp = SmtpMailer("127.0.0.1", port)
        self._then: Callable[[EmailMessage], Awaitable[None]] | None = then

    async def send(self, message: EmailMessage) -> None:
        await self._smtp.send(message)
        if self._then is not None:
            then, self._then = self._then, None
            await then(message)

    async def check(self) -> None:
        await self._smtp.check()


def emails(outcome: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "concilia_emails_total" and sample.labels.get("outcome") == outcome:
                total += sample.value
    return total


class TestAfterSmtpAccepted:
    async def test_a_mail_accepted_after_the_lease_was_lost_is_not_counted_as_sent(
        self,
        kafka: str,
        mongodb: str,
        database_name: str,
        mongo_client: Mongo,
        smtp: tuple[int, Path],
    ) -> None:
        """When another dispatcher took the job over during the SMTP conversation, the
        loser's ledger write fails and it counts `lease_lost`, not `sent`."""
        port, mail_dir = smtp
        parties = Parties()
        jobs = mongo_client[database_name]["notification_jobs"]

        async def taken_over(message: EmailMessage) -> None:
            # Only the job of the mail just accepted: the other one may be `sending` too
            # (both claimed together), and it is still this dispatcher's.
            job_id = str(message["Message-ID"]).strip("<>").rpartition("@")[0]
            taken = await jobs.update_one(
                {"_id": job_id, "status": "sending"},
                {"$set": {"lease_token": "another-dispatcher"}},
            )
            assert taken.modified_count == 1

        settings = settings_for(kafka, mongodb, database_name, port)
        sent_before, lost_before = emails("sent"), emails("lease_lost")
        async with serving(create_app(settings, mailer=AfterAccepted(port, taken_over))):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)
            await eventually(lambda: emails("lease_lost") > lost_before, what="a lost lease")
            await eventually(
                lambda: mails_arrived(mail_dir, *parties.addresses()), what="both mails"
            )
        assert emails("sent") == sent_before + 1  # only the mail whose job it still owned
        stolen = await jobs.find_one({"lease_token": "another-dispatcher"})
        assert stolen is not None
        assert stolen["status"] == "sending"  # the new owner's to settle, untouched

    async def test_a_failed_ledger_write_after_smtp_accepted_never_sends_the_mail_again(
        self,
        kafka: str,
        mongodb: str,
        database_name: str,
        mongo_client: Mongo,
        smtp: tuple[int, Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The first write recording an accepted mail fails (the database dropped the
        connection): it is retried, and even with a 1 s lease the mail goes out once."""
        port, mail_dir = smtp
        parties = Parties()
        real = Ledger.record_outcomes
        failures = {"left": 1}

        async def flaky(self: Ledger, outcomes: list[Outcome]) -> list[bool]:
            if any(o.status is JobStatus.SENT for o in outcomes) and failures["left"]:
                failures["left"] -= 1
                raise AutoReconnect("connection closed by the database")
            return await real(self, outcomes)

        monkeypatch.setattr(Ledger, "record_outcomes", flaky)
        settings = settings_for(kafka, mongodb, database_name, port, mail_lease_seconds=1)
        jobs = mongo_client[database_name]["notification_jobs"]

        async def both_sent() -> bool:
            sent = {"match_id": parties.match_id, "status": "sent"}
            return await jobs.count_documents(sent) == 2

        async with serving(create_app(settings)):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)
            await eventually(both_sent, timeout=60, what="both jobs sent")
        assert not failures["left"]  # the write did fail once
        # A job left `sending` would have been claimed again after its 1 s lease and mailed
        # a second time before it could be marked sent.
        for address in parties.addresses():
            assert len(mails_to(mail_dir, address)) == 1, address


class TestUncertainResends:
    async def test_taking_over_a_job_from_a_dead_dispatcher_counts_an_uncertain_resend(
        self, database_name: str, mongo_client: Mongo
    ) -> None:
        """A job left `sending` by a dispatcher that died may already be in the recipient's
        mailbox: the claim that takes it over after the lease counts `uncertain_resends`,
        which a first claim of a pending job does not."""
        db = mongo_client[database_name]
        ledger = Ledger(mongo_client, db)
        now = datetime.now(UTC)
        await db[JOBS].insert_many(
            [
                {
                    "_id": "held-by-a-dead-dispatcher",
                    "status": "sending",
                    "lease_until": now - timedelta(seconds=1),
                    "lease_token": "dead",
                    "next_attempt_at": now - timedelta(minutes=5),
                    "attempts": 0,
                },
                {
                    "_id": "never-tried",
                    "status": "pending",
                    "waiting_for": None,
                    "next_attempt_at": now,
                    "attempts": 0,
                },
            ]
        )
        candidates = await ledger.due_ids(now, limit=10)
        claimed = await ledger.claim(now, timedelta(minutes=1), "mine", candidates)
        assert [job["_id"] for job in claimed] == ["held-by-a-dead-dispatcher", "never-tried"]
        assert all(job["lease_token"] == "mine" for job in claimed)
        counts = {job["_id"]: job.get("uncertain_resends", 0) async for job in db[JOBS].find()}
        assert counts == {"held-by-a-dead-dispatcher": 1, "never-tried": 0}

    async def test_due_jobs_are_found_and_claimed_a_batch_at_a_time(
        self, database_name: str, mongo_client: Mongo
    ) -> None:
        """One query names up to `limit` due jobs, the longest due first, and one claim takes
        them all (the database's cost is per query, not per e-mail); a candidate another
        dispatcher claimed meanwhile is not claimed again."""
        db = mongo_client[database_name]
        ledger = Ledger(mongo_client, db)
        now = datetime.now(UTC)
        await db[JOBS].insert_many(
            [
                {
                    "_id": f"job-{n:02}",
                    "status": "pending",
                    "waiting_for": None,
                    "next_attempt_at": now - timedelta(seconds=n),
                    "attempts": 0,
                }
                for n in range(30)
            ]
        )
        candidates = await ledger.due_ids(now, limit=10)
        assert candidates == [f"job-{n:02}" for n in range(29, 19, -1)]
        assert await ledger.claim(now, timedelta(minutes=1), "other", candidates[:1])
        mine = await ledger.claim(now, timedelta(minutes=1), "mine", candidates)
        assert [job["_id"] for job in mine] == candidates[1:]
        assert all(job["lease_token"] == "mine" for job in mine)
