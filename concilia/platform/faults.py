"""Which failures are outages to wait out and which are poison, and the one retry policy the
single and batch consumers share (README, "Reliability": faults are waited out, never
dead-lettered)."""

import asyncio
import logging
import random
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

import aiosmtplib
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

log = logging.getLogger("concilia.consumer")

_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionFailure,  # AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError, ...
    ExecutionTimeout,
    WTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    TimeoutError,
)
_TRANSIENT_LABELS = ("TransientTransactionError", "RetryableWriteError", "NetworkError")


def is_outage(exc: BaseException) -> bool:
    """True when `exc` (or anything it was raised from) says a server was unreachable or
    slow: such a failure says nothing about the message and is retried for as long as it
    takes."""
    return any(_one_is_outage(e) for e in _chain(exc))


def _one_is_outage(exc: BaseException) -> bool:
    if isinstance(exc, _OUTAGES):
        return True
    if isinstance(exc, PyMongoError) and any(exc.has_error_label(x) for x in _TRANSIENT_LABELS):
        return True
    if isinstance(exc, KafkaError) and exc.retriable:
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 500


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with full jitter: attempt n waits a random time in
    [0, min(cap, base·2ⁿ)], so consumers that failed together do not retry together."""

    base_seconds: float = 0.2
    cap_seconds: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(attempt, 30))
        return random.uniform(0, ceiling)  # jitter, not cryptography


@dataclass
class Retries:
    """The retry state of one consumer, by message position (topic, partition, offset).

    An outage is waited out forever and never consumes the poison budget; any other error
    is retried until `max_attempts` failures, after which the message is poison."""

    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    _failures: dict[Hashable, int] = field(default_factory=dict)
    _outages: dict[Hashable, int] = field(default_factory=dict)

    async def again(self, position: Hashable, exc: BaseException) -> bool:
        """After a failure at `position`: wait the backoff and answer True (try again), or
        answer False at once when the poison budget is spent (dead-letter it)."""
        if is_outage(exc):
            attempt = self._outages.get(position, 0) + 1
            self._outages[position] = attempt
            delay = self.backoff.delay(attempt)
            log.warning(
                "infrastructure unavailable, waiting it out",
                extra={"attempt": attempt, "delay_s": round(delay, 2), "error": repr(exc)},
            )
        else:
            attempt = self._failures.get(position, 0) + 1
            if attempt >= self.max_attempts:
                self.done(position)
                return False
            self._failures[position] = attempt
            delay = self.backoff.delay(attempt)
            log.warning(
                "handler failed, retrying",
                extra={"attempt": attempt, "error": repr(exc)},
                exc_info=exc,
            )
        await asyncio.sleep(delay)  # backoff, not synchronisation
        return True

    def done(self, position: Hashable) -> None:
        self._failures.pop(position, None)
        self._outages.pop(position, None)
