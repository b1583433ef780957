"""The demands service: member organisations submit welfare demands (HTTP) on behalf of
workers and families; the service follows their match status and publishes demand events,
pseudonymised, through a transactional outbox."""
