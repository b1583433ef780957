"""Notifier metrics beside the shared ones (EMAILS by template and outcome lives in
concilia.platform.metrics). Every template × outcome series starts at zero, so alerts on
the failure ratio see the first failure too."""

from prometheus_client import Gauge

from concilia.contract.notifications import Template
from concilia.platform.metrics import EMAILS

NOTIFICATIONS_UNFINISHED = Gauge(
    "concilia_notifications_pending",
    "Notification jobs not yet sent or failed (waiting for a contact, due, or being sent)",
)

EMAIL_OUTCOMES = ("sent", "retried", "waited", "failed", "dropped", "lease_lost")
for _template in (v for k, v in vars(Template).items() if k.isupper()):
    for _outcome in EMAIL_OUTCOMES:
        EMAILS.labels(_template, _outcome)
