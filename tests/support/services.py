"""Run a service's app in-process under uvicorn on a free port, or as a real subprocess."""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI

from concilia.embedded.processes import ChildProcess, free_port
from concilia.embedded.servers import tansu_consumer_environment
from concilia.platform.settings import ServiceSettings
from tests.support.waiting import eventually

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def in_process_settings(
    kind: type[SettingsT], kafka: str, mongodb: str, secret: str, database: str, **more: Any
) -> SettingsT:
    """Settings of a service a test runs in-process: its own database and a free port, the
    outbox relay polling every 0.2 s; `more` sets other fields."""
    return kind(
        kafka_bootstrap_servers=kafka,
        mongodb_url=mongodb,
        mongodb_database=database,
        auth_jwt_secret=secret,
        http_port=free_port(),
        outbox_poll_seconds=0.2,
        **more,
    )


@contextlib.asynccontextmanager
async def serving(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Serve `app` (lifespan included) until the block ends; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(
            lambda: server.started or task.done(), timeout=60, what=f"{app.title} to start"
        )
        if task.done():
            task.result()  # surface the start-up error
            raise RuntimeError(f"{app.title} stopped during start-up")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=15)


def service_process(
    module: str, env: Mapping[str, str], log_dir: Path, name: str | None = None
) -> ChildProcess:
    """`python -m <module>` with `env` added to this environment (not yet started), its
    consumers' fetch wait and session set for Tansu as `concilia up` sets them."""
    full_env = {**os.environ, **tansu_consumer_environment(), **env}
    return ChildProcess(
        name or module,
        [sys.executable, "-m", module],
        log_dir / f"{name or module}.log",
        env=full_env,
        cwd=Path(__file__).resolve().parents[2],
    )


async def wait_ready(base_url: str, timeout: float = 60) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as client:

        async def ready() -> bool:
            try:
                return (await client.get("/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=timeout, what=f"{base_url}/readyz")


def matcher_process(
    kafka: str,
    mongodb: str,
    logs: Path,
    name: str,
    *,
    database: str,
    failpoints: str = "",
    env: Mapping[str, str] | None = None,
) -> tuple[ChildProcess, str]:
    """A started `python -m services.matcher` on a free port (`env` adds variables), and its
    base URL. Test and bench events are old: a ten-year answer window keeps every proposal
    open."""
    port = free_port()
    full_env = {
        "CONCILIA_FAILPOINTS": failpoints,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URL": mongodb,
        "MONGODB_DATABASE": database,
        "HTTP_PORT": str(port),
        "MATCH_ANSWER_TTL_SECONDS": str(10 * 365 * 86400),
        **(env or {}),
    }
    child = service_process("services.matcher", full_env, logs, name=name).start()
    return child, f"http://127.0.0.1:{port}"
