"""Matcher settings: the shared environment variables, on port 8003, plus the answer
window of a proposal (README: match lifecycle) and how often its end is checked."""

from typing import ClassVar

from pydantic import Field

from concilia.platform.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "matcher"
    default_port: ClassVar[int] = 8003

    match_answer_ttl_seconds: float = Field(
        default=259_200, gt=0, description="MATCH_ANSWER_TTL_SECONDS: the answer window (72 h)"
    )
    match_expiry_sweep_seconds: float = Field(
        default=1.0, gt=0, description="How often windows that ended are looked for"
    )
    match_expiry_grace_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How long after its window a proposal waits for an answer still in flight",
    )
