"""Offers past their valid_until leave the market: a periodic sweep, callable directly."""

import asyncio
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from concilia.platform.background import BackgroundTask
from services.offers.store import OfferStore

ROME = ZoneInfo("Europe/Rome")
log = logging.getLogger("concilia.offers.expiry")


def today_in_rome() -> date:
    """Validity dates are local to the network: a day ends at midnight in Milan."""
    return datetime.now(ROME).date()


async def expire_offers(store: OfferStore, today: date | None = None) -> int:
    """Expire every open or full offer whose valid_until is before `today`; how many."""
    return await store.expire_due(today or today_in_rome())


class OfferExpiry(BackgroundTask):
    """Sweeps when the service starts and every `interval_seconds` while it is up; a
    failed sweep is retried at the next."""

    def __init__(self, store: OfferStore, interval_seconds: float) -> None:
        super().__init__("offers-expiry")
        self._store = store
        self._interval = interval_seconds

    async def _run(self) -> None:
        while True:
            try:
                expired = await expire_offers(self._store)
                if expired:
                    log.info("offers expired", extra={"count": expired})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("offer expiry sweep failed, will retry", exc_info=True)
            await asyncio.sleep(self._interval)  # the sweep's period, not synchronisation
