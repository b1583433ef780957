"""Prometheus metrics shared by the services (one registry per process).

Names follow Prometheus conventions (`_total` counters, base units in the name). No metric
has a label the scrape adds itself (`job`, `instance`): deploy/prometheus/prometheus.yml
names each service's job after it and adds no target labels, so the `service` label below
is the metric's own. Gauges that every instance of a service reports alike (consumer lag,
DLQ depth, the gap) are read with `max by (...)` in dashboards and alerts."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "concilia_events_published_total", "Events published to Kafka", ["service", "topic", "type"]
)
EVENTS_CONSUMED = Counter(
    "concilia_events_consumed_total",
    "Events consumed, by outcome (processed, duplicate, ignored, dlq, retried, waited)",
    ["service", "topic", "type", "outcome"],
)
OUTBOX_PENDING = Gauge(
    "concilia_outbox_pending", "Outbox events written but not yet published", ["service"]
)
OUTBOX_OLDEST_AGE = Gauge(
    "concilia_outbox_oldest_age_seconds",
    "Age of the oldest outbox event not yet published (0 when none is pending)",
    ["service"],
)
OUTBOX_PARKED = Counter(
    "concilia_outbox_parked_total",
    "Outbox events Kafka refused for good, set aside after their last attempt (alert on any)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "concilia_consumer_lag_messages",
    "Messages of a partition not yet processed by a consumer group (end offset - committed)",
    ["group", "topic", "partition"],
)
DLQ_MESSAGES = Gauge(
    "concilia_dlq_messages", "Dead letters not replayed yet (concilia dlq replay)", ["topic"]
)
HTTP_REQUESTS = Counter(
    "concilia_http_requests_total", "HTTP requests", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "concilia_http_request_seconds", "HTTP request latency", ["service", "method", "route"]
)

# The network (matcher): the supply/demand gap and how matching goes, by area and type.
MATCHES = Counter("concilia_matches_total", "Matches proposed", ["area", "service_type"])
NOT_FOUND = Counter(
    "concilia_matches_not_found_total",
    "Answers that no offer fits a demand (a refreshed reason counts again), by reason",
    ["area", "service_type", "reason"],
)
OPEN_SEATS = Gauge(
    "concilia_open_seats",
    "Free seats of open offers (capacity minus seats held by live matches)",
    ["area", "service_type"],
)
OPEN_OFFERS = Gauge(
    "concilia_open_offers", "Offers with at least one free seat", ["area", "service_type"]
)
WAITING_DEMANDS = Gauge(
    "concilia_waiting_demands", "Demands waiting for an offer", ["area", "service_type"]
)
_DAY = 86400
TIME_TO_MATCH = Histogram(
    "concilia_time_to_match_seconds",
    "From demand submission to its proposal",
    ["area"],
    buckets=(1, 10, 60, 300, 1800, 3600, 6 * 3600, _DAY, 3 * _DAY, 7 * _DAY, 30 * _DAY),
)
TIME_TO_ACCEPTANCE = Histogram(
    "concilia_time_to_acceptance_seconds",
    "From a proposal to both parties' acceptance",
    ["area"],
    buckets=(10, 60, 300, 1800, 3600, 6 * 3600, 12 * 3600, _DAY, 2 * _DAY, 3 * _DAY),
)
PROVIDER_PROPOSALS = Counter(
    "concilia_provider_proposals_total",
    "Proposals by provider organisation (exposure: how the demand spreads over providers)",
    ["organization_id", "area"],
)
PROVIDER_SEATS_HELD = Gauge(
    "concilia_provider_seats_held",
    "Seats held by live matches (proposed or accepted), by provider organisation",
    ["organization_id"],
)

EMAILS = Counter(
    "concilia_emails_total",
    "E-mails by template and outcome (sent, retried, waited, failed, dropped, lease_lost)",
    ["template", "outcome"],
)
