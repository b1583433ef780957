"""The whole stack for end-to-end tests: the four services as real processes, against the
embedded broker, database and SMTP sink."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from concilia.embedded.processes import ChildProcess, free_port
from tests.support.services import service_process, wait_ready

SERVICES = ("offers", "demands", "matcher", "notifier")


@dataclass
class RunningStack:
    bootstrap: str
    urls: dict[str, str]
    mail_dir: Path
    processes: dict[str, ChildProcess]


@pytest.fixture(scope="module")
async def stack(
    request: pytest.FixtureRequest,
    kafka: str,
    mongodb: str,
    smtp: tuple[int, Path],
    stack_home: Path,
    jwt_secret: str,
) -> AsyncIterator[RunningStack]:
    """The four services; a test module may set ANSWER_TTL_SECONDS (the answer window)."""
    smtp_port, mail_dir = smtp
    prefix = f"e2e{free_port()}"
    processes: dict[str, ChildProcess] = {}
    ports = {name: free_port() for name in SERVICES}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    ttl = getattr(request.module, "ANSWER_TTL_SECONDS", None)
    try:
        for name in SERVICES:
            port = ports[name]
            env = {
                "KAFKA_BOOTSTRAP_SERVERS": kafka,
                "MONGODB_URL": mongodb,
                "MONGODB_DATABASE": f"{prefix}_{name}",
                "HTTP_PORT": str(port),
                "AUTH_JWT_SECRET": jwt_secret,
                "PUBLIC_BASE_URL": "http://127.0.0.1",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_port),
                "MAIL_FROM": "Concilia Isola <noreply@concilia.example>",
                "OUTBOX_POLL_SECONDS": "0.2",
                "OFFERS_PUBLIC_URL": urls["offers"],
                "DEMANDS_PUBLIC_URL": urls["demands"],
                "DEMANDS_API_URL": urls["demands"],
                **({"MATCH_ANSWER_TTL_SECONDS": str(ttl)} if ttl is not None else {}),
            }
            processes[name] = service_process(
                f"services.{name}", env, stack_home / "logs" / prefix, name=name
            ).start()
        for name, url in urls.items():
            try:
                await wait_ready(url, timeout=90)
            except AssertionError as exc:
                raise AssertionError(f"{name} not ready:\n{processes[name].tail(40)}") from exc
        yield RunningStack(kafka, urls, mail_dir, processes)
    finally:
        for child in processes.values():
            child.stop()
