"""One-click answer links (README: match lifecycle): `{OFFERS|DEMANDS_PUBLIC_URL}/r/{token}`.

The token is a compact JWT (HS256, PyJWT) signed with a key derived from AUTH_JWT_SECRET for
this purpose only, so a link can never serve as an API bearer token nor the other way round.
It names the match, the party and that party's record, and expires with the answer window.
PyJWT compares signatures in constant time and tells an expired token from a tampered one."""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

import jwt

from concilia.contract.matches import Party

AUDIENCE = "concilia-answer-link"
_PURPOSE = b"concilia/answer-link/v1"
_PARTY_CODES = {Party.REQUESTER: "r", Party.PROVIDER: "p"}
_PARTIES = {code: party for party, code in _PARTY_CODES.items()}


class TamperedLink(Exception):
    """The token is not one we signed (or is malformed): HTTP 400."""


class ExpiredLink(Exception):
    """The token is ours but its answer window has closed: HTTP 410."""


@dataclass(frozen=True)
class LinkClaims:
    """What an answer link says: who answers (`party`, for `record_id`) which match."""

    match_id: str
    party: Party
    record_id: str  # the demand id (requester) or the offer id (provider)
    expires_at: datetime


def link_key(secret: str) -> bytes:
    """The signing key of answer links, derived from the service secret for this use only."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()


class LinkSigner:
    """Issues and reads answer-link tokens."""

    def __init__(self, secret: str) -> None:
        self._key = link_key(secret)

    def issue(self, match_id: str, party: Party, record_id: str, expires_at: datetime) -> str:
        claims = {
            "m": match_id,
            "p": _PARTY_CODES[party],
            "r": record_id,
            "exp": int(expires_at.timestamp()),
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def read(self, token: str, party: Party) -> LinkClaims:
        """The claims of a token issued for `party`; raises TamperedLink or ExpiredLink."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                options={"require": ["m", "p", "r", "exp", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise ExpiredLink(str(exc)) from exc
        except jwt.PyJWTError as exc:
            raise TamperedLink(str(exc)) from exc
        if _PARTIES.get(claims["p"]) is not party:
            raise TamperedLink("this link is for the other party")
        if not isinstance(claims["m"], str) or not isinstance(claims["r"], str):
            raise TamperedLink("malformed claims")
        return LinkClaims(
            match_id=claims["m"],
            party=party,
            record_id=claims["r"],
            expires_at=datetime.fromtimestamp(claims["exp"]).astimezone(),
        )
