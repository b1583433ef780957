"""The gap gauges of /metrics (open offers and seats, waiting demands, seats held by each
provider), from the markets this matcher holds, every few seconds.

Read from memory, not the database: counting them from the committed records read every
waiting demand and every offer at each refresh, a cost that grew with the market and held
the database for seconds at city scale (the paced bench's p99 went from about 1 s to 5 s
with it). Each instance exports the markets it holds and drops the series of the others:
with several instances, each market is exported by its owner alone (dashboards take `max`
by service type, `sum` by provider). A market is held from the first event or expiry sweep
after its partition was assigned (the sweep loads every market of its partitions)."""

import asyncio
import contextlib
from collections import Counter

from concilia.contract.taxonomy import AREA_OF, ServiceType
from concilia.platform.background import BackgroundTask
from concilia.platform.metrics import (
    OPEN_OFFERS,
    OPEN_SEATS,
    PROVIDER_SEATS_HELD,
    WAITING_DEMANDS,
)
from services.matcher.domain.market import Market
from services.matcher.subscribers import MarketCache


def export(markets: list[Market], organizations: set[str]) -> set[str]:
    """Set the gauges of `markets`, drop those of every other service type and of the
    `organizations` exported last time that hold nothing now; the organizations exported."""
    held: Counter[str] = Counter()
    mine = {market.service_type: market for market in markets}
    for service_type in ServiceType:
        labels = (str(AREA_OF[service_type]), str(service_type))
        market = mine.get(service_type)
        if market is None:
            for gauge in (OPEN_OFFERS, OPEN_SEATS, WAITING_DEMANDS):
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
            continue
        gap = market.gap()
        OPEN_OFFERS.labels(*labels).set(gap.open_offers)
        OPEN_SEATS.labels(*labels).set(gap.open_seats)
        WAITING_DEMANDS.labels(*labels).set(gap.waiting_demands)
        held.update(gap.held_by_organization)
    for organization in organizations - held.keys():
        with contextlib.suppress(KeyError):
            PROVIDER_SEATS_HELD.remove(organization)
    for organization, seats in held.items():
        PROVIDER_SEATS_HELD.labels(organization).set(seats)
    return set(held)


class GaugeRefresher(BackgroundTask):
    """Exports the gap gauges of the cached markets every `every_seconds`."""

    def __init__(self, cache: MarketCache, every_seconds: float = 5.0) -> None:
        super().__init__("matcher-gap-gauges")
        self._cache = cache
        self._every = every_seconds
        self._organizations: set[str] = set()

    def refresh(self) -> None:
        self._organizations = export(self._cache.markets(), self._organizations)

    async def _run(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(self._every)  # a refresh period, not synchronisation
