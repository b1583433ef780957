"""Record keeping shared by the offers and demands services: one collection of records,
each change written with its outgoing events in one transaction (transactional outbox),
`Idempotency-Key` replay and opaque cursors. The HTTP side is in record_api."""

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from concilia.platform.changes import Change, Document, InvalidChange, check_version, now_ms
from concilia.platform.group_commit import GroupCommit
from concilia.platform.mongo import Database, Session, in_transaction
from concilia.platform.outbox import OutboxRelay, add_rows_to_outbox, add_to_outbox, record_row

IDEMPOTENCY = "idempotency_keys"
# A client retries a POST within minutes; keys are remembered for a day, as common APIs do.
IDEMPOTENCY_RETENTION_SECONDS = 24 * 3600
Decide = Callable[[Document], Change | None]
CreateT = TypeVar("CreateT")
UpdateT = TypeVar("UpdateT")


class NotFound(Exception):
    """No such record, or not one the caller may see (HTTP 404)."""


class IdempotencyMismatch(Exception):
    """An Idempotency-Key reused with a different body (HTTP 422, IETF draft)."""


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key, scoped to its organisation, with the body's fingerprint."""

    scope: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, scope: str, key: str, body: Mapping[str, Any]) -> "IdempotencyKey":
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return cls(scope, key, hashlib.sha256(canonical.encode()).hexdigest())

    @property
    def id(self) -> str:
        return f"{self.scope}\x1f{self.key}"


@dataclass(frozen=True)
class Outcome:
    """The record after a request, and whether the request changed it."""

    document: Document
    changed: bool


