"""The matcher's own metrics, beside the shared ones of concilia.platform.metrics, and how
each decision is counted. Every label set the dashboards and alerts use is created at zero
on import, so `increase()` sees the first event of a series too."""

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from concilia.contract.matches import MatchState, NotFoundReason
from concilia.contract.taxonomy import AREA_OF, ServiceType, area_of
from concilia.platform.metrics import (
    MATCHES,
    NOT_FOUND,
    PROVIDER_PROPOSALS,
    TIME_TO_ACCEPTANCE,
    TIME_TO_MATCH,
)
from services.matcher.domain.decisions import (
    Decision,
    MatchAccepted,
    MatchEnded,
    NotFound,
    Proposal,
)

MATCH_OUTCOMES = Counter(
    "concilia_match_outcomes_total",
    "Matches accepted or ended (declined, expired, cancelled)",
    ["area", "service_type", "state"],
)
# How far behind its input the matcher works (its own part of event → decision):
# an event's age, from its record's timestamp, when the matcher begins deciding it and when
# the transaction holding its decisions commits. The relay's send comes after (outbox gauges).
EVENT_AGE = Histogram(
    "concilia_matcher_event_age_seconds",
    "Age of an offer, demand or answer event (from its Kafka timestamp) when the matcher "
    "began deciding it (stage=taken) and when the transaction holding its decisions "
    "committed (stage=committed)",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
EXPIRY_SWEEPS = Counter(
    "concilia_match_expiry_sweeps_total", "Expiry sweeps of the matcher, by outcome", ["outcome"]
)

_OUTCOME_STATES = [s for s in MatchState if s is not MatchState.PROPOSED]


def _create_series() -> None:
    for service_type in ServiceType:
        area = str(AREA_OF[service_type])
        MATCHES.labels(area, service_type)
        for state in _OUTCOME_STATES:
            MATCH_OUTCOMES.labels(area, service_type, state)
        for reason in NotFoundReason:
            NOT_FOUND.labels(area, service_type, reason)
    for area in {str(a) for a in AREA_OF.values()}:
        TIME_TO_MATCH.labels(area)
        TIME_TO_ACCEPTANCE.labels(area)
    for outcome in ("decided", "idle", "failed"):
        EXPIRY_SWEEPS.labels(outcome)
    for stage in ("taken", "committed"):
        EVENT_AGE.labels(stage)


_create_series()


def observe_ages(stage: str, published: Iterable[float], now: float) -> None:
    """Observe the age at `now` of events published at these times (s since the epoch); a
    producer's clock ahead of ours counts as age 0."""
    histogram = EVENT_AGE.labels(stage)
    for at in published:
        histogram.observe(max(0.0, now - at))


def observe(service_type: str, decisions: Iterable[Decision]) -> None:
    """Count the decisions of one market (after they were committed)."""
    area = str(area_of(service_type))
    for decision in decisions:
        if isinstance(decision, Proposal):
            MATCHES.labels(area, service_type).inc()
            waited = (decision.time - decision.submitted_at).total_seconds()
            TIME_TO_MATCH.labels(area).observe(max(0.0, waited))
            PROVIDER_PROPOSALS.labels(decision.offer.organization_id, area).inc()
        elif isinstance(decision, NotFound):
            NOT_FOUND.labels(area, service_type, str(decision.reason)).inc()
        elif isinstance(decision, MatchAccepted | MatchEnded):
            MATCH_OUTCOMES.labels(area, service_type, str(decision.match.state)).inc()
            if isinstance(decision, MatchAccepted):
                waited = (decision.time - decision.match.proposed_at).total_seconds()
                TIME_TO_ACCEPTANCE.labels(area).observe(max(0.0, waited))
