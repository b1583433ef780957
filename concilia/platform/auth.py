"""Bearer JWT (HS256, aud=concilia): who is calling, for which organisation, in which roles."""

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

AUDIENCE = "concilia"
ALGORITHM = "HS256"


class Role(StrEnum):
    PROVIDER = "provider"
    REQUESTER = "requester"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    sub: str
    org: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not for Concilia."""


def issue_token(
    secret: str, *, sub: str, org: str, roles: list[str], ttl_seconds: int = 12 * 3600
) -> str:
    """A signed development/service token."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "org": org,
        "roles": [Role(r).value for r in roles],
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "org", "roles", "aud", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    roles = claims["roles"]
    if not isinstance(roles, list) or not isinstance(claims["org"], str) or not claims["org"]:
        raise InvalidToken("claims org (string) and roles (list) are required")
    try:
        parsed = frozenset(Role(r) for r in roles)
    except ValueError as exc:
        raise InvalidToken(f"unknown role in {roles}") from exc
    return Principal(sub=str(claims["sub"]), org=claims["org"], roles=parsed)
