"""The matcher's composition root: Mongo client, broker, subscriber, outbox relay, and the
expiry sweep of answer windows (with an injectable clock)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from concilia.contract import topics
from concilia.contract.envelope import utcnow
from concilia.platform.batch_consumer import subscribe_batch
from concilia.platform.http import create_service_app
from concilia.platform.kafka import broker_running, ensure_topics, make_broker, reachable
from concilia.platform.mongo import Document, connect, ping
from concilia.platform.outbox import OutboxRelay, ensure_outbox_indexes
from services.matcher import store
from services.matcher.expiry import Clock, ExpirySweeper
from services.matcher.gauges import GaugeRefresher
from services.matcher.insight import insight_router
from services.matcher.settings import Settings
from services.matcher.subscribers import (
    CONSUMER,
    ClearCacheOnRebalance,
    MarketCache,
    MatchingHandler,
)

GROUP_ID = "concilia-matcher"


def create_app(
    settings: Settings,
    *,
    client: AsyncMongoClient[Document] | None = None,
    broker: KafkaBroker | None = None,
    relay: OutboxRelay | None = None,
    clock: Clock = utcnow,
) -> FastAPI:
    """The matcher app: /healthz, /readyz, /metrics, and the offers+demands subscriber."""
    client = client or connect(settings.mongodb_url)
    db = client[settings.database]
    broker = broker or make_broker(settings.kafka_bootstrap_servers, CONSUMER)
    relay = relay or OutboxRelay(
        db,
        settings.kafka_bootstrap_servers,
        CONSUMER,
        poll_seconds=settings.outbox_poll_seconds,
        # Each row holds a transaction's messages (up to CHUNK): a few rows are a batch,
        # and waiting for more commits to join one would only delay the decisions.
        batch_size=4,
        linger_seconds=0,
    )
    cache = MarketCache(
        db,
        timedelta(seconds=settings.match_answer_ttl_seconds),
        timedelta(seconds=settings.match_expiry_grace_seconds),
    )
    handler = MatchingHandler(client, db, relay, cache)
    sweeper = ExpirySweeper(
        handler,
        clock,
        every_seconds=settings.match_expiry_sweep_seconds,
        grace_seconds=settings.match_expiry_grace_seconds,
    )
    gauges = GaugeRefresher(cache)
    subscribe_batch(
        broker,
        topics.OFFERS,
        topics.DEMANDS,
        group_id=GROUP_ID,
        service=CONSUMER,
        prepare=handler.prepare,
        handle_batch=handler,
        # Up to 1,000 events per transaction: its fixed cost (round trips, commit, one outbox
        # row) is shared by more events when the matcher has fallen behind.
        max_records=1000,
        # Events fetched while a transaction commits are decided meanwhile (see _handle).
        drain=True,
        # Range keeps partition i of offers and of demands on one member (co-partitioning).
        partition_assignment_strategy=(RangePartitionAssignor,),
        **settings.consumer_options(),
        listener=ClearCacheOnRebalance(cache),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        await relay.start()
        gauges.start()
        try:
            async with broker_running(
                broker, CONSUMER, before=lambda: ensure_topics(settings.kafka_bootstrap_servers)
            ):
                sweeper.start()
                try:
                    yield
                finally:
                    await sweeper.stop()
        finally:
            await gauges.stop()
            await relay.stop()
            await client.close()

    app = create_service_app(
        service=CONSUMER,
        title="Concilia matcher",
        description="Pairs welfare offers and demands; publishes welfare.matches.v1.",
        lifespan=lifespan,
        readiness=[
            ("mongodb", lambda: ping(client)),
            ("kafka", reachable(broker)),
            ("outbox", relay.check),
        ],
        max_body_bytes=settings.max_body_bytes,
        bearer_secret=settings.auth_jwt_secret,
    )
    app.include_router(insight_router(db, settings.auth_jwt_secret, clock))
    return app
