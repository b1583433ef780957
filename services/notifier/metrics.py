"""Notifier metrics beside the shared ones (EMAILS by template and outcome lives in
concilia.platform.metrics)."""

from prometheus_client import Gauge

NOTIFICATIONS_UNFINISHED = Gauge(
    "concilia_notifications_pending",
    "Notification jobs not yet sent or failed (waiting for a contact, due, or being sent)",
)
