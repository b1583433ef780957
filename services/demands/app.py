"""The demands service's composition root: Mongo, outbox relay, Kafka consumer."""

import contextlib
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from faststream.kafka import KafkaBroker

from concilia.platform.answer_links import LinkSigner
from concilia.platform.consumer import follow_match_states
from concilia.platform.http import create_service_app, principal_dependency
from concilia.platform.kafka import broker_running, make_broker
from concilia.platform.mongo import Database, connect, ping
from concilia.platform.outbox import OutboxRelay, ensure_outbox_indexes
from concilia.platform.record_api import install_record_handlers
from concilia.platform.records import RecordStore
from services.demands.links import requester_links_router
from services.demands.routes import demands_router
from services.demands.settings import Settings
from services.demands.store import COLLECTION, DemandStore
from services.demands.subscribers import match_handler

SERVICE = "demands"
GROUP_ID = "concilia-demands"
RelayFactory = Callable[[Database], OutboxRelay]


def create_app(
    settings: Settings,
    *,
    relay: RelayFactory | None = None,
    broker: KafkaBroker | None = None,
) -> FastAPI:
    """The demands API; `relay` and `broker` replace the defaults (tests point them elsewhere).
    Demands have no end date in v1, so nothing expires them automatically."""
    secret = settings.require_secret()
    client = connect(settings.mongodb_url)
    db = client[settings.database]
    outbox_relay = (relay or _default_relay(settings))(db)
    store = DemandStore(RecordStore(client, db, COLLECTION, outbox_relay, ("requester_ref",)))
    kafka = broker or make_broker(settings.kafka_bootstrap_servers, SERVICE)
    follow_match_states(kafka, settings, GROUP_ID, SERVICE, match_handler(store))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.records.ensure_indexes()
        await ensure_outbox_indexes(db)
        await outbox_relay.start()
        try:
            async with broker_running(kafka, SERVICE):
                yield
        finally:
            await outbox_relay.stop()
            await client.close()

    async def kafka_ready() -> None:
        if not await kafka.ping(timeout=2):
            raise ConnectionError("Kafka broker unreachable")

    app = create_service_app(
        service=SERVICE,
        title="Concilia demands",
        description="Member organisations submit welfare demands; demand events go to "
        "welfare.demands.v1 without personal data.",
        lifespan=lifespan,
        readiness=[
            ("mongodb", lambda: ping(client)),
            ("kafka", kafka_ready),
            ("outbox", outbox_relay.check),
        ],
        max_body_bytes=settings.max_body_bytes,
        bearer_secret=secret,
        write_rate_per_minute=settings.write_rate_per_minute,
    )
    install_record_handlers(app)
    app.include_router(demands_router(store, principal_dependency(secret)))
    app.include_router(requester_links_router(store, LinkSigner(secret)))
    app.state.store = store
    return app


def _default_relay(settings: Settings) -> RelayFactory:
    return lambda db: OutboxRelay(
        db, settings.kafka_bootstrap_servers, SERVICE, poll_seconds=settings.outbox_poll_seconds
    )
