"""Sending e-mail over SMTP (aiosmtplib); the dispatcher only sees the `Mailer` protocol."""

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from concilia.platform.faults import is_outage


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail server; raise if it was not accepted."""

    async def check(self) -> None:
        """Raise if the mail server cannot be reached."""


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): retrying would not help."""


def is_server_unreachable(exc: BaseException) -> bool:
    """The server could not be reached, timed out, or said it is not available (421): an
    outage, which says nothing about the message. Other 4xx answers are about the message."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421
    return is_outage(exc)


class SmtpMailer:
    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=self.timeout)
        except aiosmtplib.SMTPRecipientsRefused as exc:  # the answer to RCPT, per recipient
            codes = [refused.code for refused in exc.recipients]
            if codes and min(codes) >= 500:
                raise PermanentMailError(str(exc.recipients[0])) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise PermanentMailError(f"{exc.code} {exc.message}") from exc
            raise

    async def check(self) -> None:
        smtp = aiosmtplib.SMTP(hostname=self.host, port=self.port, timeout=2)
        await smtp.connect()
        await smtp.quit()
