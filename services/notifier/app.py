"""The notifier's composition root: Mongo, the Kafka consumer, the outbox relay and the
dispatcher, wired in one lifespan. HTTP is only /healthz, /readyz and /metrics.

/readyz is ready when MongoDB and Kafka answer. SMTP reachability is reported there but does
not make the service unready: with the mail server down the notifier still consumes matches
and contacts and records the e-mails it owes (nothing is lost, they go out with retries), so
taking it out of rotation or restarting it would only hide the real outage."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from concilia.contract import topics
from concilia.platform.answer_links import LinkSigner
from concilia.platform.consumer import subscribe
from concilia.platform.faults import Backoff
from concilia.platform.http import create_service_app
from concilia.platform.kafka import broker_running, ensure_topics, make_broker, reachable
from concilia.platform.mongo import connect, ping
from concilia.platform.outbox import OutboxRelay
from services.notifier.dispatcher import Dispatcher, DispatchSettings
from services.notifier.domain.jobs import RetryPolicy
from services.notifier.links import AnswerLinks
from services.notifier.mailer import Mailer, SmtpMailer
from services.notifier.settings import Settings
from services.notifier.store import Ledger
from services.notifier.subscribers import make_handler

GROUP_ID = "concilia-notifier"


def create_app(
    settings: Settings, *, mailer: Mailer | None = None, broker: KafkaBroker | None = None
) -> FastAPI:
    """The notifier app; `mailer` replaces SMTP (e.g. in tests of failure handling), `broker`
    the Kafka broker."""
    name = settings.service_name
    links = AnswerLinks(
        LinkSigner(settings.require_secret()),
        offers_url=settings.offers_public_url,
        demands_url=settings.demands_public_url,
    )
    mongo = connect(settings.mongodb_url)
    db = mongo[settings.database]
    ledger = Ledger(mongo, db)
    mail = mailer or SmtpMailer(
        settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    )
    relay = OutboxRelay(db, settings.kafka_bootstrap_servers, name, settings.outbox_poll_seconds)
    dispatcher = Dispatcher(
        ledger,
        mail,
        relay.notify,
        DispatchSettings(
            mail_from=settings.mail_from,
            base_url=settings.public_base_url,
            links=links,
            retry=RetryPolicy(
                max_attempts=settings.mail_max_attempts,
                base_seconds=settings.mail_backoff_seconds,
                cap_seconds=settings.mail_backoff_max_seconds,
            ),
            lease=timedelta(seconds=settings.mail_lease_seconds),
            mention_grace=timedelta(seconds=settings.mention_grace_seconds),
            poll_seconds=settings.dispatch_poll_seconds,
            outage_backoff=Backoff(
                base_seconds=settings.mail_outage_backoff_seconds,
                cap_seconds=settings.mail_outage_backoff_max_seconds,
            ),
        ),
    )
    broker = broker or make_broker(settings.kafka_bootstrap_servers, name)
    subscribe(
        broker,
        topics.CONTACTS,
        topics.MATCHES,
        group_id=GROUP_ID,
        service=name,
        handle=make_handler(
            ledger, dispatcher.wake, timedelta(seconds=settings.waiting_mail_delay_seconds)
        ),
        **settings.consumer_options(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ledger.ensure_indexes()
        await relay.start()
        await dispatcher.start()
        try:
            async with broker_running(
                broker, name, before=lambda: ensure_topics(settings.kafka_bootstrap_servers)
            ):
                yield
        finally:
            await dispatcher.stop()
            await relay.stop()
            await mongo.close()

    async def mongo_ready() -> None:
        await ping(mongo)

    return create_service_app(
        service=name,
        title="Concilia notifier",
        description="E-mails both parties of a match at every step of its lifecycle, once each.",
        lifespan=lifespan,
        readiness=[
            ("mongodb", mongo_ready),
            ("kafka", reachable(broker, timeout=3)),
            ("outbox", relay.check),
        ],
        max_body_bytes=settings.max_body_bytes,
        reported=[("smtp", mail.check)],
    )
