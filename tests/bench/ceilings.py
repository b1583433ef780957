"""The ceilings the matcher is measured against, on the same broker, database and workload:

- pipe: a batched raw aiokafka pipe — getmany (≤ 1000) → decode + envelope validation →
  send without waiting → await the batch → one commit;
- persisted: the same plus ONE MongoDB transaction per batch writing one upserted state
  document and one outbox document per event — the least a consumer whose effects are
  persisted exactly once must do here.

Rates are events per second from the first batch done to the last (group joins aside)."""

import asyncio
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient, ReplaceOne

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.platform.mongo import Database, Document, Session


async def pipe(
    bootstrap: str,
    count: int,
    group: str,
    persist: tuple[AsyncMongoClient[Document], Database] | None,
) -> float:
    consumer = AIOKafkaConsumer(
        topics.OFFERS,
        topics.DEMANDS,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=2)
    await consumer.start()
    await producer.start()
    moved, first_done, first_batch = 0, 0.0, 0
    try:
        while moved < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            events = [CloudEvent.from_bytes(r.value) for r in records if r.value is not None]
            sends = [await producer.send(f"bench.{group}", r.value, key=r.key) for r in records]
            if persist is not None:
                await _persist(*persist, events)
            await asyncio.gather(*sends)
            await consumer.commit()
            moved += len(records)
            if not first_done:
                first_done, first_batch = time.perf_counter(), len(records)
        return (moved - first_batch) / (time.perf_counter() - first_done)
    finally:
        await producer.stop()
        await consumer.stop()


async def _persist(
    client: AsyncMongoClient[Document], db: Database, events: list[CloudEvent]
) -> None:
    now = datetime.now(UTC)
    states = [
        ReplaceOne(
            {"_id": e.subject}, {"_id": e.subject, "type": e.type, "data": e.data}, upsert=True
        )
        for e in events
    ]
    outbox = [{"topic": "bench", "key": e.subject, "value": e.data, "at": now} for e in events]

    async def work(session: Session) -> None:
        await db["state"].bulk_write(states, ordered=True, session=session)
        await db["outbox"].insert_many(outbox, session=session)

    async with client.start_session() as session:
        await session.with_transaction(work)
