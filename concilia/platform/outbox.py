"""Transactional outbox: an event is written in the same transaction as the state it
describes; a relay publishes it afterwards and marks it. A 2xx answer is never lost, even
if the broker is down when it is given: the relay keeps retrying until Kafka takes it.

Several instances are safe: the outbox of a database is published by one relay at a time,
the holder of a lease (`outbox_lease`) it keeps renewing; another takes over when a holder
stops renewing. (Claiming rows per instance instead would split one aggregate's
events across relays and lose their order.) Each row names its aggregate and, for records,
the record's version: the relay publishes an aggregate's rows in version order, which is
commit order (changes of one record conflict), even when the `_id`s, made by several
processes, are not. A record's change stages its messages (the record's event, its
contact) in one row, published in order and marked together. A consumer that commits many
events per transaction stages them as ONE batch row (`add_batch_to_outbox`): in SecantusDB
the insert and the mark of a row, with their index entries, cost far more than the message
itself. A row is done once Kafka took all its messages; after a refusal only the messages
not yet taken are sent again. A row Kafka refuses for good (too large, malformed) is parked
after `max_attempts` attempts, counted in concilia_outbox_parked_total, and no longer
blocks the rows behind it; an outage (broker unreachable) is retried forever and never
parks. Few round trips under load: a relay woken by a commit lingers `linger_seconds` so
the commits of that moment share one batch (one read, one mark), and the lease is renewed
once half of it has passed, not every batch. A process that stages batch rows hands each
committed row to its relay (`committed`): while the outbox holds nothing else, the lease
holder publishes it from memory and only marks it; the outbox is still read every
`poll_seconds` (rows of other instances) and after any failure."""

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    PolicyViolationError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
)
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from concilia.platform.failpoints import failpoint
from concilia.platform.faults import is_outage
from concilia.platform.kafka import ensure_topics
from concilia.platform.messages import OutgoingMessage
from concilia.platform.metrics import (
    EVENTS_PUBLISHED,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PARKED,
    OUTBOX_PENDING,
)
from concilia.platform.mongo import Database, Session

__all__ = [
    "OUTBOX",
    "OutboxRelay",
    "OutgoingMessage",
    "add_batch_to_outbox",
    "add_rows_to_outbox",
    "add_to_outbox",
    "batch_row",
    "ensure_outbox_indexes",
    "record_row",
]

log = logging.getLogger("concilia.outbox")
OUTBOX = "outbox"
OUTBOX_LEASE = "outbox_lease"
PENDING = {"published_at": None, "parked_at": None}


async def add_to_outbox(
    db: Database,
    session: Session,
    messages: list[OutgoingMessage],
    version: int | None = None,
    *,
    record_id: str | None = None,
) -> None:
    """Stage messages inside the caller's transaction; `version` is the version of the
    record the transaction writes (the relay keeps one aggregate's events in that order).
    A record's change (`record_id` given) stages all its messages in one row, published and
    marked together: one document to write and one to mark instead of one per message."""
    if not messages:
        return
    now = datetime.now(UTC)
    if record_id is not None:
        await db[OUTBOX].insert_one(record_row(messages, version, record_id, now), session=session)
        return
    rows = [_entry(m) for m in messages]
    await db[OUTBOX].insert_many(
        [
            {
                "_id": ObjectId(),
                **row,
                "aggregate": m.event.subject if m.event and m.event.subject else m.key,
                "version": version,
                "attempts": 0,
                "created_at": now,
                "published_at": None,
            }
            for m, row in zip(messages, rows, strict=True)
        ],
        session=session,
        ordered=True,
    )


async def add_batch_to_outbox(
    db: Database, session: Session, messages: list[OutgoingMessage]
) -> None:
    """Stage messages inside the caller's transaction as one batch row, published in order
    (for a consumer whose messages are ordered by its transactions, not by record versions)."""
    if messages:
        await db[OUTBOX].insert_one(batch_row(messages), session=session)


def batch_row(messages: list[OutgoingMessage]) -> dict[str, Any]:
    """The one row of a transaction's messages (see `add_batch_to_outbox`). Made before
    the transaction, it keeps its id if the transaction is run again, and can be handed to
    the relay once committed (`OutboxRelay.committed`)."""
    row_id = ObjectId()
    return {
        "_id": row_id,
        "type": "batch",
        "messages": [_entry(m) for m in messages],
        "taken": [],  # indexes of the messages Kafka took (after a partial refusal)
        "aggregate": f"batch:{row_id}",
        "version": None,
        "attempts": 0,
        "created_at": datetime.now(UTC),
        "published_at": None,
    }


