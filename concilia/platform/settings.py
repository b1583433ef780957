"""Configuration (contract): environment variables read by every service."""

from typing import ClassVar, TypedDict

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "changethis", "please-change", "test"}


def secret_problem(value: str) -> str | None:
    """Why `value` cannot be the JWT secret (a placeholder, too short), or None. The message
    never contains the value: secrets do not belong in logs or on consoles."""
    if value.strip().lower() in _PLACEHOLDERS or len(value) < 16:
        return (
            "AUTH_JWT_SECRET is a placeholder or shorter than 16 characters; unset it (concilia "
            "up generates one) or use `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return None


class ConsumerOptions(TypedDict):
    """Kafka consumer options, as aiokafka and FastStream's subscribers name them."""

    fetch_max_wait_ms: int
    session_timeout_ms: int
    heartbeat_interval_ms: int


class ServiceSettings(BaseSettings):
    """Settings shared by the four services; each service subclasses it for its port."""

    # hide_input_in_errors: a refused AUTH_JWT_SECRET must not appear in the error (or log).
    model_config = SettingsConfigDict(
        env_prefix="", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_fetch_max_wait_ms: int = Field(
        default=500,
        ge=1,
        le=60_000,
        description="Longest a consumer's fetch waits at the broker for records (Kafka's "
        "fetch.max.wait.ms). Apache Kafka answers as soon as records arrive; Tansu does not, "
        "so the embedded stack sets it low",
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        le=300_000,
        description="How long a consumer may go without a heartbeat before its group hands "
        "its partitions to the others (Kafka's session.timeout.ms; heartbeats every third of "
        "it). Apache Kafka refuses less than its group.min.session.timeout.ms (6 s by "
        "default); Tansu lets a new group form only after half of it, so the embedded stack "
        "sets it low",
    )
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str | None = Field(
        default=None, description="Database name; default concilia_<service>"
    )
    http_port: int = Field(default=0, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    auth_jwt_secret: str | None = None
    public_base_url: str = "http://127.0.0.1"
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    write_rate_per_minute: int = Field(
        default=600,
        ge=0,
        description="Writes (POST/PATCH/DELETE) per organisation per minute; 0: no limit",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body accepted (else 413)"
    )
    log_level: str = "INFO"

    @field_validator("auth_jwt_secret")
    @classmethod
    def _no_placeholder_secret(cls, value: str | None) -> str | None:
        problem = secret_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    def consumer_options(self) -> ConsumerOptions:
        """The Kafka consumer options every subscriber of the services takes from here."""
        return {
            "fetch_max_wait_ms": self.kafka_fetch_max_wait_ms,
            "session_timeout_ms": self.kafka_session_timeout_ms,
            "heartbeat_interval_ms": self.kafka_session_timeout_ms // 3,
        }

    @property
    def port(self) -> int:
        return self.http_port or self.default_port

    @property
    def database(self) -> str:
        return self.mongodb_database or f"concilia_{self.service_name}"

    def require_secret(self) -> str:
        """The JWT secret; services that check tokens refuse to start without one."""
        if not self.auth_jwt_secret:
            raise RuntimeError(
                f"{self.service_name}: AUTH_JWT_SECRET is not set. `concilia up` generates "
                "one; elsewhere set it to at least 16 random characters."
            )
        return self.auth_jwt_secret
