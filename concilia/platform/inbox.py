"""Idempotent consumer: the id of every processed event is recorded in the same
transaction as its effect, so a redelivered event is recognised and changes nothing."""

from datetime import UTC, datetime

from concilia.platform.mongo import Database, Session

INBOX = "inbox"
# A redelivery comes within minutes; a week covers any replay from the topics' retention.
# (Past that the matcher's domain still ignores versions it already knows.)
RETENTION_SECONDS = 7 * 24 * 3600


async def ensure_inbox_indexes(db: Database) -> None:
    await db[INBOX].create_index("at", name="at_ttl", expireAfterSeconds=RETENTION_SECONDS)


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
