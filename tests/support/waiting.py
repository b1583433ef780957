"""Wait on a condition with a deadline; never sleep as synchronisation."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call `probe` until it returns a truthy value, then return it; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        result = probe()
        last = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)
