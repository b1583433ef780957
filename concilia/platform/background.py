"""A chore a service runs beside its work while it is up (a periodic sweep or measure)."""

import asyncio
import contextlib


class BackgroundTask:
    """Runs `_run` as one asyncio task between start() and stop() (which cancels it and
    waits for it to end)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
