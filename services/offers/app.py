"""The offers service's composition root: Mongo, outbox relay, Kafka consumer, expiry."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
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
from services.offers.expiry import run_expiry
from services.offers.links import provider_links_router
from services.offers.requesters import Requesters
from services.offers.routes import offers_router
from services.offers.settings import Settings
from services.offers.store import COLLECTION, OfferStore
from services.offers.subscribers import match_handler

SERVICE = "offers"
GROUP_ID = "concilia-offers"
RelayFactory = Callable[[Database], OutboxRelay]


def create_app(
    settings: Settings,
    *,
    relay: RelayFactory | None = None,
    broker: KafkaBroker | None = None,
    demands_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The offers API; `relay`, `broker` and `demands_http` (the client the demands API is
    asked through) replace the defaults (tests point them elsewhere)."""
    secret = settings.require_secret()
    http = demands_http or httpx.AsyncClient(timeout=5)
    requesters = Requesters(http, settings.demands_api_url, secret)
    client = connect(settings.mongodb_url)
    db = client[settings.database]
    outbox_relay = (relay or _default_relay(settings))(db)
    store = OfferStore(RecordStore(client, db, COLLECTION, outbox_relay, ("provider_ref",)))
    kafka = broker or make_broker(settings.kafka_bootstrap_servers, SERVICE)
    follow_match_states(kafka, settings, GROUP_ID, SERVICE, match_handler(store))

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.records.ensure_indexes()
        await ensure_outbox_indexes(db)
        await outbox_relay.start()
        expiry = asyncio.create_task(
            run_expiry(store, settings.offer_expiry_interval_seconds), name="offers-expiry"
        )
        try:
            async with broker_running(kafka, SERVICE):
                yield
        finally:
            expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expiry
            await outbox_relay.stop()
            await client.close()
            if demands_http is None:
                await http.aclose()

    async def kafka_ready() -> None:
        if not await kafka.ping(timeout=2):
            raise ConnectionError("Kafka broker unreachable")

    app = create_service_app(
        service=SERVICE,
        title="Concilia offers",
        description="Providers publish welfare offers; offer events go to welfare.offers.v1.",
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
    app.include_router(offers_router(store, principal_dependency(secret), requesters))
    app.include_router(provider_links_router(store, LinkSigner(secret)))
    app.state.store = store
    return app


def _default_relay(settings: Settings) -> RelayFactory:
    return lambda db: OutboxRelay(
        db, settings.kafka_bootstrap_servers, SERVICE, poll_seconds=settings.outbox_poll_seconds
    )
