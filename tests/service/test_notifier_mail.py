"""The notifier against the real embedded Kafka, MongoDB and SMTP sink."""

import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, cast

import pytest
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent, stable_id
from services.notifier.app import create_app
from services.notifier.settings import Settings
from tests.support.kafka import events_of, produce, read_all
from tests.support.services import serving
from tests.support.waiting import eventually
from tests.unit.test_notifier_rendering import a_match

pytestmark = pytest.mark.service

Mongo = AsyncMongoClient[dict[str, object]]


class Parties:
    """A requester (English) and a provider (Italian) with unique refs and addresses."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.match_id = f"match-{tag}"
        self.requester_ref = f"req-{tag}"
        self.provider_ref = f"prov-{tag}"
        self.requester_email = f"jane-{tag}@example.org"
        self.provider_email = f"coop-{tag}@example.org"

    async def send_contacts(self, kafka: str) -> None:
        await send_contact(kafka, self.requester_ref, "Jane Smith", self.requester_email, "en")
        await send_contact(kafka, self.provider_ref, "Coop Isola", self.provider_email, "it")

    async def send_match(self, kafka: str) -> None:
        match = a_match(
            match_id=self.match_id,
            requester_ref=self.requester_ref,
            provider_ref=self.provider_ref,
        )
        event = CloudEvent.new(
            id=stable_id(self.match_id, "match.proposed"),
            type="match.proposed",
            source="matcher",
            subject=self.match_id,
            data=match.model_dump(mode="json"),
        )
        await produce(kafka, topics.MATCHES, event.to_bytes(), key=match.service_type)

    def addresses(self) -> tuple[str, str]:
        return self.requester_email, self.provider_email


async def send_contact(kafka: str, ref: str, name: str, email: str, language: str) -> None:
    event = CloudEvent.new(
        type="contact.upserted",
        source="demands",
        subject=ref,
        data={"ref": ref, "name": name, "email": email, "language": language},
    )
    await produce(kafka, topics.CONTACTS, event.to_bytes(), key=ref)


def mails_to(mail_dir: Path, address: str) -> list[EmailMessage]:
    """Every message in the sink's folder addressed to `address`."""
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        msg = cast(EmailMessage, BytesParser(policy=default).parsebytes(path.read_bytes()))
        if any(a.addr_spec == address for a in msg["To"].addresses):
            found.append(msg)
    return found


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return cast(str, body.get_content())  # type: ignore[attr-defined]


async def events_for(kafka: str, type_: str, match_id: str, count: int) -> list[dict[str, Any]]:
    """Wait until `count` events of `type_` about `match_id` are on the notifications topic."""

    async def found() -> list[dict[str, Any]] | None:
        events = await events_of(kafka, topics.NOTIFICATIONS, type_)
        ours = [e for e in events if e["data"]["match_id"] == match_id]
        return ours if len(ours) >= count else None

    return await eventually(found, timeout=60, what=f"{count} {type_} for {match_id}")


async def notifications_of(kafka: str, match_id: str) -> list[bytes]:
    return [
        m.value
        for m in await read_all(kafka, topics.NOTIFICATIONS)
        if m.key == match_id and m.value is not None
    ]


def settings_for(kafka: str, mongodb: str, database: str, smtp_port: int, **extra: Any) -> Settings:
    return Settings(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database=database,
        smtp_port=smtp_port,
        dispatch_poll_seconds=0.2,
        outbox_poll_seconds=0.2,
        mail_backoff_seconds=0.2,
        mail_backoff_max_seconds=1,
        **extra,
    )


@pytest.fixture
async def notifier(
    kafka: str, mongodb: str, smtp: tuple[int, Path], database_name: str
) -> AsyncIterator[str]:
    """The notifier, in-process, writing to the module's SMTP sink."""
    async with serving(create_app(settings_for(kafka, mongodb, database_name, smtp[0]))) as url:
        yield url


async def mails_arrived(mail_dir: Path, *addresses: str) -> bool:
    return all(mails_to(mail_dir, a) for a in addresses)


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
