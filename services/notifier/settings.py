"""Notifier configuration: the shared variables plus SMTP and the retry policy."""

from typing import ClassVar

from pydantic import Field

from concilia.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    """SMTP_HOST, SMTP_PORT, MAIL_FROM, OFFERS_PUBLIC_URL, DEMANDS_PUBLIC_URL (contract) and
    the dispatcher's tuning knobs. AUTH_JWT_SECRET is required: it signs the answer links."""

    service_name: ClassVar[str] = "notifier"
    default_port: ClassVar[int] = 8004

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    mail_from: str = "Concilia Isola <noreply@concilia.example>"
    # Where each party's one-click answer link points (README, lifecycle); PUBLIC_BASE_URL stays the
    # footer link of the requester's mails.
    offers_public_url: str = "http://127.0.0.1:8001"
    demands_public_url: str = "http://127.0.0.1:8002"
    # Retry policy for SMTP failures: attempt n waits base * 2**(n-1), capped.
    mail_max_attempts: int = Field(default=5, ge=1)
    mail_backoff_seconds: float = Field(default=30.0, gt=0)
    mail_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # While the SMTP server is unreachable, mails wait (no attempt used): base * 2**n, capped.
    mail_outage_backoff_seconds: float = Field(default=2.0, gt=0)
    mail_outage_backoff_max_seconds: float = Field(default=60.0, gt=0)
    # A claimed job whose dispatcher died is claimable again after the lease.
    mail_lease_seconds: float = Field(default=120.0, gt=0)
    dispatch_poll_seconds: float = Field(default=1.0, gt=0)
    # How long a proposal to the requester waits for the provider's contact (to name the
    # provider) before it goes out naming the offer only.
    mention_grace_seconds: float = Field(default=300.0, ge=0)
    # A demand's "still waiting" e-mail waits this long first: a proposal meanwhile (its
    # offer was simply not known yet) makes it moot, and the family gets only the proposal.
    waiting_mail_delay_seconds: float = Field(default=600.0, ge=0)
