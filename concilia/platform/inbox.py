"""Idempotent consumer: the id of every processed event is recorded in the same
transaction as its effect, so a redelivered event is recognised and changes nothing."""

from datetime import UTC, datetime

from concilia.platform.mongo import Database, Session

INBOX = "inbox"


async def first_delivery(db: Database, session: Session, consumer: str, event_id: str) -> bool:
    """Record the event as processed by `consumer`; False if it already was.

    Looks before inserting because a duplicate-key error would abort the whole transaction;
    two concurrent deliveries conflict on the insert and the retried one then sees the record.
    """
    key = f"{consumer}:{event_id}"
    if await db[INBOX].find_one({"_id": key}, session=session) is not None:
        return False
    await db[INBOX].insert_one({"_id": key, "at": datetime.now(UTC)}, session=session)
    return True
