"""The dispatcher's own timing on the real database: a mail that waited for a contact keeps
its retry schedule afterwards, and a chunk slowed down by the SMTP server never sends a mail
whose lease has run out (another dispatcher may have it by then)."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from concilia.platform.answer_links import LinkSigner
from concilia.platform.faults import Backoff
from services.notifier import dispatcher as dispatching
from services.notifier.dispatcher import Dispatcher, DispatchSettings
from services.notifier.domain.jobs import PlannedJob, RetryPolicy, job_id
from services.notifier.links import AnswerLinks
from services.notifier.mailer import SmtpMailer
from services.notifier.store import JOBS, Ledger, StoredContact
from tests.service.test_notifier_outage import smtp_server_answering
from tests.support.notifier import Mongo, a_match, mails_to
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

PROPOSAL = "requester_match"


def settings(lease: timedelta = timedelta(minutes=2)) -> DispatchSettings:
    links = AnswerLinks(LinkSigner("dispatch-" * 4), offers_url="http://o", demands_url="http://d")
    return DispatchSettings(
        mail_from="Concilia Isola <noreply@concilia.example>",
        base_url="http://127.0.0.1:8002",
        links=links,
        retry=RetryPolicy(max_attempts=3, base_seconds=60, cap_seconds=600),
        lease=lease,
        mention_grace=timedelta(minutes=5),
        poll_seconds=1,
        outage_backoff=Backoff(1, 10),
    )


async def proposals(ledger: Ledger, count: int, *, provider_known: bool) -> list[str]:
    """`count` proposal mails to families, each naming its provider (whose contact is
    known or not)."""
    now, ids = datetime.now(UTC), []
    for n in range(count):
        match = a_match(match_id=f"m-{n}", requester_ref=f"r-{n}", provider_ref=f"p-{n}")
        await ledger.upsert_contact(StoredContact(f"r-{n}", "Jane Smith", f"j{n}@x.org", "en"), now)
        if provider_known:
            await ledger.upsert_contact(StoredContact(f"p-{n}", "Coop", f"c{n}@x.org", "it"), now)
        job = PlannedJob(
            job_id(f"m-{n}", f"r-{n}", PROPOSAL), f"m-{n}", f"r-{n}", PROPOSAL, f"p-{n}"
        )
        await ledger.add_jobs([job], match.model_dump(mode="json"), now)
        ids.append(job.id)
    return ids


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> list[timedelta]:
    """The dispatcher's clock, moved forward by the sum of what the test appends."""
    ahead: list[timedelta] = []
    real = dispatching._now
    monkeypatch.setattr(dispatching, "_now", lambda: real() + sum(ahead, timedelta(0)))
    return ahead


class TestAfterWaitingForAContact:
    async def test_a_deferred_mail_is_tried_again_only_after_its_backoff(
        self, database_name: str, mongo_client: Mongo, later: list[timedelta]
    ) -> None:
        """The provider's contact never came: after the grace the proposal goes out without
        the name and the server defers it (451). The next try waits a minute, as for any
        mail: the grace's end does not make the mail due again at once."""
        ledger = Ledger(mongo_client, mongo_client[database_name])
        [job] = await proposals(ledger, 1, provider_known=False)
        with smtp_server_answering("451 4.3.0 Try again later") as port:
            mailer = SmtpMailer("127.0.0.1", port)
            dispatcher = Dispatcher(ledger, mailer, lambda: None, settings())
            await dispatcher.dispatch_due()  # waits for the provider's contact
            later.append(timedelta(minutes=6))  # the grace is over
            await dispatcher.dispatch_due()
        doc = await mongo_client[database_name][JOBS].find_one({"_id": job})
        assert doc is not None
        assert (doc["status"], doc["attempts"]) == ("pending", 1)
        assert doc["next_attempt_at"] > datetime.now(UTC) + timedelta(minutes=5)


class GatedMailer:
    """The real SMTP sink, but only the first `free` mails go through at once: the others
    hang until the test opens the gate (a server that stalls mid-conversation)."""

    def __init__(self, port: int, free: int) -> None:
        self._smtp = SmtpMailer("127.0.0.1", port)
        self._free = free
        self.gate = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        if self._free > 0:
            self._free -= 1
        else:
            await self.gate.wait()
        await self._smtp.send(message)

    async def check(self) -> None:
        await self._smtp.check()


class TestAStallingServer:
    async def test_never_gets_a_mail_after_the_lease_ran_out(
        self, database_name: str, mongo_client: Mongo, smtp: tuple[int, Path]
    ) -> None:
        """Twelve mails claimed together under a 1 s lease; the server takes four, then
        stalls. Once the lease has run out a second dispatcher takes the other eight and
        sends them. When the server wakes up, the first must not send them again: a send
        may only run while its lease holds. Each family gets one proposal."""
        port, mail_dir = smtp
        ledger = Ledger(mongo_client, mongo_client[database_name])
        await proposals(ledger, 12, provider_known=True)
        stalling = GatedMailer(port, free=4)
        lease = timedelta(seconds=1)
        first = Dispatcher(ledger, stalling, lambda: None, settings(lease=lease))
        second = Dispatcher(ledger, SmtpMailer("127.0.0.1", port), lambda: None, settings())
        claimed_at = datetime.now(UTC)
        sending = asyncio.create_task(first.dispatch_due())
        await eventually(
            lambda: datetime.now(UTC) > claimed_at + lease, interval=0.05, what="the lease's end"
        )

        async def all_sent() -> bool:
            await second.dispatch_due()
            return await ledger.unfinished() == 0

        await eventually(all_sent, timeout=60, what="every mail sent")
        stalling.gate.set()
        await asyncio.wait_for(sending, 60)
        for n in range(12):
            assert len(mails_to(mail_dir, f"j{n}@x.org")) == 1, n