class RecordStore:
    """A collection of records (`_id` = public id) and the outbox, always written together."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        db: Database,
        collection: str,
        relay: OutboxRelay,
        unique_fields: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.db = db
        self.records = db[collection]
        self.relay = relay
        self._unique = unique_fields
        self._together: GroupCommit[Callable[[], Change], Outcome] = GroupCommit(
            self._create_many, lambda build: self._create(build, None)
        )

    async def ensure_indexes(self) -> None:
        """Indexes for listing (by creation, per organisation) and the unique refs."""
        await self.records.create_index([("created_at", 1), ("_id", 1)])
        await self.records.create_index([("organization_id", 1), ("created_at", 1), ("_id", 1)])
        for name in self._unique:
            await self.records.create_index(name, unique=True)
        await self.db[IDEMPOTENCY].create_index(
            "created_at", name="created_ttl", expireAfterSeconds=IDEMPOTENCY_RETENTION_SECONDS
        )

    async def create(self, build: Callable[[], Change], key: IdempotencyKey | None) -> Outcome:
        """Insert the built record and its events; a repeated key replays the first record
        (changed=False) and stages nothing. `build` may run again if the transaction retries.
        Creations without a key arriving together share one transaction (group_commit)."""
        if key is None:
            return await self._together.submit(build)
        return await self._create(build, key)

    async def _create_many(self, builds: list[Callable[[], Change]]) -> list[Outcome]:
        """Several new records and their outbox rows in one transaction."""

        async def work(session: Session) -> list[Change]:
            changes = [build() for build in builds]
            await self.records.insert_many(
                [c.document for c in changes], session=session, ordered=True
            )
            now = datetime.now(UTC)
            await add_rows_to_outbox(
                self.db,
                session,
                [
                    record_row(c.messages, c.document["version"], c.document["_id"], now)
                    for c in changes
                    if c.messages
                ],
            )
            return changes

        changes = await in_transaction(self.client, work)
        self.relay.notify()
        return [Outcome(c.document, changed=True) for c in changes]

    async def _create(self, build: Callable[[], Change], key: IdempotencyKey | None) -> Outcome:
        """One new record in its own transaction. With a key, the key's unique `_id` decides,
        not a read before the write: the insert of a used key fails (after the first
        request's commit, if it is still in flight), the transaction rolls back whole and
        the first record is replayed."""

        async def work(session: Session) -> Outcome:
            change = build()
            if key is not None:
                await self.db[IDEMPOTENCY].insert_one(
                    {
                        "_id": key.id,
                        "fingerprint": key.fingerprint,
                        "record_id": change.document["_id"],
                        "created_at": change.document["created_at"],
                    },
                    session=session,
                )
            await self.records.insert_one(change.document, session=session)
            await add_to_outbox(
                self.db,
                session,
                change.messages,
                change.document["version"],
                record_id=change.document["_id"],
            )
            return Outcome(change.document, changed=True)

        try:
            outcome = await in_transaction(self.client, work)
        except DuplicateKeyError:
            replayed = await self._replay(key) if key is not None else None
            if replayed is None:  # another unique field, not the key: not a replay
                raise
            return replayed
        self.relay.notify()
        return outcome

    async def _replay(self, key: IdempotencyKey) -> Outcome | None:
        """The record a used key created (None if the key is unknown), provided this
        request's body is the one it came with."""
        seen = await self.db[IDEMPOTENCY].find_one({"_id": key.id})
        if seen is None:
            return None
        if seen["fingerprint"] != key.fingerprint:
            raise IdempotencyMismatch(key.key)
        first = await self.records.find_one({"_id": seen["record_id"]})
        if first is None:  # only if someone deleted it by hand
            raise NotFound(seen["record_id"])
        return Outcome(first, changed=False)

    async def get(self, record_id: str, scope: Mapping[str, Any]) -> Document:
        found = await self.records.find_one({"_id": record_id, **scope})
        if found is None:
            raise NotFound(record_id)
        return found

    async def page(
        self, filters: Mapping[str, Any], limit: int, cursor: str | None
    ) -> tuple[list[Document], str | None]:
        """Up to `limit` records in creation order after `cursor`, and the next cursor."""
        query: dict[str, Any] = dict(filters)
        if cursor is not None:
            created_at, last_id = decode_cursor(cursor)
            query["$or"] = [
                {"created_at": {"$gt": created_at}},
                {"created_at": created_at, "_id": {"$gt": last_id}},
            ]
        found: list[Document] = (
            await self.records.find(query)
            .sort([("created_at", 1), ("_id", 1)])
            .limit(limit + 1)
            .to_list()
        )
        items = found[:limit]
        more = len(found) > limit
        return items, encode_cursor(items[-1]) if more else None

    async def change(self, record_id: str, scope: Mapping[str, Any], decide: Decide) -> Outcome:
        """Read the record, let the pure `decide` rule on it (None = nothing to do), then
        write it and its events in one transaction and wake the relay."""

        async def work(session: Session) -> tuple[Outcome, bool]:
            current = await self.records.find_one({"_id": record_id, **scope}, session=session)
            if current is None:
                raise NotFound(record_id)
            change = decide(current)
            if change is None:
                return Outcome(current, changed=False), False
            await self.records.replace_one(
                {"_id": record_id, "version": current["version"]}, change.document, session=session
            )
            await add_to_outbox(
                self.db, session, change.messages, change.document["version"], record_id=record_id
            )
            return Outcome(change.document, changed=True), bool(change.messages)

        outcome, staged = await in_transaction(self.client, work)
        if staged:
            self.relay.notify()
        return outcome


def where(scope: Mapping[str, Any], **equals: str | None) -> dict[str, Any]:
    """A list filter: the caller's scope plus each given (not None) field equality."""
    return {**scope, **{name: str(v) for name, v in equals.items() if v is not None}}


def encode_cursor(last: Document) -> str:
    raw = json.dumps([last["created_at"].isoformat(), last["_id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_MAX_CHARS = 512  # what encode_cursor makes is under 120


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; anything but what encode_cursor made is an
    InvalidChange (a 422), whether malformed, deeply nested or out of the datetime range."""
    invalid = InvalidChange(
        [{"field": "cursor", "message": "not a cursor this API returned", "type": "cursor"}]
    )
    if len(cursor) > _CURSOR_MAX_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, last_id = json.loads(raw)
        if not isinstance(created_at, str) or not isinstance(last_id, str):
            raise invalid
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise invalid
        return when.astimezone(UTC), last_id
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise invalid from exc


@dataclass(frozen=True)
class RecordRules(Generic[CreateT, UpdateT]):
    """The pure rules a kind of record (offers, demands) brings to a RecordKeeper."""

    new: Callable[[CreateT, str, datetime], Change]
    revise: Callable[[Document, UpdateT, int | None, datetime], Change | None]
    withdraw: Callable[[Document, datetime], Change | None]


class RecordKeeper(Generic[CreateT, UpdateT]):
    """The operations every record API offers (create, read, list, revise, withdraw), each
    decided by the kind's pure rules; a service's store subclasses it and adds its own."""

    def __init__(self, records: RecordStore, rules: RecordRules[CreateT, UpdateT]) -> None:
        self.records = records
        self.rules = rules

    async def create(
        self, payload: CreateT, organization_id: str, key: IdempotencyKey | None
    ) -> Outcome:
        return await self.records.create(
            lambda: self.rules.new(payload, organization_id, now_ms()), key
        )

    async def get(self, record_id: str, scope: Mapping[str, Any]) -> Document:
        return await self.records.get(record_id, scope)

    async def page(
        self,
        scope: Mapping[str, Any],
        service_type: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Document], str | None]:
        filters = where(scope, service_type=service_type, status=status)
        return await self.records.page(filters, limit, cursor)

    async def revise(
        self,
        record_id: str,
        scope: Mapping[str, Any],
        update: UpdateT,
        expected_version: int | None,
    ) -> Outcome:
        return await self.records.change(
            record_id, scope, lambda d: self.rules.revise(d, update, expected_version, now_ms())
        )

    async def withdraw(
        self, record_id: str, scope: Mapping[str, Any], expected_version: int | None = None
    ) -> Outcome:
        def decide(document: Document) -> Change | None:
            # A record already off (a retried DELETE that went through) is answered as it
            # is: If-Match is checked only when there is something to change.
            change = self.rules.withdraw(document, now_ms())
            if change is not None:
                check_version(document, expected_version, "record")
            return change

        return await self.records.change(record_id, scope, decide)
