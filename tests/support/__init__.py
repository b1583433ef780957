"""Test helpers: waiting on conditions, reading topics, running services, data factories."""
