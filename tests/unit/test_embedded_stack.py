"""What `concilia up` gives each service in its environment (no process is started)."""

from pathlib import Path

import pytest

from concilia.embedded.servers import (
    TANSU_FETCH_MAX_WAIT_MS,
    TANSU_SESSION_TIMEOUT_MS,
    Infrastructure,
)
from concilia.embedded.stack import Stack


def environment_of(service: str, home: Path) -> dict[str, str]:
    stack = Stack(home)
    stack.infra = Infrastructure(kafka_port=9092, mongodb_port=27017, smtp_port=1025, home=home)
    child = stack._service_process(service, "a-generated-secret-of-32-chars!!")
    assert child.env is not None
    return child.env


class TestTheFetchWait:
    def test_every_service_gets_the_short_fetch_wait_tansu_needs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Tansu does not answer a waiting fetch when records arrive: the services' consumers
        wait 10 ms at most, not Kafka's default 500."""
        monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS", raising=False)
        for service in ("offers", "demands", "matcher", "notifier"):
            wait = environment_of(service, tmp_path)["KAFKA_FETCH_MAX_WAIT_MS"]
            assert wait == str(TANSU_FETCH_MAX_WAIT_MS) == "10"

    def test_a_fetch_wait_set_in_the_environment_is_kept(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An operator who trades latency for idle CPU sets KAFKA_FETCH_MAX_WAIT_MS."""
        monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "100")
        assert environment_of("matcher", tmp_path)["KAFKA_FETCH_MAX_WAIT_MS"] == "100"


class TestTheSession:
    def test_every_service_gets_a_session_short_enough_for_tansu_to_form_its_group_fast(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Tansu forms a group after half the session: the services' consumers use 6 s (a
        3 s join), not aiokafka's 10 s, and never less than Apache Kafka accepts."""
        monkeypatch.delenv("KAFKA_SESSION_TIMEOUT_MS", raising=False)
        for service in ("offers", "demands", "matcher", "notifier"):
            session = environment_of(service, tmp_path)["KAFKA_SESSION_TIMEOUT_MS"]
            assert session == str(TANSU_SESSION_TIMEOUT_MS) == "6000"

    def test_a_session_set_in_the_environment_is_kept(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An operator who wants a sturdier group under load sets KAFKA_SESSION_TIMEOUT_MS."""
        monkeypatch.setenv("KAFKA_SESSION_TIMEOUT_MS", "20000")
        assert environment_of("notifier", tmp_path)["KAFKA_SESSION_TIMEOUT_MS"] == "20000"
