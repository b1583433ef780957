"""Prometheus metrics shared by the services (one registry per process)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "concilia_events_published_total", "Events published to Kafka", ["service", "topic", "type"]
)
EVENTS_CONSUMED = Counter(
    "concilia_events_consumed_total",
    "Events consumed, by outcome (processed, duplicate, ignored, dlq, retried)",
    ["service", "topic", "type", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "concilia_outbox_pending", "Outbox events written but not yet published", ["service"]
)
HTTP_REQUESTS = Counter(
    "concilia_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "concilia_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)
MATCHES = Counter("concilia_matches_total", "Matches proposed", ["area", "service_type"])
NOT_FOUND = Counter(
    "concilia_matches_not_found_total", "Demands with no feasible offer, by reason", ["reason"]
)
OPEN_OFFERS = Gauge("concilia_open_offers", "Open offers known to the matcher", ["area"])
WAITING_DEMANDS = Gauge("concilia_waiting_demands", "Demands waiting for an offer", ["area"])
TIME_TO_MATCH = Histogram(
    "concilia_time_to_match_seconds",
    "From demand submission to match proposal",
    buckets=(0.1, 0.5, 1, 5, 30, 60, 300, 3600, 86400, 604800),
)
EMAILS = Counter(
    "concilia_emails_total", "E-mails by template and outcome", ["template", "outcome"]
)
