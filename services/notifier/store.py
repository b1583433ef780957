"""The notifier's database: contacts (from welfare.contacts.v1) and the sent-mail ledger of
notification jobs. Every status change that others must learn about is written together
with its notification event (transactional outbox)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import DuplicateKeyError

from concilia.contract import topics
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.notifications import NotificationEventData, NotificationType
from concilia.platform.mongo import Database, Document, Session, in_transaction
from concilia.platform.outbox import OutgoingMessage, add_batch_to_outbox, ensure_outbox_indexes
from services.notifier.domain.jobs import JobStatus, PlannedJob

CONTACTS = "contacts"
ERASED = "erased_contacts"  # refs whose contact was erased (a ref only, no personal data)
JOBS = "notification_jobs"
SERVICE = "notifier"


@dataclass(frozen=True)
class StoredContact:
    ref: str
    name: str
    email: str
    language: str


@dataclass(frozen=True)
class Outcome:
    """How the attempt of a claimed job ended: `sent` or `failed` (for good)."""

    job: Document
    status: JobStatus
    attempts: int
    error: str | None
    at: datetime


class Ledger:
    """Contacts and notification jobs in the notifier's own database."""

    def __init__(self, client: AsyncMongoClient[Document], db: Database) -> None:
        self._client = client
        self._db = db

    async def ensure_indexes(self) -> None:
        await ensure_outbox_indexes(self._db)
        await self._db[JOBS].create_index([("status", 1), ("next_attempt_at", 1)])
        await self._db[JOBS].create_index([("waiting_for", 1), ("status", 1)])
        await self._db[JOBS].create_index([("recipient_ref", 1), ("status", 1)])
        await self._db[JOBS].create_index([("mention_ref", 1), ("status", 1)])

    # -- contacts ----------------------------------------------------------------------

    async def upsert_contact(self, contact: StoredContact, now: datetime) -> None:
        """Store the contact, then free the jobs that were waiting for it."""
        await self._db[CONTACTS].update_one(
            {"_id": contact.ref},
            {"$set": {**contact.__dict__, "updated_at": now}},
            upsert=True,
        )
        await self._db[ERASED].delete_one({"_id": contact.ref})
        await self._free_waiting(contact.ref)

    async def erase_contact(self, ref: str, now: datetime) -> list[str]:
        """Forget the contact (erasure) and drop the pending jobs that cannot go out without
        it: those addressed to `ref` and those that must name it. Jobs that would only like
        to name it are freed to go out without it. Returns the dropped jobs' templates.

        The ref is remembered as erased, so a job planned later for it, or one that was
        being sent meanwhile, is dropped by the dispatcher instead of waiting forever."""
        await self._db[CONTACTS].delete_one({"_id": ref})
        await self._db[ERASED].update_one(
            {"_id": ref}, {"$setOnInsert": {"erased_at": now}}, upsert=True
        )
        # Two queries, each on its own index (an $or here was a scan of every job).
        needing = [
            {"recipient_ref": ref, "status": JobStatus.PENDING},
            {"mention_ref": ref, "status": JobStatus.PENDING, "mention_required": True},
        ]
        dropped = []
        for query in needing:
            async for job in self._db[JOBS].find(query, {"template": 1}):
                result = await self._db[JOBS].update_one(
                    {"_id": job["_id"], "status": JobStatus.PENDING},
                    {"$set": _dropped(now)},
                )
                if result.modified_count:
                    dropped.append(job["template"])
        await self._free_waiting(ref)
        return dropped

    async def supersede(self, job_id: str, now: datetime) -> bool:
        """Drop a job not sent yet because newer news makes it moot (a proposal arrived
        while the demand's waiting e-mail was held back)."""
        result = await self._db[JOBS].update_one(
            {"_id": job_id, "status": JobStatus.PENDING},
            {"$set": {**_dropped(now), "last_error": "superseded"}},
        )
        return result.modified_count > 0

    async def is_erased(self, ref: str) -> bool:
        return await self._db[ERASED].find_one({"_id": ref}) is not None

    async def contacts(self, refs: set[str]) -> dict[str, StoredContact]:
        """The known contacts among `refs`, by ref (one query for a batch of jobs)."""
        found = self._db[CONTACTS].find({"_id": {"$in": sorted(refs)}})
        return {doc["_id"]: _contact(doc) async for doc in found}

    async def erased(self, refs: set[str]) -> set[str]:
        """Those of `refs` whose contact was erased."""
        found = self._db[ERASED].find({"_id": {"$in": sorted(refs)}}, {"_id": 1})
        return {doc["_id"] async for doc in found}

    async def _free_waiting(self, ref: str) -> None:
        await self._db[JOBS].update_many(
            {"status": JobStatus.PENDING, "waiting_for": ref},
            {"$set": {"waiting_for": None, "waiting_until": None}},
        )

    async def contact(self, ref: str) -> StoredContact | None:
        doc = await self._db[CONTACTS].find_one({"_id": ref})
        return None if doc is None else _contact(doc)

    # -- jobs --------------------------------------------------------------------------

    async def add_jobs(
        self,
        planned: list[PlannedJob],
        match: dict[str, Any],
        now: datetime,
        due: datetime | None = None,
    ) -> int:
        """Insert the jobs that do not exist yet, due at `due` (default now); returns how
        many were new."""
        created = 0
        for job in planned:
            doc = {
                "match_id": job.match_id,
                "recipient_ref": job.recipient_ref,
                "template": job.template,
                "mention_ref": job.mention_ref,
                "mention_required": job.mention_required,
                "match": match,
                "status": JobStatus.PENDING,
                "attempts": 0,
                "last_error": None,
                "waiting_for": None,
                "waiting_until": None,
                "next_attempt_at": due or now,
                "lease_until": None,
                "lease_token": None,
                "created_at": now,
                "updated_at": now,
                "sent_at": None,
            }
            try:
                result = await self._db[JOBS].update_one(
                    {"_id": job.id}, {"$setOnInsert": doc}, upsert=True
                )
            except DuplicateKeyError:  # a concurrent delivery inserted it first
                continue
            created += result.upserted_id is not None
        return created

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        """The ids of up to `limit` jobs due now, the longest due first: candidates for
        `claim`. Each way of being due is its own query: SecantusDB answers an $or by
        reading every pending job once per branch, and a plain condition on its index
        (status first) only once."""
        found: list[Document] = []
        for way in _due(now)["$or"]:
            query = self._db[JOBS].find(way, {"next_attempt_at": 1}).sort("next_attempt_at", 1)
            found += await query.limit(limit).to_list()
        found.sort(key=lambda doc: (doc["next_attempt_at"], doc["_id"]))
        return list(dict.fromkeys(doc["_id"] for doc in found))[:limit]

    async def claim(
        self, now: datetime, lease: timedelta, token: str, job_ids: list[str]
    ) -> list[Document]:
        """Atomically take those of `job_ids` still due (pending, or sending with an expired
        lease) under the lease `token`; returns the jobs taken, in the order of `job_ids`.
        A job another dispatcher took meanwhile is not among them."""
        # A claimed job no longer waits for a contact: the dispatcher decides again with what
        # it finds, and may put it back to wait. Left set, a `waiting_until` now past would
        # make the job due again at once after a deferral, ignoring its `next_attempt_at`.
        claimed = {
            "status": JobStatus.SENDING,
            "lease_until": now + lease,
            "lease_token": token,
            "waiting_for": None,
            "waiting_until": None,
        }
        waiting, waited, abandoned = _due(now)["$or"]
        # Each way of being due on its own, the ids beside plain conditions: with an $or
        # SecantusDB scans every job (0.65 s at 8,000) instead of finding the ids.
        for way in (waiting, waited):
            await self._db[JOBS].update_many({"_id": {"$in": job_ids}, **way}, {"$set": claimed})
        # The last dispatcher died holding these: whether the server accepted its mail is
        # unknown, so this send may be the duplicate the dispatcher's docstring names.
        await self._db[JOBS].update_many(
            {"_id": {"$in": job_ids}, **abandoned},
            {"$set": claimed, "$inc": {"uncertain_resends": 1}},
        )
        taken = {
            doc["_id"]: doc
            async for doc in self._db[JOBS].find(
                {"_id": {"$in": job_ids}, "status": JobStatus.SENDING, "lease_token": token}
            )
        }
        return [taken[job_id] for job_id in job_ids if job_id in taken]

    async def wait_for(self, job: Document, ref: str, until: datetime | None) -> None:
        """Put a claimed job back to wait for contact `ref` (for ever if `until` is None)."""
        await self._release(job, {"waiting_for": ref, "waiting_until": until})
        # The contact may have arrived or been erased between our look-up and the release;
        # its upsert or tombstone then missed this job (it was not pending), so look again:
        # a freed job is claimed again and the dispatcher decides with what it finds then.
        if await self.contact(ref) is not None or await self.is_erased(ref):
            await self._db[JOBS].update_one(
                {"_id": job["_id"], "status": JobStatus.PENDING, "waiting_for": ref},
                {"$set": {"waiting_for": None, "waiting_until": None}},
            )

    async def retry_later(self, job: Document, attempts: int, error: str, at: datetime) -> None:
        await self._release(job, {"attempts": attempts, "last_error": error, "next_attempt_at": at})

    async def wait_out(self, job: Document, until: datetime, error: str) -> None:
        """Put a claimed job back until `until` without using an attempt (an outage)."""
        await self._release(job, {"last_error": error, "next_attempt_at": until})

    async def drop(self, job: Document, now: datetime) -> bool:
        """End a claimed job as dropped (a contact it needs was erased); no event is
        published. False if the lease was lost."""
        result = await self._db[JOBS].update_one(
            {"_id": job["_id"], "status": JobStatus.SENDING, "lease_token": job["lease_token"]},
            {"$set": _dropped(now)},
        )
        return result.modified_count > 0

    async def _release(self, job: Document, fields: dict[str, Any]) -> None:
        await self._db[JOBS].update_one(
            {"_id": job["_id"], "lease_token": job["lease_token"]},
            {"$set": {**fields, "status": JobStatus.PENDING, "lease_until": None}},
        )

    async def record_outcomes(self, outcomes: list[Outcome]) -> list[bool]:
        """Mark jobs sent or failed and stage their notification events, all in ONE
        transaction; for each, whether it was recorded (False: its lease was lost, another
        dispatcher took the job over, and nothing is written for it)."""

        async def work(session: Session) -> list[bool]:
            ids = [outcome.job["_id"] for outcome in outcomes]
            holding = {
                doc["_id"]: doc["lease_token"]
                async for doc in self._db[JOBS].find(
                    {"_id": {"$in": ids}, "status": JobStatus.SENDING},
                    {"lease_token": 1},
                    session=session,
                )
            }
            owned = [o for o in outcomes if holding.get(o.job["_id"]) == o.job["lease_token"]]
            if owned:
                result = await self._db[JOBS].bulk_write(
                    [_recorded(o) for o in owned], ordered=False, session=session
                )
                if result.matched_count != len(owned):  # cannot happen inside a transaction
                    raise RuntimeError("the ledger changed under a transaction: retrying")
                await add_batch_to_outbox(self._db, session, [_event(o) for o in owned])
            return [holding.get(o.job["_id"]) == o.job["lease_token"] for o in outcomes]

        return await in_transaction(self._client, work)

    async def unfinished(self) -> int:
        """Jobs not yet sent or failed (waiting for a contact, due, or being sent)."""
        return await self._db[JOBS].count_documents(
            {"status": {"$in": [JobStatus.PENDING, JobStatus.SENDING]}}
        )

    async def job(self, job_id: str) -> Document | None:
        return await self._db[JOBS].find_one({"_id": job_id})


