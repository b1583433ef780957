"""At-least-once consumption with a dead-letter topic.

Offsets are committed only after the handler's effect is durable (NACK_ON_ERROR: a failed
message is sought back and redelivered, in order). A message that can never be processed
(not a CloudEvent, unknown type, invalid data) goes to `<topic>.dlq` with the reason in
headers and the partition keeps flowing; so does one whose handler failed `max_attempts`
times. An outage (database, broker or SMTP unreachable) is not the message's fault: it is
waited out with capped, jittered backoff for as long as it takes (concilia.platform.faults)."""

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent
from concilia.platform.failpoints import failpoint
from concilia.platform.faults import Backoff, Retries, is_outage
from concilia.platform.metrics import EVENTS_CONSUMED
from concilia.platform.settings import ServiceSettings

log = logging.getLogger("concilia.consumer")


class Record(Protocol):
    """The parts of aiokafka's ConsumerRecord a handler may use."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp: int  # ms since the epoch: when it was produced (or appended), as Kafka says


Handler = Callable[[CloudEvent | None, Record], Awaitable[str | None]]


class PoisonMessage(Exception):
    """The message can never be processed; `reason` is a short machine code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def parse_event(value: bytes | None) -> CloudEvent | None:
    """The CloudEvent in a message value; None for a tombstone."""
    if value is None:
        return None
    try:
        return CloudEvent.from_bytes(value)
    except ValidationError as exc:
        raise PoisonMessage("invalid_envelope", summary(exc)) from exc


def summary(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )[:500]


DeadLetter = Callable[[Record, str, str], Awaitable[None]]


def dead_letterer(broker: KafkaBroker, group_id: str) -> DeadLetter:
    """Sends a record to `<topic>.dlq` unchanged, with the reason and origin in headers."""

    async def dead_letter(record: Record, reason: str, error: str) -> None:
        headers = {
            topics.DLQ_REASON_HEADER: reason,
            topics.DLQ_ERROR_HEADER: error[:1000],
            topics.DLQ_SOURCE_TOPIC_HEADER: record.topic,
            topics.DLQ_SOURCE_PARTITION_HEADER: str(record.partition),
            topics.DLQ_SOURCE_OFFSET_HEADER: str(record.offset),
            topics.DLQ_CONSUMER_HEADER: group_id,
        }
        await broker.publish(
            record.value or b"", topic=topics.dlq(record.topic), key=record.key, headers=headers
        )
        log.warning(
            "message dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "reason": reason},
        )

    return dead_letter


def subscribe(
    broker: KafkaBroker,
    *topic_names: str,
    group_id: str,
    service: str,
    handle: Handler,
    max_attempts: int = 5,
    backoff: Backoff | None = None,
    **subscriber_options: Any,
) -> None:
    """Register `handle` for `topic_names`. `handle` returns an outcome label for metrics
    ("processed", "duplicate", "ignored"); it raises PoisonMessage (or a pydantic
    ValidationError) for messages to dead-letter, an outage error to be waited out, anything
    else to be retried up to `max_attempts` times, then dead-lettered."""
    retries = Retries(max_attempts, backoff or Backoff())
    dead_letter = dead_letterer(broker, group_id)

    @broker.subscriber(
        *topic_names,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        **subscriber_options,
    )
    async def on_message(message: KafkaMessage) -> None:
        record: Record = message.raw_message  # type: ignore[assignment]  # one record, no batch
        position = (record.topic, record.partition, record.offset)
        event_type = "unknown"
        try:
            event = parse_event(record.value)
            event_type = event.type if event else "tombstone"
            outcome = await handle(event, record) or "processed"
        except PoisonMessage as exc:
            await dead_letter(record, exc.reason, exc.detail or str(exc))
            outcome = "dlq"
        except ValidationError as exc:
            await dead_letter(record, "invalid_data", summary(exc))
            outcome = "dlq"
        except Exception as exc:
            if await retries.again(position, exc):
                label = "waited" if is_outage(exc) else "retried"
                EVENTS_CONSUMED.labels(service, record.topic, event_type, label).inc()
                raise  # sought back and redelivered in order
            await dead_letter(record, "handler_failed", f"after {max_attempts} attempts: {exc!r}")
            outcome = "dlq"
        failpoint("consumer.after_effect")
        retries.done(position)
        EVENTS_CONSUMED.labels(service, record.topic, event_type, outcome).inc()


def dlq_topics(names: Sequence[str]) -> list[str]:
    return [topics.dlq(n) for n in names]


def follow_match_states(
    broker: KafkaBroker, settings: ServiceSettings, group_id: str, service: str, handle: Handler
) -> None:
    """The offers and demands services follow welfare.matches.v1 for the match states their
    records show (README: match lifecycle), with `handle` and the settings' consumer options."""
    subscribe(
        broker,
        topics.MATCHES,
        group_id=group_id,
        service=service,
        handle=handle,
        **settings.consumer_options(),
    )
