"""At-least-once consumption in batches, for handlers whose cost is per transaction.

Each record is first checked on its own (`prepare`: not a CloudEvent, unknown type or
invalid data → `<topic>.dlq`, the batch goes on); the rest is handled in ONE call
(`handle_batch`, typically one database transaction). Offsets are committed after it
succeeds; if it fails the whole batch is sought back and redelivered. Retries follow the
one policy of concilia.platform.faults: an outage is waited out with backoff for as long as
it takes and never counts; after `max_attempts` other failures the batch is replayed one
record at a time (each retried in place by the same policy) so that only a record that
fails on its own is dead-lettered.
The handler must be idempotent: a redelivered batch may hold records already handled.
A poison record may be dead-lettered again when its batch is redelivered.

With `drain=True` the handler also gets `more`: records fetched since its batch, prepared
the same way, taken while its last transaction commits, so that deciding the next records
overlaps writing the last ones. They belong to the same call: acknowledged with it, or, if
it fails, sought back with it and redelivered."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from concilia.platform.consumer import (
    DeadLetter,
    PoisonMessage,
    Record,
    dead_letterer,
    parse_event,
    summary,
)
from concilia.platform.failpoints import failpoint
from concilia.platform.faults import Backoff, Retries, is_outage
from concilia.platform.metrics import EVENTS_CONSUMED

log = logging.getLogger("concilia.consumer")

BATCH_POLL_MS = 10
T = TypeVar("T")
Prepare = Callable[[Any, Record], T]  # (CloudEvent | None, record) -> item, or raises
More = Callable[[], Awaitable[list[T]]]  # records fetched since, prepared; [] if none yet


class BatchHandler(Protocol[T]):
    """Handles items and returns one outcome label per item: the batch's, then those of
    each `more()` in turn (only passed with `drain=True`)."""

    def __call__(
        self, items: Sequence[T], /, more: More[T] | None = None
    ) -> Awaitable[Sequence[str]]: ...


Ready = tuple[Record, str, T]  # a record, its event type, its prepared item


def subscribe_batch(
    broker: KafkaBroker,
    *topic_names: str,
    group_id: str,
    service: str,
    prepare: Prepare[T],
    handle_batch: BatchHandler[T],
    max_records: int = 200,
    max_attempts: int = 5,
    backoff: Backoff | None = None,
    drain: bool = False,
    **subscriber_options: Any,
) -> None:
    """Register a batch handler for `topic_names` (see the module docstring)."""
    batches = BatchConsumer(
        dead_letterer(broker, group_id),
        service,
        prepare,
        handle_batch,
        max_records=max_records,
        retries=Retries(max_attempts, backoff or Backoff()),
        drain=drain,
    )

    @broker.subscriber(
        *topic_names,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        # FastStream sleeps this long again after a poll that found nothing (on top of the
        # poll itself): its default, 200 ms, was up to 400 ms added to an idle matcher's
        # first decision.
        batch_timeout_ms=BATCH_POLL_MS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        **subscriber_options,
    )
    async def on_batch(message: KafkaMessage) -> None:
        raw = message.raw_message
        records: Sequence[Record] = raw if isinstance(raw, tuple) else (raw,)  # type: ignore[assignment]
        await batches.consume(records, message.consumer)


class BatchConsumer(Generic[T]):
    """What happens to one fetched batch: prepare each record, handle the rest in one call,
    then count the outcomes; on failure retry, replay one by one or dead-letter."""

    def __init__(
        self,
        dead_letter: DeadLetter,
        service: str,
        prepare: Prepare[T],
        handle_batch: BatchHandler[T],
        *,
        max_records: int,
        retries: Retries,
        drain: bool,
    ) -> None:
        self._dead_letter = dead_letter
        self._service = service
        self._prepare = prepare
        self._handle = handle_batch
        self.max_records = max_records
        self._retries = retries
        self._drain = drain

    async def consume(self, records: Sequence[Record], consumer: Any) -> None:
        """Handle `records`; raises to have the whole batch sought back and redelivered."""
        ready = await self.prepared(records) if records else []
        if not ready:
            return
        first = records[0]
        position = (first.topic, first.partition, first.offset)
        drained = Drained(self, consumer)
        items = [item for _, _, item in ready]
        try:
            outcomes = await (
                self._handle(items, more=drained.more) if self._drain else self._handle(items)
            )
        except Exception as exc:
            seek_back(consumer, drained.records)  # and FastStream's nack seeks back the batch
            if await self._retries.again(position, exc):
                label = "waited" if is_outage(exc) else "retried"
                for record, event_type, _ in [*ready, *drained.ready]:
                    self._count(record, event_type, label)
                raise
            await self._one_by_one(ready)
            return
        failpoint("consumer.after_effect")
        self._retries.done(position)
        for (record, event_type, _), outcome in zip(
            [*ready, *drained.ready], outcomes, strict=True
        ):
            self._count(record, event_type, outcome)

    async def prepared(self, records: Sequence[Record]) -> list[Ready[T]]:
        """The records that pass their own checks; the others are dead-lettered."""
        ready: list[Ready[T]] = []
        for record in records:
            event_type = "unknown"
            try:
                event = parse_event(record.value)
                event_type = event.type if event else "tombstone"
                ready.append((record, event_type, self._prepare(event, record)))
            except PoisonMessage as exc:
                await self._dead_letter(record, exc.reason, exc.detail or str(exc))
                self._count(record, event_type, "dlq")
            except ValidationError as exc:
                await self._dead_letter(record, "invalid_data", summary(exc))
                self._count(record, event_type, "dlq")
        return ready

    async def _one_by_one(self, ready: list[Ready[T]]) -> None:
        """After the batch failed `max_attempts` times: each record on its own, so that only
        one that fails alone is dead-lettered."""
        for record, event_type, item in ready:
            try:
                outcome = await self._alone(record, item)
            except Exception as exc:
                attempts = self._retries.max_attempts
                await self._dead_letter(
                    record, "handler_failed", f"after {attempts} attempts: {exc!r}"
                )
                outcome = "dlq"
            self._count(record, event_type, outcome)

    async def _alone(self, record: Record, item: T) -> str:
        """One record on its own, retried in place by the shared policy."""
        position = ("alone", record.topic, record.partition, record.offset)
        while True:
            try:
                [outcome] = await self._handle([item])
            except Exception as exc:
                if not await self._retries.again(position, exc):
                    raise
                continue
            self._retries.done(position)
            return outcome

    def _count(self, record: Record, event_type: str, outcome: str) -> None:
        EVENTS_CONSUMED.labels(self._service, record.topic, event_type, outcome).inc()


class Drained(Generic[T]):
    """What a draining handler took with `more()` beyond its batch: the records (sought
    back if the call fails) and their prepared items (acknowledged with the call)."""

    def __init__(self, batches: BatchConsumer[T], consumer: Any) -> None:
        self._batches = batches
        self._consumer = consumer
        self.records: list[Record] = []
        self.ready: list[Ready[T]] = []

    async def more(self) -> list[T]:
        """The records fetched since, prepared; [] if none yet."""
        getmany = getattr(self._consumer, "getmany", None)  # none in FastStream's test client
        if getmany is None:
            return []
        found = await getmany(timeout_ms=0, max_records=self._batches.max_records)
        records = [record for part in found.values() for record in part]
        self.records.extend(records)
        got = await self._batches.prepared(records)
        self.ready.extend(got)
        return [item for _, _, item in got]


def seek_back(consumer: Any, records: Sequence[Record]) -> None:
    """Rewind each partition to the earliest of `records`, which will be fetched again."""
    earliest: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
    for tp, offset in earliest.items():
        consumer.seek(tp, offset)
