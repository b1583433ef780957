"""Infrastructure every service shares: settings, Kafka, MongoDB, outbox, DLQ, auth,
problem responses, health and metrics. No business rule lives here."""
