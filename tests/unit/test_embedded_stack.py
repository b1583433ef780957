"""What `concilia up` gives each service in its environment (no process is started)."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from concilia.embedded.monitoring import Monitoring
from concilia.embedded.processes import PortInUse, free_port
from concilia.embedded.servers import Infrastructure
from concilia.embedded.stack import Ports, Stack


def environment_of(service: str, home: Path) -> dict[str, str]:
    stack = Stack(home)
    stack.infra = Infrastructure(kafka_port=9092, mongodb_port=27017, smtp_port=1025, home=home)
    child = stack._service_process(service, "a-generated-secret-of-32-chars!!")
    assert child.env is not None
    return child.env


SERVICES = ("offers", "demands", "matcher", "notifier")


class TestTheConsumerSettings:
    def test_every_service_gets_the_short_fetch_wait_tansu_needs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Tansu does not answer a waiting fetch when records arrive: the services' consumers
        wait 10 ms at most, not Kafka's default 500."""
        monkeypatch.delenv("KAFKA_FETCH_MAX_WAIT_MS", raising=False)
        waits = {environment_of(s, tmp_path)["KAFKA_FETCH_MAX_WAIT_MS"] for s in SERVICES}
        assert waits == {"10"}

    def test_every_service_gets_a_session_short_enough_for_tansu_to_form_its_group_fast(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Tansu forms a group after half the session: the services' consumers use 6 s (a
        3 s join), not aiokafka's 10 s, and never less than Apache Kafka accepts."""
        monkeypatch.delenv("KAFKA_SESSION_TIMEOUT_MS", raising=False)
        sessions = {environment_of(s, tmp_path)["KAFKA_SESSION_TIMEOUT_MS"] for s in SERVICES}
        assert sessions == {"6000"}

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("KAFKA_FETCH_MAX_WAIT_MS", "100"),  # less idle CPU for more latency
            ("KAFKA_SESSION_TIMEOUT_MS", "20000"),  # a sturdier group under load
        ],
    )
    def test_a_consumer_setting_in_the_environment_is_kept(
        self, variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An operator's own fetch wait or session reaches every service unchanged."""
        monkeypatch.setenv(variable, value)
        assert {environment_of(s, tmp_path)[variable] for s in SERVICES} == {value}


STOPPED_BY = """
import os, signal, sys
from concilia import cli

class Stack:  # stands in for the embedded stack: started, the terminal goes away
    def start(self):
        os.kill(os.getpid(), signal.{name})
    def stop(self):
        print("stack stopped", flush=True)

sys.exit(cli._run(Stack(), demo=False, keep=False))
"""


class TestStopping:
    @pytest.mark.parametrize("name", ["SIGINT", "SIGTERM", "SIGHUP"])
    def test_ctrl_c_sigterm_or_a_closed_terminal_stop_the_stack_in_order(self, name: str) -> None:
        """Ctrl-C, SIGTERM, or SIGHUP (the terminal or the SSH session went away): `up`
        stops every server it started and exits 0. Its children run in sessions of their
        own, so a hangup that killed `up` alone would leave them holding every port."""
        done = subprocess.run(
            [sys.executable, "-c", STOPPED_BY.format(name=name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "stack stopped" in done.stdout.splitlines()


class TestABusyPrometheusPort:
    def test_is_reported_before_anything_starts(self, tmp_path: Path) -> None:
        """`up --monitoring` with Prometheus's port taken: one clear line at once, not after
        the broker, the database and four services took minutes to start."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            names = Ports.names()
            ports = Ports(**{name: free_port() for name in names})
            started: list[str] = []
            stack = Stack(
                tmp_path, ports, say=started.append, monitoring=Monitoring(tmp_path, busy)
            )
            try:
                with pytest.raises(PortInUse, match="--prometheus-port"):
                    stack.start()
            finally:
                stack.stop()  # had it started anything
        assert started == []  # nothing was launched
