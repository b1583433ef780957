"""The answer windows of proposals run out (README, lifecycle): a periodic sweep with an injectable
clock. A small grace lets an answer given just before the end, still in flight on its
topic, arrive first (the answer's own time then decides, which replays the same)."""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from concilia.platform.background import BackgroundTask
from services.matcher.metrics import EXPIRY_SWEEPS
from services.matcher.subscribers import MatchingHandler

log = logging.getLogger("concilia.matcher.expiry")

Clock = Callable[[], datetime]


class ExpirySweeper(BackgroundTask):
    """Every `every_seconds`, expire what ended before `clock() - grace_seconds`."""

    def __init__(
        self, handler: MatchingHandler, clock: Clock, every_seconds: float, grace_seconds: float
    ) -> None:
        super().__init__("matcher-expiry")
        self._handler = handler
        self._clock = clock
        self._every = every_seconds
        self._grace = timedelta(seconds=grace_seconds)

    async def sweep(self) -> int:
        """One sweep now; how many match decisions it made."""
        return await self._handler.expire_due(self._clock() - self._grace)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)  # the sweep period, not synchronisation
            try:
                decided = await self.sweep()
            except Exception:
                EXPIRY_SWEEPS.labels("failed").inc()
                log.warning("match expiry sweep failed, will retry", exc_info=True)
                continue
            EXPIRY_SWEEPS.labels("decided" if decided else "idle").inc()
            if decided:
                log.info("answer windows ended", extra={"decisions": decided})
