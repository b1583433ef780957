"""The offers service: providers publish welfare offers (HTTP), the service keeps their
status and remaining capacity and publishes offer events through a transactional outbox."""
