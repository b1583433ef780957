"""Notification events (welfare.notifications.v1): outcomes of e-mails, no personal data."""

from pydantic import BaseModel


class NotificationType:
    SENT = "notification.sent"
    FAILED = "notification.failed"


class Template:
    """The e-mails the notifier sends (the `template` of a notification event)."""

    REQUESTER_MATCH = "requester_match"  # match.proposed, with the requester's answer link
    PROVIDER_MATCH = "provider_match"  # match.proposed, with the provider's answer link
    # The match lifecycle (README), additive:
    REQUESTER_ACCEPTED = "requester_accepted"
    PROVIDER_ACCEPTED = "provider_accepted"
    REQUESTER_DECLINED = "requester_declined"
    PROVIDER_DECLINED = "provider_declined"
    REQUESTER_EXPIRED = "requester_expired"
    PROVIDER_EXPIRED = "provider_expired"
    REQUESTER_CANCELLED = "requester_cancelled"
    PROVIDER_CANCELLED = "provider_cancelled"
    REQUESTER_WAITING = "requester_waiting"  # match.not_found, once per demand


class NotificationEventData(BaseModel):
    notification_id: str
    match_id: str
    recipient_ref: str
    template: str
    attempt: int
    error: str | None = None
