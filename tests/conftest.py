"""Fixtures: the real embedded servers (Tansu, SecantusDB, SMTP sink) on free ports."""

import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from concilia.embedded.mongodb_server import LIFETIME_VARIABLE
from concilia.embedded.processes import ChildProcess, free_port
from concilia.embedded.servers import (
    TANSU_FETCH_MAX_WAIT_MS,
    start_kafka,
    start_mongodb,
    start_smtp_sink,
)
from concilia.platform.auth import issue_token
from concilia.platform.kafka import ensure_topics

JWT_SECRET = secrets.token_hex(32)
# The services under test talk to Tansu: their consumers wait at the broker as briefly as
# under `concilia up` (in-process services read it from here, child processes inherit it).
os.environ.setdefault("KAFKA_FETCH_MAX_WAIT_MS", str(TANSU_FETCH_MAX_WAIT_MS))
# A session of 3 s, not the stack's 6: Tansu forms a group after half of it, and the tests
# start a service (and so a group member) a few hundred times.
os.environ.setdefault("KAFKA_SESSION_TIMEOUT_MS", "3000")
# The embedded database aborts a transaction abandoned by a killed process after 15 s, not
# mongod's 60: the crash tests wait that out (the servers they start inherit it).
os.environ.setdefault(LIFETIME_VARIABLE, "15")


@pytest.fixture(scope="session")
def stack_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="concilia-test-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def mongodb(stack_home: Path) -> Iterator[str]:
    """A SecantusDB server for the whole session; tests isolate themselves by database name."""
    port = free_port()
    child = start_mongodb(port, stack_home / "db", stack_home / "logs")
    yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    child.stop()


@pytest.fixture(scope="module")
async def kafka(stack_home: Path) -> AsyncIterator[str]:
    """A fresh Tansu broker per test module (in-memory: topics start empty), topics created."""
    port = free_port()
    child: ChildProcess = start_kafka(port, stack_home / "logs" / f"kafka-{port}")
    bootstrap = f"127.0.0.1:{port}"
    await ensure_topics(bootstrap)
    yield bootstrap
    child.stop()


@pytest.fixture(scope="module")
def smtp(stack_home: Path) -> Iterator[tuple[int, Path]]:
    """An SMTP sink writing .eml files into a fresh folder; yields (port, folder)."""
    port = free_port()
    mail_dir = stack_home / f"mail-{port}"
    child = start_smtp_sink(port, mail_dir, stack_home / "logs")
    yield port, mail_dir
    child.stop()


@pytest.fixture
def database_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo_client(mongodb: str) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return JWT_SECRET


def bearer(org: str, *roles: str, sub: str = "tester", secret: str = JWT_SECRET) -> dict[str, str]:
    """Authorization header for a member of `org` with `roles`."""
    token = issue_token(secret, sub=sub, org=org, roles=list(roles))
    return {"Authorization": f"Bearer {token}"}
