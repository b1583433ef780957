"""Group commit: concurrent requests that each insert a new record share one transaction.

A transaction costs the database a few round trips whatever it holds, so while one batch
is being committed the requests that arrive queue up, and the next transaction takes them
all (no waiting when the service is idle: a lone request is a batch of one). Each request
is answered only after the transaction holding its record and outbox row committed, so
"2xx means it will reach its topic" holds as before. If a batch fails for a reason other
than an outage (a unique index refusing one member, say), every member is retried on its
own, so one request's error never becomes another's."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from concilia.platform.faults import is_outage

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 100  # records per transaction


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    # None: the batch failed; the member runs on its own.
    answer: "asyncio.Future[Result | None]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit(Generic[Item, Result]):
    """Runs `commit(items)` (one transaction, one result per item, in order) for whatever
    queued while the previous batch was committing; `alone(item)` when a batch failed."""

    def __init__(
        self,
        commit: Callable[[list[Item]], Awaitable[list[Result]]],
        alone: Callable[[Item], Awaitable[Result]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit = commit
        self._alone = alone
        self._max = max_batch
        self._queue: list[_Waiting[Item, Result]] = []
        self._committing: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        waiting: _Waiting[Item, Result] = _Waiting(item)
        self._queue.append(waiting)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._drain())
        # Shielded: a caller that goes away does not cancel the batch others wait on (and
        # the answer it no longer waits for is still retrieved, so nothing warns about it).
        waiting.answer.add_done_callback(_retrieve)
        result = await asyncio.shield(waiting.answer)
        return await self._alone(item) if result is None else result

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
            try:
                results = await self._commit([w.item for w in batch])
            except Exception as exc:
                for w in batch:
                    if len(batch) == 1 or is_outage(exc):
                        _settle(w, exception=exc)
                    else:
                        _settle(w, None)
                continue
            for w, result in zip(batch, results, strict=True):
                _settle(w, result)


def _settle(
    waiting: _Waiting[Item, Result],
    result: Result | None = None,
    exception: BaseException | None = None,
) -> None:
    if waiting.answer.done():
        return
    if exception is not None:
        waiting.answer.set_exception(exception)
    else:
        waiting.answer.set_result(result)


def _retrieve(answer: "asyncio.Future[Any]") -> None:
    if not answer.cancelled():
        answer.exception()
