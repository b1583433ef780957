"""The matcher's own view of a phase, from its /metrics: quantiles of
`concilia_matcher_event_age_seconds` by stage (`taken`, `committed`) over the phase, from
the difference of two scrapes, interpolated within buckets as Prometheus's
`histogram_quantile` does. What an operator's dashboard would show of the same load."""

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families

AGE = "concilia_matcher_event_age_seconds"
Buckets = dict[str, dict[float, float]]  # stage → upper bound → events at most that old


async def scrape(base_url: str) -> Buckets:
    """The age histogram's cumulative buckets, by stage, as the matcher exports them now."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    found: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != AGE:
            continue
        for sample in family.samples:
            if sample.name == f"{AGE}_bucket":
                stage = found.setdefault(sample.labels["stage"], {})
                stage[float(sample.labels["le"])] = sample.value
    return found


def quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float | None:
    """The q-quantile (s) of what was observed between two scrapes; None if nothing was."""
    counts = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    total = counts[-1][1] if counts else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in counts:
        if count >= rank:
            if math.isinf(le):
                return lower  # beyond the last bound: say the bound, as Prometheus does
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def summary(before: Buckets, after: Buckets) -> str:
    """'taken p50 … ms, p99 … ms; committed p50 … ms, p99 … ms' over the phase."""
    parts = []
    for stage in ("taken", "committed"):
        p50, p99 = (quantile(q, before.get(stage, {}), after.get(stage, {})) for q in (0.5, 0.99))
        if p50 is None or p99 is None:
            parts.append(f"{stage}: nothing observed")
        else:
            parts.append(f"{stage} p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms")
    return "; ".join(parts)
