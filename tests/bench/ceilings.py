"""The ceilings the matcher is measured against, on the same broker, database and workload:

- pipe: a batched raw aiokafka pipe — getmany (≤ 1000) → decode + envelope validation →
  send without waiting → await the batch → one commit;
- persisted: the same plus ONE MongoDB transaction per batch writing one upserted state
  document and one outbox document per event — the least a consumer whose effects are
  persisted exactly once must do here.

Rates are events per second from the first batch done to the last (group joins aside).

`persisted_latency` runs the persisted ceiling live under the paced load the matcher gets
(on topics of its own, same partitions): from each demand's publication to the commit of
its batch. It is the least latency anything persisting its effects gets here."""

import asyncio
import time
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient, ReplaceOne

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.embedded.servers import TANSU_FETCH_MAX_WAIT_MS
from concilia.platform.kafka import DEFAULT_PARTITIONS
from concilia.platform.mongo import Database, Document, Session
from tests.bench.workload import Message, paced

Persist = tuple[AsyncMongoClient[Document], Database]
PACED_TOPICS = {topics.OFFERS: "bench.paced.offers", topics.DEMANDS: "bench.paced.demands"}


async def pipe(
    bootstrap: str,
    count: int,
    group: str,
    persist: Persist | None,
    *,
    read: tuple[str, ...] = (topics.OFFERS, topics.DEMANDS),
    committed: dict[str, int] | None = None,
    ready: asyncio.Event | None = None,
) -> float:
    """Move `count` events from `read`; events per second. `committed` (if given) gets,
    per event read, when its batch was done (ms); `ready` is set once partitions are
    assigned."""
    consumer = AIOKafkaConsumer(
        *read,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        fetch_max_wait_ms=TANSU_FETCH_MAX_WAIT_MS,  # what the matcher gets from the stack
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=2)
    await consumer.start()
    await producer.start()
    moved, first_done, first_batch = 0, 0.0, 0
    try:
        while moved < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            if ready is not None and consumer.assignment():
                ready.set()
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            events = [CloudEvent.from_bytes(r.value) for r in records if r.value is not None]
            sends = [await producer.send(f"bench.{group}", r.value, key=r.key) for r in records]
            if persist is not None:
                await _persist(*persist, events)
            await asyncio.gather(*sends)
            await consumer.commit()
            if committed is not None:
                done = int(time.time() * 1000)
                for event in events:
                    committed[event.subject] = done
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


async def persisted_latency(
    bootstrap: str, persist: Persist, load: list[Message], rate: int
) -> list[int]:
    """The persisted ceiling under `load` published at `rate` per second (on PACED_TOPICS):
    for each demand, ms from its publication to its batch's commit."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, DEFAULT_PARTITIONS, 1) for name in PACED_TOPICS.values()]
        )
    finally:
        await admin.close()
    committed: dict[str, int] = {}
    ready = asyncio.Event()
    live = asyncio.create_task(
        pipe(
            bootstrap,
            len(load),
            "paced",
            persist,
            read=tuple(PACED_TOPICS.values()),
            committed=committed,
            ready=ready,
        )
    )
    await asyncio.wait_for(ready.wait(), timeout=120)  # the group joined: pace from now
    renamed = [(PACED_TOPICS[topic], value, key) for topic, value, key in load]
    published = await paced(bootstrap, renamed, rate, demands_topic=PACED_TOPICS[topics.DEMANDS])
    await asyncio.wait_for(live, timeout=600)
    return sorted(committed[d] - at for d, at in published.items())
