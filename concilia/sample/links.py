"""The one-click answer links in the demo's e-mails, followed as a person would: read the
`.eml` files, GET the page, then POST the form with `answer=accept|decline`."""

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

_LINK = re.compile(r"https?://[^\s<>\"']+/r/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class AnswerLink:
    """A link found in an e-mail: who may answer (`party` r|p) which match, and where."""

    url: str
    party: str
    match_id: str


def _claims(url: str) -> dict[str, object]:
    """The token's claims, read without checking the signature (the service checks it)."""
    payload = url.rsplit("/", 1)[1].split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return claims


def links_in(mail_dir: Path) -> dict[tuple[str, str], AnswerLink]:
    """Every answer link in the text parts of the e-mails, by (party, match id)."""
    found: dict[tuple[str, str], AnswerLink] = {}
    for path in sorted(mail_dir.glob("*.eml")) if mail_dir.exists() else []:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        for url in _LINK.findall(str(text)):
            claims = _claims(url)
            link = AnswerLink(url, str(claims["p"]), str(claims["m"]))
            found[(link.party, link.match_id)] = link
    return found


class LinkError(RuntimeError):
    """A link page answered with an unexpected status."""


def follow(link: AnswerLink, answer: str, timeout: float = 15) -> None:
    """Open the page (as a mail client would: changes nothing), then press a button."""
    for data in (None, urllib.parse.urlencode({"answer": answer}).encode()):
        request = urllib.request.Request(link.url, data=data, method="POST" if data else "GET")
        if data:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise LinkError(f"{request.method} {link.url} answered {exc.code}") from exc
