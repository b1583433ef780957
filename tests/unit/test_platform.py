"""Platform pieces: tokens, settings, message parsing."""

import time

import jwt
import pytest
from pydantic import ValidationError

from concilia.platform.auth import InvalidToken, Role, issue_token, verify_token
from concilia.platform.consumer import PoisonMessage, parse_event
from concilia.platform.settings import ServiceSettings

SECRET = "s" * 32


class TestTokens:
    def test_an_issued_token_verifies_to_its_principal(self) -> None:
        """sub, org and roles survive the round trip."""
        principal = verify_token(
            SECRET, issue_token(SECRET, sub="u1", org="acme", roles=["provider"])
        )
        assert principal.org == "acme"
        assert principal.has(Role.PROVIDER)
        assert not principal.is_operator

    def test_a_token_for_another_audience_is_refused(self) -> None:
        """aud must be concilia."""
        token = jwt.encode(
            {"sub": "u", "org": "o", "roles": ["operator"], "aud": "x", "exp": time.time() + 60},
            SECRET,
            algorithm="HS256",
        )
        with pytest.raises(InvalidToken):
            verify_token(SECRET, token)

    def test_an_expired_token_is_refused(self) -> None:
        """exp in the past means 401."""
        with pytest.raises(InvalidToken):
            verify_token(SECRET, issue_token(SECRET, sub="u", org="o", roles=[], ttl_seconds=-10))

    def test_a_token_signed_with_another_secret_is_refused(self) -> None:
        """The signature is checked."""
        with pytest.raises(InvalidToken):
            verify_token(SECRET, issue_token("t" * 32, sub="u", org="o", roles=["provider"]))

    def test_an_unknown_role_is_refused(self) -> None:
        """Roles come from a closed list."""
        token = jwt.encode(
            {
                "sub": "u",
                "org": "o",
                "roles": ["admin"],
                "aud": "concilia",
                "exp": time.time() + 60,
            },
            SECRET,
            algorithm="HS256",
        )
        with pytest.raises(InvalidToken):
            verify_token(SECRET, token)


class TestSettings:
    def test_a_placeholder_secret_fails_fast(self) -> None:
        """A known placeholder or a short secret stops the service at start-up."""
        with pytest.raises(ValidationError, match="AUTH_JWT_SECRET"):
            ServiceSettings(auth_jwt_secret="changeme")

    def test_settings_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The contract environment variables configure every service."""
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
        monkeypatch.setenv("MONGODB_URL", "mongodb://mongo:27017")
        monkeypatch.setenv("HTTP_PORT", "9000")
        monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "25")
        settings = ServiceSettings()
        assert settings.kafka_bootstrap_servers == "kafka:9092"
        assert settings.kafka_fetch_max_wait_ms == 25
        assert settings.mongodb_url == "mongodb://mongo:27017"
        assert settings.port == 9000

    def test_every_consumer_takes_the_fetch_wait_and_the_session_from_the_settings(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """KAFKA_SESSION_TIMEOUT_MS sets the consumers' session; they heartbeat every third."""
        monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "25")
        monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "6000")
        assert ServiceSettings().consumer_options() == {
            "fetch_max_wait_ms": 25,
            "session_timeout_ms": 6000,
            "heartbeat_interval_ms": 2000,
        }

    def test_a_missing_secret_is_explained(self) -> None:
        """A service that checks tokens says what to set."""
        with pytest.raises(RuntimeError, match="AUTH_JWT_SECRET is not set"):
            ServiceSettings(auth_jwt_secret=None).require_secret()


class TestParsing:
    def test_garbage_is_a_poison_message(self) -> None:
        """Bytes that are not a CloudEvent are dead-lettered, not retried."""
        with pytest.raises(PoisonMessage) as error:
            parse_event(b"not json")
        assert error.value.reason == "invalid_envelope"

    def test_a_tombstone_parses_to_none(self) -> None:
        """A null value (compacted-topic erasure) is not an error."""
        assert parse_event(None) is None
