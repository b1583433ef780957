"""MongoDB through PyMongo's async API (`AsyncMongoClient`, Motor's official successor)."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

T = TypeVar("T")
Document = dict[str, Any]
Database = AsyncDatabase[Document]
Session = AsyncClientSession


def connect(url: str) -> AsyncMongoClient[Document]:
    """A client with tz-aware datetimes; nothing is sent until the first operation."""
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000)


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run `work` in one multi-document transaction; retried on transient errors
    (write conflicts), so `work` must only touch the database through the session."""
    async with client.start_session() as session:
        return await session.with_transaction(work)


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")
