"""The notifier against the real embedded Kafka, MongoDB and SMTP sink."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from concilia.contract import topics
from services.notifier.app import create_app
from tests.support.kafka import produce
from tests.support.notifier import (
    Mongo,
    Parties,
    events_for,
    mails_arrived,
    mails_to,
    notifications_of,
    send_contact,
    settings_for,
    text_of,
)
from tests.support.services import serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@pytest.fixture
async def notifier(
    kafka: str, mongodb: str, smtp: tuple[int, Path], database_name: str
) -> AsyncIterator[str]:
    """The notifier, in-process, writing to the module's SMTP sink."""
    async with serving(create_app(settings_for(kafka, mongodb, database_name, smtp[0]))) as url:
        yield url


class TestBothPartiesAreMailed:
    async def test_a_match_sends_one_mail_to_each_party(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """Contacts then a match: one mail each, requester in English, and two
        notification.sent events that carry no name or address."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_contacts(kafka)
        await parties.send_match(kafka)

        await eventually(
            lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="both mails"
        )
        ours = await events_for(kafka, "notification.sent", parties.match_id, 2)
        assert sorted(e["data"]["template"] for e in ours) == ["provider_match", "requester_match"]
        (requester,) = mails_to(mail_dir, parties.requester_email)
        (provider,) = mails_to(mail_dir, parties.provider_email)
        assert requester["Subject"] == "We found a service for you: Doposcuola in Isola"
        assert "0.4 km from you" in text_of(requester)
        assert "Coop Isola (coop-isola)" in text_of(requester)
        assert provider["Subject"].startswith("Nuova richiesta per la vostra offerta")
        assert "Jane" not in text_of(provider)
        assert parties.requester_email not in text_of(provider)
        for raw in await notifications_of(kafka, parties.match_id):
            for secret in (*parties.addresses(), "Jane", "Coop Isola", "example.org"):
                assert secret.encode() not in raw

    async def test_a_redelivered_match_sends_no_second_email(
        self, kafka: str, notifier: str, smtp: tuple[int, Path]
    ) -> None:
        """The same match produced twice still sends one mail per party."""
        _, mail_dir = smtp
        parties, marker = Parties(), Parties()
        await parties.send_contacts(kafka)
        await marker.send_contacts(kafka)
        await parties.send_match(kafka)
        await parties.send_match(kafka)
        # Same key, same partition: once the marker's mails are out, both copies were handled.
        await marker.send_match(kafka)

        await eventually(
            lambda: mails_arrived(mail_dir, *marker.addresses(), *parties.addresses()),
            timeout=60,
            what="the marker's and the party's mails",
        )
        assert len(mails_to(mail_dir, parties.requester_email)) == 1
        assert len(mails_to(mail_dir, parties.provider_email)) == 1

    async def test_a_match_before_its_contacts_waits_for_them(
        self,
        kafka: str,
        notifier: str,
        smtp: tuple[int, Path],
        mongo_client: Mongo,
        database_name: str,
    ) -> None:
        """A match whose contacts are unknown is kept, and mailed once they arrive."""
        _, mail_dir = smtp
        parties = Parties()
        await parties.send_match(kafka)
        jobs = mongo_client[database_name]["notification_jobs"]

        async def both_jobs_waiting() -> bool:
            waiting = await jobs.count_documents(
                {"match_id": parties.match_id, "status": "pending", "waiting_for": {"$ne": None}}
            )
            return waiting == 2

        await eventually(both_jobs_waiting, timeout=60, what="two jobs waiting for contacts")
        assert not mails_to(mail_dir, parties.requester_email)

        await parties.send_contacts(kafka)
        await eventually(
            lambda: mails_arrived(mail_dir, *parties.addresses()), timeout=60, what="both mails"
        )

        async def both_sent() -> bool:
            statuses = [j["status"] async for j in jobs.find({"match_id": parties.match_id})]
            return statuses == ["sent", "sent"]

        # The mail lands in the sink a moment before the job is marked sent.
        await eventually(both_sent, timeout=30, what="both jobs marked sent")


class TestContacts:
    async def test_a_tombstone_erases_the_contact(
        self, kafka: str, notifier: str, mongo_client: Mongo, database_name: str
    ) -> None:
        """A null value for a contact's key deletes the stored contact."""
        ref = f"req-{uuid.uuid4().hex[:8]}"
        contacts = mongo_client[database_name]["contacts"]
        await send_contact(kafka, ref, "Jane Smith", f"{ref}@example.org", "en")
        await eventually(
            lambda: contacts.find_one({"_id": ref}), timeout=60, what="the contact stored"
        )

        await produce(kafka, topics.CONTACTS, None, key=ref)

        async def erased() -> bool:
            return await contacts.find_one({"_id": ref}) is None

        await eventually(erased, timeout=60, what="the contact erased")