def _to_send(row: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The messages of a row still to send, by index: the row itself, or those of a batch
    row Kafka has not taken yet."""
    if "messages" not in row:
        return [(0, row)]
    taken = set(row.get("taken") or ())
    return [(n, m) for n, m in enumerate(row["messages"]) if n not in taken]


async def add_rows_to_outbox(db: Database, session: Session, rows: list[dict[str, Any]]) -> None:
    """Stage rows made by `record_row` (several records' changes) in one write."""
    if rows:
        await db[OUTBOX].insert_many(rows, session=session, ordered=True)


def record_row(
    messages: list[OutgoingMessage], version: int | None, record_id: str, now: datetime
) -> dict[str, Any]:
    """The one outbox row of a record's change: all its messages, published in order."""
    return {
        "_id": ObjectId(),
        "messages": [_entry(m) for m in messages],
        "aggregate": record_id,
        "version": version,
        "attempts": 0,
        "created_at": now,
        "published_at": None,
    }


def _entry(message: OutgoingMessage) -> dict[str, Any]:
    """What the relay needs to publish one message."""
    return {
        "topic": message.topic,
        "key": message.key,
        "type": message.event_type,
        "value": message.event.to_bytes() if message.event else None,
    }


def messages_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages an outbox row holds: its `messages` (a record's change), else the row
    itself (one message, as every row was before rows held several)."""
    held: list[dict[str, Any]] | None = row.get("messages")
    return held if held is not None else [row]


# Published messages are kept a week for inspection, then MongoDB's TTL monitor drops them
# (pending ones have no published_at date and are never dropped).
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600


async def ensure_outbox_indexes(db: Database) -> None:
    # The relay's query names both fields of PENDING: an index on exactly those lets the
    # database look the pending rows up instead of scanning a week of published ones. Its
    # look-up of an aggregate's later rows filters those pending rows too: an index of its
    # own cost every insert 0.4 ms of SecantusDB's CPU (measured) and saved nothing.
    await db[OUTBOX].create_index([("published_at", 1), ("parked_at", 1), ("_id", 1)])
    await db[OUTBOX].create_index(
        "published_at", name="published_ttl", expireAfterSeconds=PUBLISHED_RETENTION_SECONDS
    )


# CloudEvents Kafka protocol binding, structured mode: the value is the whole event.
STRUCTURED_CONTENT_TYPE = ("content-type", b"application/cloudevents+json")


# What Kafka answers about a message itself, for good: retrying it will never help, so its
# row is parked after `max_attempts`. Any other Kafka error (UNKNOWN_SERVER_ERROR, a broker
# not available...) says nothing about the row and is waited out like an outage: parking a
# row for a passing broker error would lose its events.
REFUSALS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    PolicyViolationError,
)


def is_refusal(exc: BaseException) -> bool:
    """Kafka refuses this message for good, or the row itself is malformed (not a Kafka
    error at all: a value or key the producer cannot take)."""
    return isinstance(exc, REFUSALS) or not (isinstance(exc, KafkaError) or is_outage(exc))


def _as_future(sent: Any) -> "asyncio.Future[Any]":
    """A send's future as it is, or a refused send (an exception) as a future failed with it.
    Gathered as futures, not coroutines: a coroutine per message would be a task each."""
    if isinstance(sent, BaseException):
        failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        failed.set_exception(sent)
        return failed
    return cast("asyncio.Future[Any]", sent)


def in_commit_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` in `_id` order, except that each aggregate's versioned rows fill the places its
    rows hold in version order (commit order when several processes wrote them)."""
    places: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row.get("version") is not None:
            places.setdefault(row["aggregate"], []).append(i)
    ordered = list(rows)
    for indexes in places.values():
        mine = sorted((rows[i] for i in indexes), key=lambda r: (r["version"], r["_id"]))
        for i, row in zip(indexes, mine, strict=True):
            ordered[i] = row
    return ordered


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
        lease_seconds: float = 10.0,
        max_attempts: int = 10,
        linger_seconds: float = 0.02,
    ) -> None:
        self._db = db
        self._bootstrap = bootstrap_servers
        self._service = service
        self._poll = poll_seconds
        self._batch = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lease = lease_seconds
        self._max_attempts = max_attempts
        self.relay_id = f"{service}-{uuid.uuid4().hex[:12]}"
        OUTBOX_PARKED.labels(service)  # exported at 0, so an alert sees the first one
        self.last_error: str | None = None
        self._failing_since: float | None = None
        self._held_until = 0.0  # time.monotonic() until which this relay holds the lease
        self._linger = linger_seconds
        self._backlog = False  # the last batch was full
        # Rows this process committed and handed over, in commit order; they are published
        # from here, not read back, while the outbox holds nothing else (`_caught_up`).
        self._handed: list[dict[str, Any]] = []
        self._caught_up = False
        self._read_at = 0.0  # time.monotonic() of the last read of the outbox
        self._read_ids: deque[ObjectId] = deque(maxlen=1024)  # rows those reads published

    def notify(self) -> None:
        """Wake the relay now (called after a commit that staged messages)."""
        self._wake.set()

    def committed(self, row: dict[str, Any]) -> None:
        """Wake the relay for a row this process has just committed, handing it over: the
        holder of the lease publishes it without reading it back (a read of the outbox per
        transaction was an eighth of the matcher's database time). A relay that does not
        hold the lease drops it: the holder reads it from the outbox."""
        self._handed.append(row)
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
        return await self._db[OUTBOX].count_documents(PENDING)

    async def check(self) -> None:
        """For /readyz: the relay runs and has not been failing for longer than a lease."""
        if self._task is None or self._task.done():
            raise RuntimeError("the outbox relay is not running")
        since = self._failing_since
        if since is not None and time.monotonic() - since > max(self._lease, 30.0):
            raise RuntimeError(f"the outbox relay keeps failing: {self.last_error}")

    async def holds_lease(self) -> bool:
        """Take or renew the lease on this database's outbox; False while another holds it.
        A lease with more than half its time left is not renewed (one write less per batch)."""
        if time.monotonic() < self._held_until - self._lease / 2:
            return True
        started = time.monotonic()
        now = datetime.now(UTC)
        self._held_until = 0.0
        try:
            held = await self._db[OUTBOX_LEASE].find_one_and_update(
                {"_id": "relay", "$or": [{"holder": self.relay_id}, {"until": {"$lt": now}}]},
                {"$set": {"holder": self.relay_id, "until": now + timedelta(seconds=self._lease)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # another relay's lease is live
            return False
        self._held_until = started + self._lease if held is not None else 0.0
        return held is not None

    async def _run(self) -> None:
        backoff = self._poll
        while True:
            try:
                published = await self.publish_pending()
                self.last_error = None
                self._failing_since = None
                backoff = self._poll
                if published and self._backlog:  # a full batch went out: more are waiting
                    continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._caught_up = False  # what failed is read again from the outbox
                self._handed.clear()
                self.last_error = repr(exc)
                self._failing_since = self._failing_since or time.monotonic()
                log.warning("outbox relay failed, retrying", extra={"error": repr(exc)})
                await self._close_producer()
                backoff = min(backoff * 2, 10.0)
                # Commits go on waking the relay during an outage: the backoff is waited out
                # all the same, or each commit would set up a connection to a broker that is
                # not there.
                await asyncio.sleep(backoff)
                self._wake.clear()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
                # Woken by a commit: the commits of the next moment join its batch, so a
                # busy service publishes and marks many rows per round trip, not one.
                await asyncio.sleep(self._linger)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows if this relay holds the lease; returns how many
        messages Kafka took."""
        self._backlog = False
        if not await self.holds_lease():
            self._handed.clear()
            self._caught_up = False
            return 0
        batch = self._take_handed() if self._reads_from_memory() else await self._read()
        await self._measure(batch)
        if not batch:
            return 0
        producer = await self._ensure_producer()
        sent: list[tuple[int, int, dict[str, Any], Any]] = []  # row, index, message, future
        for row, doc in enumerate(batch):
            for n, message in _to_send(doc):
                try:
                    future = await producer.send(
                        message["topic"],
                        value=message["value"],
                        key=message["key"].encode(),
                        headers=cloudevents_headers(message["value"]),
                    )
                except Exception as exc:  # refused before sending: too large, bad row
                    if not is_refusal(exc):
                        raise
                    future = exc
                sent.append((row, n, message, future))
        results = await asyncio.gather(*(_as_future(s[3]) for s in sent), return_exceptions=True)
        taken: dict[int, list[int]] = {}
        refused: dict[int, list[BaseException]] = {}
        for (row, n, message, _), result in zip(sent, results, strict=True):
            if isinstance(result, BaseException):
                refused.setdefault(row, []).append(result)
            else:  # Kafka's RecordMetadata: taken
                taken.setdefault(row, []).append(n)
                EVENTS_PUBLISHED.labels(self._service, message["topic"], message["type"]).inc()
        done = [doc for row, doc in enumerate(batch) if row not in refused]
        if done:
            failpoint("outbox.after_publish")
            await self._db[OUTBOX].update_many(
                {"_id": {"$in": [doc["_id"] for doc in done]}},
                {"$set": {"published_at": datetime.now(UTC)}},
            )
        if refused:
            self._caught_up = False  # the refused rows are read again, before later ones
        outage = next((e for errors in refused.values() for e in errors if not is_refusal(e)), None)
        if outage is not None:
            raise outage
        for row, errors in refused.items():
            await self._failed(batch[row], errors[0], taken.get(row, []))
        return sum(len(indexes) for indexes in taken.values())

    def _reads_from_memory(self) -> bool:
        """Rows handed over, and nothing else pending as of the last read of the outbox,
        which is not older than the poll interval (other instances' rows are read then)."""
        fresh = time.monotonic() - self._read_at < self._poll
        return bool(self._handed) and self._caught_up and fresh

    def _take_handed(self) -> list[dict[str, Any]]:
        taken, self._handed = self._handed[: self._batch], self._handed[self._batch :]
        self._backlog = bool(self._handed)
        return [row for row in taken if row["_id"] not in self._read_ids]

    async def _read(self) -> list[dict[str, Any]]:
        """The next batch read from the outbox. Rows handed over and committed before the
        read are in it (or in a later read): those are no longer published from memory."""
        self._caught_up = False  # until a read finds less than a batch
        self._read_at = time.monotonic()
        handed = len(self._handed)
        batch = await self._next_batch()
        self._backlog = len(batch) >= self._batch
        self._caught_up = not self._backlog
        read = {row["_id"] for row in batch}
        self._read_ids.extend(read)
        # Rows handed during the read may be in it too; those handed before are.
        self._handed = [
            row for n, row in enumerate(self._handed) if n >= handed and row["_id"] not in read
        ]
        return batch

    async def _next_batch(self) -> list[dict[str, Any]]:
        """The oldest pending rows, each aggregate's rows in version (commit) order, with
        any earlier-version row of a batch's aggregate that sorts after the batch."""
        rows: list[dict[str, Any]] = (
            await self._db[OUTBOX].find(PENDING).sort("_id", 1).limit(self._batch).to_list()
        )
        versioned = {r["aggregate"] for r in rows if r.get("version") is not None}
        if versioned and len(rows) == self._batch:
            rows += (
                await self._db[OUTBOX]
                .find(
                    {
                        **PENDING,
                        "aggregate": {"$in": list(versioned)},
                        "_id": {"$gt": rows[-1]["_id"]},
                    }
                )
                .sort("_id", 1)
                .limit(self._batch)
                .to_list()
            )
        return in_commit_order(rows)

    async def _failed(self, doc: dict[str, Any], error: BaseException, taken: list[int]) -> None:
        attempts = int(doc.get("attempts") or 0) + 1
        update: dict[str, Any] = {"attempts": attempts, "last_error": repr(error)[:500]}
        if "messages" in doc:  # a batch row: the messages Kafka took are not sent again
            update["taken"] = sorted({*(doc.get("taken") or ()), *taken})
        if attempts >= self._max_attempts:
            update["parked_at"] = datetime.now(UTC)
            OUTBOX_PARKED.labels(self._service).inc()
            log.error(
                "outbox row parked: Kafka refuses it",
                extra={
                    "row": str(doc["_id"]),
                    "topic": ",".join(m["topic"] for m in messages_of(doc)),
                    "error": repr(error),
                },
            )
        await self._db[OUTBOX].update_one({"_id": doc["_id"]}, {"$set": update})

    async def _measure(self, batch: list[dict[str, Any]]) -> None:
        """Pending rows (all of them, not just this batch) and the age of the oldest."""
        pending = len(batch) if len(batch) < self._batch else await self.pending()
        OUTBOX_PENDING.labels(self._service).set(pending)
        oldest = (datetime.now(UTC) - batch[0]["created_at"]).total_seconds() if batch else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(0.0, oldest))

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            # Create the topics first: producing to a missing topic lets the broker create it
            # with its own partition count, which would break co-partitioning.
            await ensure_topics(self._bootstrap)
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
