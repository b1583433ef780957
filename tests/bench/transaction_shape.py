"""Does SecantusDB charge per command or per document? The matcher's transaction, three ways.

A transaction shaped like one of the matcher's on the bench (one fence update, one reasons
document, 5 offers replaced, 10 demands inserted and 5 replaced, 25 matches inserted, one
outbox row of 35 messages) is written 150 times as the matcher writes it (one command per
collection) and 150 times as one client-level `bulkWrite` (`AsyncMongoClient.bulk_write`,
MongoDB 8.0's command, which SecantusDB accepts), and 150 times with each collection's
records packed as the entries of one document; twice each, alternating. If round trips
were the cost, the single command would be far faster; if documents are, packing is. Not
part of `make test` or `make bench`:

    PYTHONPATH=. .venv/bin/python -m tests.bench.transaction_shape
"""

import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession

from concilia.embedded.processes import free_port
from concilia.embedded.servers import start_mongodb

ROUNDS = 150
RAW = json.dumps({"payload": "x" * 600}).encode()  # a compact JSON payload, as the matcher keeps
Doc = dict[str, Any]


def documents(n: int) -> dict[str, list[Doc]]:
    """The documents of the n-th transaction, by collection (the fence is written apart)."""
    waiting = [{"_id": f"d{n}-{k}", "raw": RAW, "seq": k, "state": "waiting"} for k in range(10)]
    again = [{"_id": f"d{n - 1}-{k}", "raw": RAW, "seq": k, "state": "matched"} for k in range(5)]
    return {
        "reasons": [
            {"_id": ObjectId(), "answers": [[f"d{n}-{k}", "too_far", 1] for k in range(20)]}
        ],
        "offers": [{"_id": f"o{k}", "data": {"title": "Nido"}, "reserved": n} for k in range(5)],
        "demands": waiting + (again if n else []),
        "matches": [{"_id": f"m{n}-{k}", "offer_raw": RAW, "demand_raw": RAW} for k in range(25)],
        "outbox": [{"_id": ObjectId(), "messages": [{"topic": "t", "value": RAW}] * 35}],
    }


def _write(doc: Doc, namespace: str | None = None) -> InsertOne[Doc] | ReplaceOne[Doc]:
    """New records are inserted, known ones replaced (as the matcher's store does)."""
    if doc.get("state") == "matched" or "reserved" in doc:
        return ReplaceOne({"_id": doc["_id"]}, doc, upsert=True, namespace=namespace)
    return InsertOne(doc, namespace=namespace)


def _fence(n: int, namespace: str | None = None) -> UpdateOne:
    """The fence check and the position reached, as one update."""
    update = {"$inc": {"version": 1}, "$set": {"offsets.demands": n}}
    return UpdateOne({"_id": "partition:0", "epoch": 1}, update, namespace=namespace)


async def per_collection(client: AsyncMongoClient[Doc], db: str, n: int) -> None:
    """As the matcher writes: the fence, then one command per collection."""
    docs = documents(n)

    async def work(session: AsyncClientSession) -> None:
        done = await client[db]["markets"].bulk_write([_fence(n)], session=session)
        assert done.matched_count == 1
        for collection, batch in docs.items():
            await client[db][collection].bulk_write(
                [_write(d) for d in batch], ordered=False, session=session
            )

    async with client.start_session() as session:
        await session.with_transaction(work)


async def one_command(client: AsyncMongoClient[Doc], db: str, n: int) -> None:
    """The same writes as one client-level bulkWrite."""
    models: list[Any] = [_fence(n, namespace=f"{db}.markets")]
    for collection, batch in documents(n).items():
        models += [_write(d, namespace=f"{db}.{collection}") for d in batch]

    async def work(session: AsyncClientSession) -> None:
        done = await client.bulk_write(models, session=session, ordered=False, verbose_results=True)
        assert done.update_results[0].matched_count == 1

    async with client.start_session() as session:
        await session.with_transaction(work)


async def packed(client: AsyncMongoClient[Doc], db: str, n: int) -> None:
    """The same records, each collection's as the entries of ONE document (a lever not
    taken: see docs/performance.md)."""
    docs = documents(n)

    async def work(session: AsyncClientSession) -> None:
        done = await client[db]["markets"].bulk_write([_fence(n)], session=session)
        assert done.matched_count == 1
        for collection, batch in docs.items():
            entry = {"_id": ObjectId(), "records": batch}
            await client[db][collection].insert_one(entry, session=session)

    async with client.start_session() as session:
        await session.with_transaction(work)


async def timed(
    client: AsyncMongoClient[Doc], db: str, way: Callable[[Any, str, int], Awaitable[None]]
) -> float:
    """The p50 (ms) of ROUNDS transactions written `way` into a fresh database."""
    await client.drop_database(db)
    await client[db]["markets"].insert_one({"_id": "partition:0", "epoch": 1, "version": 0})
    for collection in documents(0):
        await client[db].create_collection(collection)
    times = []
    for n in range(ROUNDS):
        started = time.perf_counter()
        await way(client, db, n)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(port: int) -> None:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(f"mongodb://127.0.0.1:{port}")
    try:
        ways = {
            "per_collection_ms": per_collection,
            "one_command_ms": one_command,
            "packed_ms": packed,
        }
        found: dict[str, list[float]] = {name: [] for name in ways}
        for attempt in range(2):
            for name, way in ways.items():
                found[name].append(await timed(client, f"shape{attempt}", way))
        for name, p50s in found.items():
            print(f"{name:20} p50 {', '.join(f'{p:.1f}' for p in p50s)} ms")
        print(json.dumps({name: round(statistics.mean(p50s), 1) for name, p50s in found.items()}))
    finally:
        await client.close()


if __name__ == "__main__":
    home = Path(tempfile.mkdtemp(prefix="concilia-shape-"))
    port = free_port()
    database = start_mongodb(port, home / "db", home)
    try:
        asyncio.run(main(port))
    finally:
        database.stop()
        shutil.rmtree(home, ignore_errors=True)
