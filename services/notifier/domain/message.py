"""Rendering a MailView with Jinja2 and building the RFC 5322 message (no I/O but reading
the templates shipped with the package)."""

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from concilia.wording import single_line
from services.notifier.domain.views import MailView

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    """HTML templates (`*.html.j2`) are autoescaped; text templates are not."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(view: MailView) -> RenderedMail:
    """The text and HTML parts of a view: one layout per part, the words are the view's."""
    env = environment()
    context = {"view": view}
    return RenderedMail(
        subject=view.subject,
        text=env.get_template("mail.txt.j2").render(context),
        html=env.get_template("mail.html.j2").render(context),
    )


def message_id(job_id: str, mail_from: str) -> str:
    """A deterministic Message-ID: a resend of the same job carries the same id, so a
    duplicate (see the dispatcher) is recognisable by the recipient's mail system."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2] or "concilia.example"
    return f"<{job_id}@{single_line(domain)}>"


def build_message(
    *,
    job_id: str,
    mail_from: str,
    to_name: str,
    to_email: str,
    mail: RenderedMail,
    now: datetime,
) -> EmailMessage:
    """A multipart/alternative message (text, then HTML); every header value is one line."""
    msg = EmailMessage()
    msg["From"] = single_line(mail_from)
    msg["To"] = Address(display_name=single_line(to_name), addr_spec=single_line(to_email))
    msg["Subject"] = single_line(mail.subject)
    msg["Message-ID"] = message_id(job_id, mail_from)
    msg["Date"] = format_datetime(now)
    msg["Auto-Submitted"] = "auto-generated"  # no auto-replies to a notification
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg
