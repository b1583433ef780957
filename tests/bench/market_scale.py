"""Per-event cost of the pure market (parse included: what the matcher's CPU does per
event) with 10k and with 100k open offers and demands across Milan, and the process's
resident memory holding the 100k. Run as its own process by `make bench`; prints one JSON
object."""

import gc
import json
import random
import resource
import sys
import time
from datetime import timedelta

from services.matcher.domain.decisions import Outcome
from services.matcher.domain.events import MarketEvent, parse
from services.matcher.domain.market import Market
from tests.bench.workload import T0, demand_data, interleaved, offer_data

OFFER_SHARE = 0.1  # one offer for nine demands, as in the workload
PROBES = 2000  # interleaved events measured on top of the open market


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(open_records: int, seed: int) -> dict[str, Market]:
    """Markets holding `open_records` offers and demands, loaded like after a restart
    (the way the matcher loads committed state): demands wait, offers are full."""
    from services.matcher.domain.market import DemandRecord, DemandState, OfferRecord
    from services.matcher.domain.model import Demand, Offer

    rng = random.Random(seed)
    offers: dict[str, list[OfferRecord]] = {}
    demands: dict[str, list[DemandRecord]] = {}
    n_offers = int(open_records * OFFER_SHARE)
    for i in range(n_offers):
        offer = Offer.from_event(offer_data(rng, f"s-offer-{i}"))
        # Full: a demand waits for seats, as demand outruns supply in a busy city.
        offers.setdefault(offer.service_type, []).append(OfferRecord(offer, True, offer.capacity))
    for i in range(open_records - n_offers):
        demand = Demand.from_event(demand_data(rng, f"s-demand-{i}"))
        record = DemandRecord(demand, DemandState.WAITING, i + 1, T0)
        demands.setdefault(demand.service_type, []).append(record)
    kinds = set(offers) | set(demands)
    markets = {
        k: Market(k, offers.get(k, ()), demands.get(k, ()), answer_ttl=timedelta(days=3650))
        for k in sorted(kinds)
    }
    for market in markets.values():
        # Loaded demands carry the reason they were last told; work it out once here.
        market._refresh_waiting_reasons(T0, Outcome())
        market.saved()
    return markets


def per_event_us(markets: dict[str, Market], seed: int) -> float:
    """Microseconds per interleaved event (parse + apply), on top of the open market."""
    probes = list(interleaved(PROBES // 10, PROBES - PROBES // 10, seed=seed, prefix="p"))
    parsed: list[tuple[str, bytes]] = []
    for topic, value, _ in probes:
        parsed.append((topic, value))
    started = time.process_time()  # this process's CPU: others' load on the machine aside
    for n, (_, value) in enumerate(parsed):
        raw = json.loads(value)
        event: MarketEvent = parse(raw["type"], raw["data"])
        market = markets.get(event.service_type) or markets.setdefault(
            event.service_type, Market(event.service_type)
        )
        market.apply(event, T0 + timedelta(hours=1, seconds=n))
    return (time.process_time() - started) / len(parsed) * 1e6


def main() -> None:
    small_build = time.perf_counter()
    small = build(10_000, seed=1)
    small_build = time.perf_counter() - small_build
    small_us = per_event_us(small, seed=2)
    del small
    gc.collect()
    large_build = time.perf_counter()
    large = build(100_000, seed=1)
    large_build = time.perf_counter() - large_build
    gc.collect()
    rss = rss_mb()
    large_us = per_event_us(large, seed=2)
    print(
        json.dumps(
            {
                "us_per_event_10k": round(small_us, 1),
                "us_per_event_100k": round(large_us, 1),
                "load_s_10k": round(small_build, 1),
                "load_s_100k": round(large_build, 1),
                "rss_mb_100k": round(rss, 1),
                "waiting_100k": sum(m.waiting_demands for m in large.values()),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
