"""The embedded stack: broker, database, SMTP sink and the four services, supervised.

`Stack(home, ports).start()` brings everything up and waits for every `/readyz`; a service
that dies is restarted with exponential backoff; `stop()` ends services first, then SMTP,
database and broker, leaving no process behind."""

import asyncio
import contextlib
import functools
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import concilia
from concilia.embedded.monitoring import Monitoring
from concilia.embedded.processes import (
    ChildProcess,
    PortInUse,
    http_ok,
    port_open,
    wait_until,
)
from concilia.embedded.servers import Infrastructure, tansu_consumer_environment
from concilia.platform.kafka import DEFAULT_PARTITIONS, ensure_topics

SERVICES = ("offers", "demands", "matcher", "notifier")
MAIL_FROM = "Concilia Isola <concilia@example.org>"

_WHAT = {
    "kafka": "the Kafka broker (Tansu)",
    "mongodb": "the MongoDB server (SecantusDB)",
    "smtp": "the SMTP sink",
    "offers": "the offers service",
    "demands": "the demands service",
    "matcher": "the matcher service",
    "notifier": "the notifier service",
}


@dataclass(frozen=True)
class Ports:
    """Every port the stack listens on; each one can be changed by flag or env var."""

    kafka: int = 9092
    mongodb: int = 27017
    smtp: int = 1025
    offers: int = 8001
    demands: int = 8002
    matcher: int = 8003
    notifier: int = 8004

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(Ports)]

    @staticmethod
    def flag(name: str) -> str:
        return f"--{name}-port"

    @staticmethod
    def env_var(name: str) -> str:
        return f"CONCILIA_{name.upper()}_PORT"

    def of(self, name: str) -> int:
        port: int = getattr(self, name)
        return port


def check_ports(ports: Ports) -> None:
    """Raise PortInUse (one line: which port, for what, how to change it) if any is taken."""
    seen: dict[int, str] = {}
    for name in Ports.names():
        port = ports.of(name)
        hint = f"choose another with {Ports.flag(name)} or {Ports.env_var(name)}"
        if port in seen:
            raise PortInUse(
                f"port {port} is configured for both {_WHAT[seen[port]]} and {_WHAT[name]}; {hint}"
            )
        seen[port] = name
        if port_open(port):
            raise PortInUse(
                f"port {port} needed by {_WHAT[name]} is already in use; "
                f"stop whatever listens there or {hint}"
            )


def load_or_create_secret(home: Path) -> str:
    """The JWT secret: AUTH_JWT_SECRET when set (so tokens can be signed elsewhere with a
    known secret), else `home/secret`, generated once (mode 0600) and reused afterwards."""
    from_env = os.environ.get("AUTH_JWT_SECRET")
    if from_env:
        return from_env
    path = home / "secret"
    home.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


class Supervised:
    """One service process with its restart bookkeeping (backoff 0.5 s doubling to 10 s,
    reset once the process has stayed up for `stable_after` seconds)."""

    def __init__(self, child: ChildProcess, stable_after: float = 30.0) -> None:
        self.child = child
        self.stable_after = stable_after
        self.attempt = 0
        self.started_at = 0.0
        self.restart_at: float | None = None

    def start(self) -> None:
        self.child.start()
        self.started_at = time.monotonic()
        self.restart_at = None

    def backoff(self) -> float:
        return float(min(10.0, 0.5 * 2 ** (self.attempt - 1)))


