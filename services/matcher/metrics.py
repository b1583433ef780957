"""The matcher's own metrics, beside the shared ones of concilia.platform.metrics, and how
each decision is counted. Every label set the dashboards and alerts use is created at zero
on import, so `increase()` sees the first event of a series too."""

from collections.abc import Iterable

from prometheus_client import Counter

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
    "Matches accepted or ended (declined, expired, cancelled), DESIGN §8",
    ["area", "service_type", "state"],
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


_create_series()


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
