"""Notification events (welfare.notifications.v1): outcomes of e-mails, no personal data."""

from pydantic import BaseModel


class NotificationType:
    SENT = "notification.sent"
    FAILED = "notification.failed"


class Template:
    REQUESTER_MATCH = "requester_match"
    PROVIDER_MATCH = "provider_match"


class NotificationEventData(BaseModel):
    notification_id: str
    match_id: str
    recipient_ref: str
    template: str
    attempt: int
    error: str | None = None
