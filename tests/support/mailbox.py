"""The SMTP sink's `.eml` files as a reader sees them: by recipient, text part, links."""

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_\-.]+")


def mails_to(mail_dir: Path, address: str) -> list[EmailMessage]:
    """Every message addressed to `address`, in file-name order."""
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None, "no text part"
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None, "no HTML part"
    return str(body.get_content())


def links_in(message: EmailMessage) -> list[str]:
    """The one-click answer links of the text part, one per line as the contract says."""
    return [line.strip() for line in text_of(message).splitlines() if LINK.fullmatch(line.strip())]
