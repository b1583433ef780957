"""The matcher's own metrics, beside the shared ones of concilia.platform.metrics."""

from prometheus_client import Counter

MATCH_OUTCOMES = Counter(
    "concilia_match_outcomes_total",
    "Matches accepted or ended (declined, expired, cancelled), DESIGN §8",
    ["area", "service_type", "state"],
)
EXPIRY_SWEEPS = Counter(
    "concilia_match_expiry_sweeps_total", "Expiry sweeps of the matcher, by outcome", ["outcome"]
)
