"""The composition the two record services share (offers, demands): MongoDB, the records
collection and the outbox relay that publishes its events, the consumer of the match
states their records show, and the app around routers of their own. Each service's
`create_app` names its collection, its routers and its chores; the rest is here once."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker

from concilia.platform.background import BackgroundTask
from concilia.platform.consumer import Handler, follow_match_states
from concilia.platform.http import create_service_app
from concilia.platform.kafka import broker_running, make_broker, reachable
from concilia.platform.mongo import Database, connect, ping
from concilia.platform.outbox import OutboxRelay, ensure_outbox_indexes
from concilia.platform.record_api import install_record_handlers
from concilia.platform.records import RecordStore
from concilia.platform.settings import ServiceSettings

RelayFactory = Callable[[Database], OutboxRelay]


class RecordService:
    """A record service's collaborators, built from its settings. `relay` and `broker`
    replace the defaults (tests point them at a dead or another broker)."""

    def __init__(
        self,
        settings: ServiceSettings,
        collection: str,
        personal_refs: tuple[str, ...],
        *,
        relay: RelayFactory | None = None,
        broker: KafkaBroker | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.secret = settings.require_secret()  # fails fast, before anything is built
        self.client = connect(settings.mongodb_url)
        self.db = self.client[settings.database]
        self.relay = (relay or self._default_relay)(self.db)
        self.records = RecordStore(self.client, self.db, collection, self.relay, personal_refs)
        self.kafka = broker or make_broker(settings.kafka_bootstrap_servers, self.name)

    def _default_relay(self, db: Database) -> OutboxRelay:
        return OutboxRelay(
            db,
            self.settings.kafka_bootstrap_servers,
            self.name,
            poll_seconds=self.settings.outbox_poll_seconds,
        )

    def follow_match_states(self, group_id: str, handle: Handler) -> None:
        """Consume welfare.matches.v1 in `group_id` with `handle` (README: match lifecycle)."""
        follow_match_states(self.kafka, self.settings, group_id, self.name, handle)

    def app(
        self,
        *,
        title: str,
        description: str,
        routers: Sequence[APIRouter],
        chores: Sequence[BackgroundTask] = (),
        closing: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> FastAPI:
        """The service's app: ops endpoints, record errors as problem JSON, `routers`; its
        lifespan runs the relay, the consumer and `chores`, then calls `closing`."""

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.records.ensure_indexes()
            await ensure_outbox_indexes(self.db)
            await self.relay.start()
            for chore in chores:
                chore.start()
            try:
                async with broker_running(self.kafka, self.name):
                    yield
            finally:
                for chore in chores:
                    await chore.stop()
                await self.relay.stop()
                for close in closing:
                    await close()
                await self.client.close()

        app = create_service_app(
            service=self.name,
            title=title,
            description=description,
            lifespan=lifespan,
            readiness=[
                ("mongodb", lambda: ping(self.client)),
                ("kafka", reachable(self.kafka)),
                ("outbox", self.relay.check),
            ],
            max_body_bytes=self.settings.max_body_bytes,
            bearer_secret=self.secret,
            write_rate_per_minute=self.settings.write_rate_per_minute,
        )
        install_record_handlers(app)
        for router in routers:
            app.include_router(router)
        return app