class Stack:
    """Broker, database, SMTP sink and the four services on configurable ports."""

    def __init__(
        self,
        home: Path,
        ports: Ports | None = None,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        answer_ttl_seconds: float | None = None,
        say: Callable[[str], None] = print,
        monitoring: Monitoring | None = None,
        service_env: Mapping[str, str] | None = None,
    ) -> None:
        """`answer_ttl_seconds` sets MATCH_ANSWER_TTL_SECONDS for the services (None: the
        environment's value, else the services' default of 72 hours); `monitoring` adds a
        Prometheus scraping the services once they are ready; `service_env` adds variables
        to the services' environment (the fault soak arms failpoints with it)."""
        self.home = home.resolve()
        self.service_env = dict(service_env or {})
        self.answer_ttl_seconds = answer_ttl_seconds
        self.ports = ports or Ports()
        self.partitions = partitions
        self.say = say
        self.infra: Infrastructure | None = None
        self.monitoring = monitoring
        self.services: dict[str, Supervised] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor: threading.Thread | None = None

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def mail_dir(self) -> Path:
        return self.home / "mail"

    @property
    def secret(self) -> str:
        return load_or_create_secret(self.home)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports.of(service)}"

    def start(self, ready_timeout: float = 180) -> None:
        """Start everything and wait until every service answers /readyz (or raise)."""
        check_ports(self.ports)
        if self.monitoring is not None:  # checked now, not after minutes of starting
            self.monitoring.check_port()
        secret = self.secret
        self.say(f"starting Kafka, MongoDB and SMTP (logs in {self.log_dir})")
        self.infra = Infrastructure.start(
            self.home,
            kafka_port=self.ports.kafka,
            mongodb_port=self.ports.mongodb,
            smtp_port=self.ports.smtp,
        )
        self._create_topics()
        for name in SERVICES:
            self.services[name] = Supervised(self._service_process(name, secret))
            self.services[name].start()
        self.say("starting " + ", ".join(SERVICES) + "; waiting for /readyz")
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)
        self._supervisor.start()
        for name in SERVICES:
            try:
                wait_until(
                    functools.partial(self.ready, name),
                    timeout=ready_timeout,
                    interval=0.5,
                    what=f"{name} to be ready on {self.url(name)}/readyz",
                )
            except TimeoutError as exc:
                tail = self.services[name].child.tail(15)
                raise TimeoutError(f"{exc}; last lines of its log:\n{tail}") from exc
        if self.monitoring is not None:
            self.say(f"starting Prometheus on {self.monitoring.url}")
            targets = {name: f"127.0.0.1:{self.ports.of(name)}" for name in SERVICES}
            self.monitoring.start(targets, self.log_dir)

    def ready(self, service: str) -> bool:
        return http_ok(f"{self.url(service)}/readyz")

    def _create_topics(self) -> None:
        assert self.infra is not None
        bootstrap = self.infra.bootstrap_servers
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(ensure_topics(bootstrap, self.partitions))
                return
            except Exception:
                # Tansu listens a moment before it answers admin requests.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _service_process(self, name: str, secret: str) -> ChildProcess:
        assert self.infra is not None
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap_servers,
            # Tansu's fetch wait and session, unless set (see concilia/embedded/servers.py).
            **tansu_consumer_environment(),
            "MONGODB_URL": self.infra.mongodb_url,
            "HTTP_PORT": str(self.ports.of(name)),
            "AUTH_JWT_SECRET": secret,
            # The notifier's e-mails link to where requesters follow their demands.
            "PUBLIC_BASE_URL": self.url("demands" if name == "notifier" else name),
            # One-click answer links: the requester's on demands, the provider's on offers.
            "OFFERS_PUBLIC_URL": self.url("offers"),
            "DEMANDS_PUBLIC_URL": self.url("demands"),
            # Where the offers service looks up the contact of a requester who accepted.
            "DEMANDS_API_URL": self.url("demands"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports.smtp),
            "MAIL_FROM": MAIL_FROM,
            "PYTHONUNBUFFERED": "1",
            **self.service_env,
        }
        env.pop("MONGODB_DATABASE", None)  # each service defaults to concilia_<service>
        if self.answer_ttl_seconds is not None:
            env["MATCH_ANSWER_TTL_SECONDS"] = str(self.answer_ttl_seconds)
        # The directory holding the installed `concilia` and `services` packages, so that
        # `python -m services.X` imports whatever the current directory is.
        root = Path(concilia.__file__).resolve().parents[1]
        return ChildProcess(
            name,
            [sys.executable, "-m", f"services.{name}"],
            self.log_dir / f"{name}.log",
            env=env,
            cwd=root,
        )

    def _supervise(self) -> None:
        reported_infra: set[str] = set()
        while not self._stopping.wait(0.2):
            with self._lock:
                if self._stopping.is_set():
                    return
                for name, service in self.services.items():
                    self._tend(name, service)
                for child in self.infra.children if self.infra else []:
                    if not child.alive() and child.name not in reported_infra:
                        reported_infra.add(child.name)
                        self.say(
                            f"{child.name} exited with {child.exit_code()}; see {child.log_path}"
                        )

    def _tend(self, name: str, service: Supervised) -> None:
        now = time.monotonic()
        if service.child.alive():
            if service.attempt and now - service.started_at > service.stable_after:
                service.attempt = 0
            return
        if service.restart_at is None:
            service.attempt += 1
            delay = service.backoff()
            service.restart_at = now + delay
            self.say(
                f"restarting {name} (exit {service.child.exit_code()}), "
                f"attempt {service.attempt} in {delay:.1f}s"
            )
        elif now >= service.restart_at:
            service.child.stop()  # reap whatever is left of the old process group
            service.start()

    def stop(self) -> None:
        """Services first (in parallel), then SMTP, database and broker. Idempotent."""
        self._stopping.set()
        if self._supervisor and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=15)
        with self._lock:
            if self.monitoring is not None:
                self.monitoring.stop()
            for service in self.services.values():
                service.child.kill(signal.SIGTERM)
            for service in self.services.values():
                service.child.stop(timeout=8)
            self.services.clear()
            if self.infra is not None:
                self.infra.stop()
                self.infra = None

    def ports_free(self) -> bool:
        return not any(port_open(self.ports.of(n)) for n in Ports.names())
