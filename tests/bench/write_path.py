"""The HTTP write path against the database's own write rate, at the same concurrency:
sustained `POST /v1/demands` (the demands service as its own process: auth, validation,
one transaction with the demand, its outbox rows and contact) against raw single-document
inserts into the same SecantusDB.

Both sides use the leanest client of their kind, since on two cores the load generator
takes its CPU from what it measures: PyMongo's async client for the inserts, aiohttp for
the requests (httpx spent 3.9 ms of CPU per request here, more than the service itself;
aiohttp 0.2 ms)."""

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from pymongo import AsyncMongoClient

from concilia.embedded.processes import free_port
from concilia.platform.auth import issue_token
from concilia.platform.mongo import Document
from tests.support.factories import a_demand
from tests.support.services import service_process, wait_ready

CONCURRENCY = 32
_numbers = itertools.count()


async def sustained(call: Callable[[int], Awaitable[bool]], seconds: float) -> float:
    """Calls per second that succeeded, `CONCURRENCY` at a time, for `seconds`."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            if await call(next(_numbers)):
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def measure(kafka: str, mongodb: str, logs: Path, seconds: float) -> tuple[float, float]:
    """(POST /v1/demands per second, raw inserts per second)."""
    secret = "bench-" + "s" * 32
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URL": mongodb,
        "MONGODB_DATABASE": "bench_demands",
        "HTTP_PORT": str(port),
        "AUTH_JWT_SECRET": secret,
        "LOG_LEVEL": "WARNING",
        # One organisation posting as fast as it can: the per-organisation limit is off.
        "WRITE_RATE_PER_MINUTE": "0",
    }
    demands = service_process("services.demands", env, logs, name="bench-demands").start()
    token = issue_token(secret, sub="bench", org="org-bench", roles=["requester"])
    body = a_demand()
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        payload = json.dumps(body).encode()
        connections = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(url, headers=headers, connector=connections) as http:

            async def post(_: int) -> bool:
                async with http.post("/v1/demands", data=payload) as response:
                    await response.read()
                    return response.status == 201

            await sustained(post, 2)  # warm up
            api = await sustained(post, seconds)
    finally:
        demands.stop()

    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb, maxPoolSize=CONCURRENCY)
    try:
        raw = client["bench_demands"]["bench_raw"]
        document = {**body, "status": "open", "version": 1}

        async def insert(n: int) -> bool:
            await raw.insert_one({**document, "_id": f"raw-{n}"})
            return True

        await sustained(insert, 2)
        inserts = await sustained(insert, seconds)
    finally:
        await client.close()
    return api, inserts
