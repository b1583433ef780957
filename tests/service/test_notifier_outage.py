"""The notifier while the SMTP server is down: retries, final failure, and recovery."""

from pathlib import Path

import pytest

from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_smtp_sink
from services.notifier.app import create_app
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


class TestSmtpOutage:
    async def test_mails_fail_after_the_last_attempt(
        self, kafka: str, mongodb: str, database_name: str, mongo_client: Mongo
    ) -> None:
        """With SMTP unreachable each mail is retried, then notification.failed is published
        without any address in its error."""
        closed_port = free_port()
        settings = settings_for(kafka, mongodb, database_name, closed_port, mail_max_attempts=3)
        parties = Parties()
        async with serving(create_app(settings)):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)

            failed = await events_for(kafka, "notification.failed", parties.match_id, 2)
        assert all(e["data"]["attempt"] == 3 for e in failed)
        assert all(e["data"]["error"] for e in failed)
        jobs = mongo_client[database_name]["notification_jobs"]
        docs = await jobs.find({"match_id": parties.match_id}).to_list()
        assert [(d["status"], d["attempts"]) for d in docs] == [("failed", 3), ("failed", 3)]
        for raw in await notifications_of(kafka, parties.match_id):
            assert b"example.org" not in raw

    async def test_nothing_is_lost_when_smtp_comes_back_within_the_attempts(
        self,
        kafka: str,
        mongodb: str,
        database_name: str,
        mongo_client: Mongo,
        stack_home: Path,
    ) -> None:
        """Mails that failed while SMTP was down go out once it is back."""
        port = free_port()
        settings = settings_for(kafka, mongodb, database_name, port, mail_max_attempts=100)
        parties = Parties()
        jobs = mongo_client[database_name]["notification_jobs"]
        mail_dir = stack_home / f"mail-late-{port}"
        async with serving(create_app(settings)):
            await parties.send_contacts(kafka)
            await parties.send_match(kafka)

            async def both_retried() -> bool:
                retried = {"match_id": parties.match_id, "attempts": {"$gte": 1}}
                return await jobs.count_documents(retried) == 2

            await eventually(both_retried, timeout=60, what="both mails to fail once")
            sink = start_smtp_sink(port, mail_dir, stack_home / "logs")
            try:
                await eventually(
                    lambda: mails_arrived(mail_dir, *parties.addresses()),
                    timeout=60,
                    what="both mails after SMTP came back",
                )
            finally:
                sink.stop()
        assert len(mails_to(mail_dir, parties.requester_email)) == 1
        sent = await jobs.find({"match_id": parties.match_id}).to_list()
        assert all(d["status"] == "sent" and d["attempts"] >= 2 for d in sent)
