"""Notifier test helpers: the two parties of a match, their contacts, the mails they got."""

import re
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any, cast

from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent, stable_id
from services.notifier.settings import Settings
from tests.conftest import JWT_SECRET
from tests.support.kafka import events_of, produce, read_all
from tests.support.notifications import a_match, not_found
from tests.support.waiting import eventually

Mongo = AsyncMongoClient[dict[str, object]]


OFFERS_URL = "http://offers.test"
DEMANDS_URL = "http://demands.test"
_ANSWER_LINK = re.compile(r"https?://\S+/r/[\w.-]+")


class Parties:
    """A requester (English) and a provider (Italian) with unique refs and addresses."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.match_id = f"match-{tag}"
        self.demand_id = f"demand-{tag}"
        self.offer_id = f"offer-{tag}"
        self.requester_ref = f"req-{tag}"
        self.provider_ref = f"prov-{tag}"
        self.requester_email = f"jane-{tag}@example.org"
        self.provider_email = f"coop-{tag}@example.org"

    async def send_contacts(self, kafka: str) -> None:
        await send_contact(kafka, self.requester_ref, "Jane Smith", self.requester_email, "en")
        await send_contact(kafka, self.provider_ref, "Coop Isola", self.provider_email, "it")

    async def send_match(self, kafka: str, type_: str = "match.proposed", **changes: Any) -> None:
        """A match.* event about this pair (match.proposed unless told otherwise)."""
        match = a_match(
            match_id=self.match_id,
            demand_id=self.demand_id,
            offer_id=self.offer_id,
            requester_ref=self.requester_ref,
            provider_ref=self.provider_ref,
            **changes,
        )
        await send_match_event(kafka, type_, match.model_dump(mode="json"))

    async def send_not_found(self, kafka: str, match_id: str) -> None:
        """A match.not_found for this pair's demand (each with its own match id)."""
        match = not_found(
            match_id=match_id, demand_id=self.demand_id, requester_ref=self.requester_ref
        )
        await send_match_event(kafka, "match.not_found", match.model_dump(mode="json"))

    def addresses(self) -> tuple[str, str]:
        return self.requester_email, self.provider_email


async def send_match_event(kafka: str, type_: str, data: dict[str, Any]) -> None:
    event = CloudEvent.new(
        id=stable_id(data["match_id"], type_),
        type=type_,
        source="matcher",
        subject=data["demand_id"],
        data=data,
    )
    await produce(kafka, topics.MATCHES, event.to_bytes(), key=data["service_type"])


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


def html_of(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return cast(str, body.get_content())  # type: ignore[attr-defined]


def answer_links(text: str) -> list[str]:
    """Every one-click answer link (`…/r/<token>`) in a text."""
    return _ANSWER_LINK.findall(text)


def with_subject(mails: list[EmailMessage], start: str) -> list[EmailMessage]:
    return [m for m in mails if str(m["Subject"]).startswith(start)]


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


def settings_for(
    kafka: str,
    mongodb: str,
    database: str,
    smtp_port: int,
    waiting_mail_delay_seconds: float = 0,
    **extra: Any,
) -> Settings:
    return Settings(
        waiting_mail_delay_seconds=waiting_mail_delay_seconds,
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database=database,
        smtp_port=smtp_port,
        auth_jwt_secret=JWT_SECRET,
        offers_public_url=OFFERS_URL,
        demands_public_url=DEMANDS_URL,
        dispatch_poll_seconds=0.2,
        outbox_poll_seconds=0.2,
        mail_backoff_seconds=0.2,
        mail_backoff_max_seconds=1,
        mail_outage_backoff_seconds=0.2,
        mail_outage_backoff_max_seconds=1,
        **extra,
    )


async def mails_arrived(mail_dir: Path, *addresses: str) -> bool:
    return all(mails_to(mail_dir, a) for a in addresses)