def _due(now: datetime) -> dict[str, Any]:
    """Jobs to send now: pending and not waiting, or waiting until a moment now past, or
    being sent by a dispatcher whose lease ran out (it died, or lost the database)."""
    return {
        "$or": [
            {"status": JobStatus.PENDING, "waiting_for": None, "next_attempt_at": {"$lte": now}},
            {"status": JobStatus.PENDING, "waiting_until": {"$lte": now}},
            {"status": JobStatus.SENDING, "lease_until": {"$lt": now}},
        ]
    }


def _recorded(outcome: Outcome) -> UpdateOne:
    job = outcome.job
    changes: dict[str, Any] = {
        "status": outcome.status,
        "attempts": outcome.attempts,
        "last_error": outcome.error,
        "lease_until": None,
        "updated_at": outcome.at,
    }
    if outcome.status is JobStatus.SENT:
        changes["sent_at"] = outcome.at
    return UpdateOne(
        {"_id": job["_id"], "status": JobStatus.SENDING, "lease_token": job["lease_token"]},
        {"$set": changes},
    )


def _event(outcome: Outcome) -> OutgoingMessage:
    job = outcome.job
    event_type = (
        NotificationType.SENT if outcome.status is JobStatus.SENT else NotificationType.FAILED
    )
    data = NotificationEventData(
        notification_id=job["_id"],
        match_id=job["match_id"],
        recipient_ref=job["recipient_ref"],
        template=job["template"],
        attempt=outcome.attempts,
        error=outcome.error,
    )
    event = CloudEvent.new(
        id=stable_id(job["_id"], event_type),
        type=event_type,
        source=SERVICE,
        subject=job["_id"],
        data=data.model_dump(mode="json"),
        time=outcome.at,
    )
    return OutgoingMessage(topics.NOTIFICATIONS, job["match_id"], event)


def _contact(doc: Document) -> StoredContact:
    return StoredContact(doc["ref"], doc["name"], doc["email"], doc["language"])


def _dropped(now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.DROPPED,
        "last_error": "contact_erased",
        "waiting_for": None,
        "waiting_until": None,
        "lease_until": None,
        "updated_at": now,
    }
