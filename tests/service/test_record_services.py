"""What the offers and demands services share (concilia/platform/record_service.py), tested on
both against the real embedded MongoDB and Kafka: the outbox when Kafka is down, a start
without Kafka, readiness, and the bookkeeping that expires on its own."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from concilia.contract import topics
from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_kafka
from concilia.platform.kafka import ensure_topics
from concilia.platform.mongo import connect
from concilia.platform.outbox import OutboxRelay
from concilia.platform.settings import ServiceSettings
from services.demands.app import create_app as demands_app
from services.demands.settings import Settings as DemandsSettings
from services.offers.app import create_app as offers_app
from services.offers.settings import Settings as OffersSettings
from tests.conftest import bearer
from tests.support.factories import a_demand, an_offer
from tests.support.kafka import events_of
from tests.support.services import in_process_settings, serving
from tests.support.waiting import eventually

pytestmark = pytest.mark.service


@dataclass(frozen=True)
class RecordService:
    """One of the two record services, as a client sees it."""

    name: str
    settings: type[ServiceSettings]
    create_app: Callable[..., FastAPI]
    role: str
    body: Callable[[], dict[str, Any]]
    topic: str
    first_event: str

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"

    def settings_for(self, kafka: str, mongodb: str, secret: str, database: str) -> Any:
        return in_process_settings(self.settings, kafka, mongodb, secret, database)

    async def events(self, kafka: str, record_id: str) -> list[dict[str, Any]]:
        return [e for e in await events_of(kafka, self.topic) if e["subject"] == record_id]


SERVICES = [
    RecordService(
        "offers", OffersSettings, offers_app, "provider", an_offer, topics.OFFERS, "offer.published"
    ),
    RecordService(
        "demands",
        DemandsSettings,
        demands_app,
        "requester",
        a_demand,
        topics.DEMANDS,
        "demand.submitted",
    ),
]


@pytest.fixture(params=SERVICES, ids=lambda service: service.name)
def service(request: pytest.FixtureRequest) -> RecordService:
    chosen: RecordService = request.param
    return chosen


class TestWithoutKafka:
    async def test_a_record_accepted_while_kafka_is_down_is_published_later(
        self, service: RecordService, kafka: str, mongodb: str, jwt_secret: str, database_name: str
    ) -> None:
        """201 with the relay on a dead broker; a relay on the real broker publishes it later."""
        settings = service.settings_for(kafka, mongodb, jwt_secret, database_name)
        dead = f"127.0.0.1:{free_port()}"
        app = service.create_app(settings, relay=lambda db: OutboxRelay(db, dead, service.name))
        async with (
            serving(app, settings.port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            headers = bearer(f"dead-{uuid.uuid4().hex[:6]}", service.role)
            response = await http.post(service.path, json=service.body(), headers=headers)
            assert response.status_code == 201
        record_id = response.json()["id"]
        assert await service.events(kafka, record_id) == []
        client = connect(mongodb)
        relay = OutboxRelay(client[database_name], kafka, service.name, poll_seconds=0.2)
        await relay.start()
        try:
            published = await eventually(
                lambda: service.events(kafka, record_id), timeout=60, what="the late event"
            )
            assert published[0]["type"] == service.first_event
        finally:
            await relay.stop()
            await client.close()

    async def test_the_service_starts_without_kafka_and_catches_up_when_it_comes(
        self,
        service: RecordService,
        mongodb: str,
        jwt_secret: str,
        database_name: str,
        stack_home: Path,
    ) -> None:
        """Kafka down at start-up: the API takes writes (not ready), then publishes them."""
        port = free_port()
        bootstrap = f"127.0.0.1:{port}"
        settings = service.settings_for(bootstrap, mongodb, jwt_secret, database_name)
        async with (
            serving(service.create_app(settings), settings.port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            headers = bearer("early", service.role)
            response = await http.post(service.path, json=service.body(), headers=headers)
            assert response.status_code == 201
            assert (await http.get("/readyz")).status_code == 503
            broker = start_kafka(port, stack_home / "logs" / f"late-kafka-{port}")
            try:
                await ensure_topics(bootstrap)
                record_id = response.json()["id"]
                published = await eventually(
                    lambda: service.events(bootstrap, record_id), timeout=60, what="the late event"
                )
                assert [e["type"] for e in published] == [service.first_event]

                async def ready() -> bool:
                    return (await http.get("/readyz")).status_code == 200

                await eventually(ready, timeout=60, what="readiness once Kafka is up")
            finally:
                broker.stop()


class TestOperations:
    async def test_readiness_checks_mongodb_kafka_and_the_relay_and_the_books_expire(
        self,
        service: RecordService,
        kafka: str,
        mongodb: str,
        jwt_secret: str,
        database_name: str,
        mongo_client: Any,
    ) -> None:
        """/readyz is 200 with its three checks ok; idempotency keys (a day) and published
        outbox rows (a week) have TTL indexes."""
        settings = service.settings_for(kafka, mongodb, jwt_secret, database_name)
        async with (
            serving(service.create_app(settings), settings.port) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):

            async def ready() -> httpx.Response | None:
                response = await http.get("/readyz")
                return response if response.status_code == 200 else None

            response = await eventually(ready, timeout=30, what="readiness")
            assert response.json()["checks"] == {"mongodb": "ok", "kafka": "ok", "outbox": "ok"}
        db = mongo_client[database_name]
        keys = await db["idempotency_keys"].index_information()
        outbox = await db["outbox"].index_information()
        assert keys["created_ttl"]["expireAfterSeconds"] == 24 * 3600
        assert outbox["published_ttl"]["expireAfterSeconds"] == 7 * 24 * 3600
