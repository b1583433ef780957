"""The notifier while the SMTP server is unreachable or defers mails: an outage is waited
out without using a mail's attempts; a server that keeps deferring a mail fails it after the
last attempt; a refusal fails it at once."""

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_smtp_sink
from services.notifier.app import create_app
from services.notifier.settings import Settings
from tests.support.notifier import (
    Mongo,
    Parties,
    events_for,
    mails_arrived,
    mails_to,
    notifications_of,
    settings_for,
)
from tests.support.services import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


class AnswersRcpt:
    """aiosmtpd handler: a real SMTP server that answers every recipient with `reply`."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        return self.reply


@contextlib.contextmanager
def smtp_server_answering(reply: str) -> Iterator[int]:
    """An SMTP server on a free port that answers every RCPT TO with `reply`."""
    controller = Controller(AnswersRcpt(reply), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


class TestSmtpOutage:
    async def test_mails_wait_out_an_unreachable_server_without_using_their_attempts(
        self,
        kafka: str,
        mongodb: str,
        database_name: str,
        mongo_client: Mongo,
        stack_home: Path,
    ) -> None:
        """With one attempt allowed and the server unreachable, both mails wait (tried
        again and again, no attempt used) and go out once each when the server is back."""
        port = free_port()
        settings = settings_for(kafka, mongodb, database_name, port, mail_max_attempts=1)
        parties = Parties()
        jobs = mongo_client[database_name]["notification_jobs"]
        mail_dir = stack_home / f"mail-late-{port}"
        waits: dict[object, set[object]] = {}

        async def both_waited_twice() -> bool:
            async for job in jobs.find({"match_id": parties.match_id}):
                assert (job["status"], job["attempts"]) in (("pending", 0), ("sending", 0))
                waits.setdefault(job["_id"], set()).add(job["next_attempt_at"])
            return len(waits) == 2 and all(len(times) >= 3 for times in waits.values())

        async with serving(create_app(settings)):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)
            await eventually(both_waited_twice, timeout=60, what="both mails to wait twice")
            sink = start_smtp_sink(port, mail_dir, stack_home / "logs")
            try:
                await eventually(
                    lambda: mails_arrived(mail_dir, *parties.addresses()),
                    timeout=60,
                    what="both mails after SMTP came back",
                )
            finally:
                sink.stop()
        for address in parties.addresses():
            assert len(mails_to(mail_dir, address)) == 1, address
        sent = await jobs.find({"match_id": parties.match_id}).to_list()
        assert [(d["status"], d["attempts"]) for d in sent] == [("sent", 1), ("sent", 1)]

    async def test_a_server_that_keeps_deferring_a_mail_fails_it_after_the_last_attempt(
        self, kafka: str, mongodb: str, database_name: str, mongo_client: Mongo
    ) -> None:
        """A 451 answer is about the message: each one uses an attempt, and after the last
        notification.failed is published without any address in its error."""
        parties = Parties()
        deferred = f"451 4.3.0 Mail for <{parties.requester_email}> deferred"
        settings = functools.partial(settings_for, kafka, mongodb, database_name)
        failed = await failures_when_answered(deferred, parties, kafka, settings, attempts=3)
        assert all(e["data"]["attempt"] == 3 for e in failed)
        assert all("451" in e["data"]["error"] for e in failed)
        assert all("<recipient>" in e["data"]["error"] for e in failed)  # never the address
        assert await job_states(mongo_client, database_name, parties) == [("failed", 3)] * 2
        for raw in await notifications_of(kafka, parties.match_id):
            assert b"example.org" not in raw

    async def test_a_refused_mail_fails_at_once(
        self, kafka: str, mongodb: str, database_name: str, mongo_client: Mongo
    ) -> None:
        """A 5xx answer will not change on a retry: the mail fails on its first attempt."""
        parties = Parties()
        refused = "550 5.1.1 Recipient address rejected"
        settings = functools.partial(settings_for, kafka, mongodb, database_name)
        failed = await failures_when_answered(refused, parties, kafka, settings, attempts=5)
        assert all(e["data"]["attempt"] == 1 for e in failed)
        assert await job_states(mongo_client, database_name, parties) == [("failed", 1)] * 2


async def failures_when_answered(
    reply: str, parties: Parties, kafka: str, settings: Callable[..., Settings], attempts: int
) -> list[dict[str, Any]]:
    """The notification.failed events of a proposal to `parties` when the SMTP server
    answers every recipient with `reply` (`attempts` allowed per mail)."""
    with smtp_server_answering(reply) as port:
        async with serving(create_app(settings(port, mail_max_attempts=attempts))):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)
            return await events_for(kafka, "notification.failed", parties.match_id, 2)


async def job_states(mongo: Mongo, database: str, parties: Parties) -> list[tuple[str, int]]:
    jobs = mongo[database]["notification_jobs"]
    docs = await jobs.find({"match_id": parties.match_id}).to_list()
    return [(d["status"], d["attempts"]) for d in docs]
