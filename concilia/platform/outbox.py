"""Transactional outbox: an event is written in the same transaction as the state it
describes; a relay publishes it afterwards and marks it. A 2xx answer is never lost, even
if the broker is down when it is given: the relay keeps retrying until Kafka takes it."""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from bson import ObjectId

from concilia.platform.messages import OutgoingMessage
from concilia.platform.metrics import EVENTS_PUBLISHED, OUTBOX_OLDEST_AGE, OUTBOX_PENDING
from concilia.platform.mongo import Database, Session

__all__ = ["OUTBOX", "OutboxRelay", "OutgoingMessage", "add_to_outbox", "ensure_outbox_indexes"]

log = logging.getLogger("concilia.outbox")
OUTBOX = "outbox"


async def add_to_outbox(db: Database, session: Session, messages: list[OutgoingMessage]) -> None:
    """Stage messages inside the caller's transaction."""
    if not messages:
        return
    now = datetime.now(UTC)
    await db[OUTBOX].insert_many(
        [
            {
                "_id": ObjectId(),
                "topic": m.topic,
                "key": m.key,
                "type": m.event_type,
                "value": m.event.to_bytes() if m.event else None,
                "created_at": now,
                "published_at": None,
            }
            for m in messages
        ],
        session=session,
        ordered=True,
    )


# Published messages are kept a week for inspection, then MongoDB's TTL monitor drops them
# (pending ones have no published_at date and are never dropped).
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600


async def ensure_outbox_indexes(db: Database) -> None:
    await db[OUTBOX].create_index([("published_at", 1), ("_id", 1)])
    await db[OUTBOX].create_index(
        "published_at", name="published_ttl", expireAfterSeconds=PUBLISHED_RETENTION_SECONDS
    )


# CloudEvents Kafka protocol binding, structured mode: the value is the whole event.
STRUCTURED_CONTENT_TYPE = ("content-type", b"application/cloudevents+json")


def cloudevents_headers(value: bytes | None) -> list[tuple[str, bytes]]:
    """The Kafka headers of a message: the structured-mode content type for an event,
    none for a tombstone."""
    return [STRUCTURED_CONTENT_TYPE] if value is not None else []


class OutboxRelay:
    """Publishes staged messages in write order, then marks them published.

    Delivery is at least once: a crash between the broker's ack and the mark publishes a
    message again with the same CloudEvent id, which every consumer deduplicates."""

    def __init__(
        self,
        db: Database,
        bootstrap_servers: str,
        service: str,
        poll_seconds: float = 0.5,
        batch_size: int = 200,
    ) -> None:
        self._db = db
        self._bootstrap = bootstrap_servers
        self._service = service
        self._poll = poll_seconds
        self._batch = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self.last_error: str | None = None

    def notify(self) -> None:
        """Wake the relay now (called after a commit that staged messages)."""
        self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close_producer()

    async def pending(self) -> int:
        return await self._db[OUTBOX].count_documents({"published_at": None})

    async def _run(self) -> None:
        backoff = self._poll
        while True:
            try:
                published = await self.publish_pending()
                self.last_error = None
                backoff = self._poll
                if published:
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = repr(exc)
                log.warning("outbox relay failed, retrying", extra={"error": repr(exc)})
                await self._close_producer()
                backoff = min(backoff * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending messages; returns how many were published."""
        batch: list[dict[str, Any]] = (
            await self._db[OUTBOX]
            .find({"published_at": None})
            .sort("_id", 1)
            .limit(self._batch)
            .to_list()
        )
        await self._measure(batch)
        if not batch:
            return 0
        producer = await self._ensure_producer()
        futures = [
            await producer.send(
                doc["topic"],
                value=doc["value"],
                key=doc["key"].encode(),
                headers=cloudevents_headers(doc["value"]),
            )
            for doc in batch
        ]
        await asyncio.gather(*futures)
        await self._db[OUTBOX].update_many(
            {"_id": {"$in": [doc["_id"] for doc in batch]}},
            {"$set": {"published_at": datetime.now(UTC)}},
        )
        for doc in batch:
            EVENTS_PUBLISHED.labels(self._service, doc["topic"], doc["type"]).inc()
        return len(batch)

    async def _measure(self, batch: list[dict[str, Any]]) -> None:
        """Pending rows (all of them, not just this batch) and the age of the oldest."""
        pending = len(batch) if len(batch) < self._batch else await self.pending()
        OUTBOX_PENDING.labels(self._service).set(pending)
        oldest = (datetime.now(UTC) - batch[0]["created_at"]).total_seconds() if batch else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(0.0, oldest))

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=False,  # Tansu has no idempotent producer
                acks="all",
                client_id=f"{self._service}-outbox",
                linger_ms=2,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            with contextlib.suppress(Exception):
                await producer.stop()
