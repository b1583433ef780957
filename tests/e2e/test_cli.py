"""The `concilia` command: tokens, a clear refusal on a busy port, and `up` supervising the
whole embedded stack (ready, restarts a killed service, stops cleanly on SIGTERM)."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import jwt
import pytest

from concilia.embedded.processes import free_port, http_ok, port_open, wait_until
from concilia.embedded.stack import Ports
from concilia.sample.demands import demands

pytestmark = pytest.mark.e2e


def concilia(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "concilia.cli", "--home", str(home), *args]


def port_flags(ports: dict[str, int]) -> list[str]:
    return [arg for name, port in ports.items() for arg in (Ports.flag(name), str(port))]


def free_ports() -> dict[str, int]:
    return {name: free_port() for name in Ports.names()}


def processes_of(home: Path) -> dict[int, str]:
    """pid → command line of every live process started for this CONCILIA_HOME."""
    found: dict[int, str] = {}
    marker = f"CONCILIA_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found[int(entry.name)] = cmdline
    return found


class TestToken:
    def test_the_last_line_is_a_token_for_the_org_and_roles_signed_with_the_home_secret(
        self, tmp_path: Path
    ) -> None:
        """`concilia token` prints, last, a JWT with org and roles, signed with home/secret."""
        out = subprocess.run(
            concilia(
                tmp_path,
                "token",
                "--org",
                "isola-digital",
                "--role",
                "requester",
                "--role",
                "operator",
            ),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env={k: v for k, v in os.environ.items() if k != "AUTH_JWT_SECRET"},
        ).stdout
        secret = (tmp_path / "secret").read_text().strip()
        claims = jwt.decode(
            out.strip().splitlines()[-1], secret, algorithms=["HS256"], audience="concilia"
        )
        assert claims["org"] == "isola-digital"
        assert claims["roles"] == ["requester", "operator"]
        assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600

    def test_a_secret_from_the_environment_signs_the_token_instead(self, tmp_path: Path) -> None:
        """With AUTH_JWT_SECRET set, `concilia token` (and `up`) use it, writing no file."""
        secret = "e" * 40
        out = subprocess.run(
            concilia(tmp_path, "token", "--org", "coop-isola", "--role", "provider"),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env={**os.environ, "AUTH_JWT_SECRET": secret},
        ).stdout
        claims = jwt.decode(
            out.strip().splitlines()[-1], secret, algorithms=["HS256"], audience="concilia"
        )
        assert claims["org"] == "coop-isola"
        assert not (tmp_path / "secret").exists()


class TestBusyPort:
    def test_a_busy_port_is_named_on_one_line_with_how_to_change_it(self, tmp_path: Path) -> None:
        """A taken port makes `up` print one line naming it and its flag/env, exit 2."""
        ports = free_ports()
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
            ports["matcher"] = squatter.getsockname()[1]
            env = {**os.environ, "CONCILIA_HOME": str(tmp_path)}
            result = subprocess.run(
                concilia(tmp_path, "up", *port_flags(ports)),
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2
        assert len(errors) == 1, result.stderr
        assert str(ports["matcher"]) in errors[0]
        assert "--matcher-port" in errors[0]
        assert "CONCILIA_MATCHER_PORT" in errors[0]
        assert processes_of(tmp_path) == {}


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    home: Path
    ports: dict[str, int]
    output: Path

    def printed(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture(scope="class")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`concilia up` as a subprocess on free ports, in its own CONCILIA_HOME."""
    home = tmp_path_factory.mktemp("concilia-up")
    ports = free_ports()
    output = home / "up.out"
    env = {**os.environ, "CONCILIA_HOME": str(home)}
    with output.open("wb") as out:
        proc = subprocess.Popen(
            concilia(home, "up", *port_flags(ports)),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    running = Running(proc, home, ports, output)
    yield running
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    for pid in processes_of(home):  # only if a test failed half-way
        os.kill(pid, signal.SIGKILL)


class TestUp:
    def test_every_service_becomes_ready(self, running: Running) -> None:
        """All four services answer /readyz with 200 and `up` says where everything is."""
        for name in ("offers", "demands", "matcher", "notifier"):
            url = f"http://127.0.0.1:{running.ports[name]}/readyz"
            wait_until(
                lambda u=url: http_ok(u) or running.proc.poll() is not None, timeout=150, what=url
            )
            assert http_ok(url), running.printed()
        wait_until(lambda: "Concilia is up" in running.printed(), timeout=10, what="the banner")
        assert f"http://127.0.0.1:{running.ports['offers']}/openapi.json" in running.printed()

    def test_a_killed_service_is_restarted_and_the_restart_is_logged(
        self, running: Running
    ) -> None:
        """A matcher killed with SIGKILL comes back, and the restart is printed."""
        [old] = [p for p, cmd in processes_of(running.home).items() if "services.matcher" in cmd]
        os.kill(old, signal.SIGKILL)
        wait_until(
            lambda: "restarting matcher (exit -9), attempt 1" in running.printed(),
            timeout=15,
            what="the restart line",
        )
        url = f"http://127.0.0.1:{running.ports['matcher']}/readyz"
        wait_until(lambda: http_ok(url), timeout=60, what="the matcher to be ready again")
        [new] = [p for p, cmd in processes_of(running.home).items() if "services.matcher" in cmd]
        assert new != old

    def test_sigterm_stops_everything_and_frees_every_port(self, running: Running) -> None:
        """SIGTERM ends `up` within 15 s, with no process left and every port free."""
        assert processes_of(running.home)
        running.proc.send_signal(signal.SIGTERM)
        assert running.proc.wait(15) == 0
        assert processes_of(running.home) == {}
        busy = [name for name, port in running.ports.items() if port_open(port)]
        assert busy == []


class TestDemo:
    def test_the_demo_loads_isola_and_every_outcome_is_the_designed_one(
        self, tmp_path: Path
    ) -> None:
        """`concilia demo` exits 0 and each sample demand ends matched or waiting as designed."""
        # Half the demo's answer window: still ample for the links it answers (within
        # seconds of each proposal), and the unanswered proposal expires 30 s sooner.
        env = {**os.environ, "CONCILIA_HOME": str(tmp_path), "MATCH_ANSWER_TTL_SECONDS": "30"}
        result = subprocess.run(
            concilia(tmp_path, "demo", *port_flags(free_ports())),
            capture_output=True,
            text=True,
            timeout=400,
            env=env,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        summary = result.stdout
        designed = len(demands(date.today()))
        assert f"Outcomes as designed: {designed} of {designed}." in summary, summary[-3000:]
        emails = len(list((tmp_path / "demo" / "mail").glob("*.eml")))
        assert f"E-mails sent: {emails} " in summary
        assert "Giulia (Via Borsieri) → Doposcuola Isola" in summary
        assert processes_of(tmp_path) == {}
