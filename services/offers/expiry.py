"""Offers past their valid_until leave the market: a periodic sweep, callable directly."""

import asyncio
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.offers.store import OfferStore

ROME = ZoneInfo("Europe/Rome")
log = logging.getLogger("concilia.offers.expiry")


def today_in_rome() -> date:
    """Validity dates are local to the network: a day ends at midnight in Milan."""
    return datetime.now(ROME).date()


async def expire_offers(store: OfferStore, today: date | None = None) -> int:
    """Expire every open or full offer whose valid_until is before `today`; how many."""
    return await store.expire_due(today or today_in_rome())


async def run_expiry(store: OfferStore, interval_seconds: float) -> None:
    """Sweep now and every `interval_seconds` until cancelled; a failed sweep is retried."""
    while True:
        try:
            expired = await expire_offers(store)
            if expired:
                log.info("offers expired", extra={"count": expired})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("offer expiry sweep failed, will retry", exc_info=True)
        await asyncio.sleep(interval_seconds)
