"""The matcher's own state in MongoDB (`concilia_matcher`): offers with their held seats,
demands waiting or matched in submission order, and the matches with their state
(README, lifecycle). A market is loaded per service type (its live matches only) and saved
record by record in the transaction of the events (or the expiry sweep) that changed it. A demand
that only got a proposal is not rewritten: its live match says it is matched (`matched`).

Writes are fenced by ownership: before loading a market, a member claims the topic
partition its events come from (`claim` bumps the partition's epoch in `markets`), and every
transaction that saves markets of that partition checks the epoch is still its own (and
bumps the partition's version, so two writers conflict). A member that lost the partition
to another, which claimed after it, can never commit: it gets `MarketMoved`. One fence per
partition, not per market: a transaction touching the 21 markets of three partitions
updated 21 fence documents, the largest write of every transaction in SecantusDB.

What was consumed is kept as the position reached in each topic partition (the last offset
handled), in the partition's fence document, written in the same transaction: an event at
or before it was handled. A position moves only from where the batch found it, so two
members can never both commit the same events. The fence check and the positions are one
update per partition (they were one document per topic partition beside the fence: 8
updates per transaction on the bench instead of 3)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import InsertOne, ReplaceOne, ReturnDocument, UpdateOne

from concilia.contract.demands import DemandEventData
from concilia.contract.matches import Answer, MatchState, NotFoundReason
from concilia.contract.offers import OfferEventData
from concilia.contract.taxonomy import ServiceType
from concilia.platform.mongo import Database, Document, Session
from services.matcher.domain.decisions import Outcome
from services.matcher.domain.lifecycle import Match
from services.matcher.domain.market import DemandRecord, DemandState, Market, OfferRecord
from services.matcher.domain.model import Demand, Offer

MARKETS = "markets"
OFFERS = "offers"
DEMANDS = "demands"
MATCHES = "matches"
# A waiting demand answered again with a new reason changes nothing else of it: instead of
# its whole document, a transaction writes one document per market listing such demands with
# their reason and answer count; loading applies the highest count. Once a market has
# FOLD_AT of them, a transaction replaces them with the latest entry of each demand they
# name, REASONS_PER_DOCUMENT to a document. (It used to rewrite those demands in full: on
# the bench, 1,441 demand documents in one command that held the database for 421 ms.)
REASONS = "reasons"
FOLD_AT = 50
REASONS_PER_DOCUMENT = 5_000
LIVE = [str(MatchState.PROPOSED), str(MatchState.ACCEPTED)]


async def ensure_indexes(db: Database) -> None:
    await db[OFFERS].create_index("service_type")
    await db[DEMANDS].create_index([("service_type", 1), ("seq", 1)])
    await db[MATCHES].create_index([("service_type", 1), ("state", 1)])
    await db[REASONS].create_index("service_type")


class MarketMoved(ConnectionError):
    """Another member claimed the market since we loaded it (a rebalance): nothing of ours
    is committed. A ConnectionError because it is waited out like an outage, never
    dead-lettered: the retry reloads the market from what the new owner committed."""


def fence_key(partition: int) -> str:
    """The id of a topic partition's fence document (in `markets`)."""
    return f"partition:{partition}"


async def claim(db: Database, partition: int) -> int:
    """Claim a partition before loading any of its markets: its new epoch (earlier claims
    are fenced off)."""
    doc = await db[MARKETS].find_one_and_update(
        {"_id": fence_key(partition)},
        {"$inc": {"epoch": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc is not None
    return int(doc["epoch"])


async def place(db: Database, service_type: str, partition: int) -> None:
    """Note the partition a market's events come from (`markets_on` reads it)."""
    await db[MARKETS].update_one(
        {"_id": service_type}, {"$set": {"partition": partition}}, upsert=True
    )


@dataclass
class Logged:
    """A market's reason documents not folded yet: how many, and the demands they name."""

    documents: int = 0
    demands: set[str] = field(default_factory=set)


async def load_market(
    db: Database, service_type: str, answer_ttl: timedelta, answer_grace: timedelta = timedelta(0)
) -> tuple[Market, Logged]:
    """The market of one service type as last committed, with its live matches."""
    offers = await db[OFFERS].find({"service_type": service_type}).to_list()
    held = {"service_type": service_type, "state": {"$ne": str(DemandState.CLOSED)}}
    demands = [_demand_record(doc) for doc in await db[DEMANDS].find(held).sort("seq", 1).to_list()]
    logged = await _apply_reasons(db, service_type, demands)
    # Closed demands stay in the database: only their version and order are loaded.
    closed = {"service_type": service_type, "state": str(DemandState.CLOSED)}
    tombstones = await db[DEMANDS].find(closed, {"version": 1, "seq": 1}).to_list()
    live = {"service_type": service_type, "state": {"$in": LIVE}}
    matches = await db[MATCHES].find(live).sort("seq", 1).to_list()
    matched(demands, matches)
    market = Market(
        service_type,
        offers=[_offer_record(doc) for doc in offers],
        demands=demands,
        closed=[(doc["_id"], doc["version"], doc["seq"]) for doc in tombstones],
        matches=[_match(doc) for doc in matches],
        answer_ttl=answer_ttl,
        answer_grace=answer_grace,
    )
    return market, logged


def matched(demands: list[DemandRecord], live_matches: list[Document]) -> None:
    """Give each demand its live match: a demand's document is not rewritten when it only
    got a proposal (a third of the writes on a busy market, each dearer than an insert),
    so the match's document is what says the demand is matched, and by how many proposals
    its demand has been reached so far (part of the next proposal's id)."""
    by_id = {record.demand.id: record for record in demands}
    for doc in live_matches:
        record = by_id.get(doc["demand_id"])
        if record is not None:
            record.state = DemandState.MATCHED
            record.match_id, record.offer_id = doc["_id"], doc["offer_id"]
            record.proposals = max(record.proposals, doc.get("proposals") or 0)


async def _apply_reasons(db: Database, service_type: str, demands: list[DemandRecord]) -> Logged:
    """Give each demand the reason of its latest answer (the highest count wins, whether in
    its document or in a reason document)."""
    docs = await db[REASONS].find({"service_type": service_type}).to_list()
    by_id = {record.demand.id: record for record in demands}
    logged = Logged(len(docs))
    for doc in docs:
        for demand_id, reason, answers in doc["answers"]:
            logged.demands.add(demand_id)
            record = by_id.get(demand_id)
            if record is not None and answers > record.not_found_answers:
                record.waiting_reason = NotFoundReason(reason) if reason else None
                record.not_found_answers = answers
    return logged


async def markets_on(db: Database, partitions: set[int]) -> list[tuple[str, int]]:
    """(service type, partition) of the markets whose events come from `partitions` (as
    their last transaction wrote), and of those with a proposal waiting for answers: all
    are loaded when partitions are assigned, so that windows run out and the gap gauges
    count every market even if no event comes."""
    found = set(await markets_with_proposals(db, partitions))
    docs = await db[MARKETS].find({"partition": {"$in": sorted(partitions)}}).to_list()
    found |= {(doc["_id"], int(doc["partition"])) for doc in docs}
    return sorted(found)


async def markets_with_proposals(db: Database, partitions: set[int]) -> list[tuple[str, int]]:
    """(service type, partition) of the markets on `partitions` that have a proposal
    waiting for answers: their windows must run out even if no event comes. One look-up per
    service type on the (service_type, state) index: every write pays for an index, and this
    runs only when partitions are assigned."""
    found = []
    for service_type in ServiceType:
        doc = await db[MATCHES].find_one(
            {"service_type": str(service_type), "state": str(MatchState.PROPOSED)},
            {"partition": 1},
        )
        if doc is not None and doc.get("partition") in partitions:
            found.append((str(service_type), int(doc["partition"])))
    return sorted(found)


def position_key(topic: str, partition: int) -> str:
    """The name of a topic partition's position (the last offset handled there)."""
    return f"position:{topic}:{partition}"


OFFSETS = "offsets"  # the field of a fence document holding its partition's positions


def _where(key: str) -> tuple[int, str]:
    """The partition whose fence document holds a position, and its name under OFFSETS (a
    topic name has no colon; its dots would make a path)."""
    _, topic, partition = key.split(":")
    return int(partition), topic.replace(".", "_")


async def positions(db: Database, keys: set[str]) -> dict[str, int]:
    """The last offset handled in each of these topic partitions (absent: none yet). A
    position still in a document of its own (as written before positions moved into the
    fence documents) is moved there first."""
    if not keys:
        return {}
    where = {key: _where(key) for key in keys}
    fences = (
        await db[MARKETS]
        .find({"_id": {"$in": sorted({fence_key(p) for p, _ in where.values()})}})
        .to_list()
    )
    found = {}
    by_id = {doc["_id"]: doc for doc in fences}
    for key, (partition, name) in where.items():
        offset = by_id.get(fence_key(partition), {}).get(OFFSETS, {}).get(name)
        if offset is not None:
            found[key] = int(offset)
    legacy = await db[MARKETS].find({"_id": {"$in": sorted(keys - found.keys())}}).to_list()
    for doc in legacy:
        partition, name = where[doc["_id"]]
        await db[MARKETS].update_one(
            {"_id": fence_key(partition)},
            {"$max": {f"{OFFSETS}.{name}": int(doc["offset"])}},
            upsert=True,
        )
        await db[MARKETS].delete_one({"_id": doc["_id"]})
        found[doc["_id"]] = int(doc["offset"])
    return found


async def events_handled(db: Database) -> int:
    """How many events the positions cover (offsets from 0, all handled): for tests and the
    bench, whose topics start empty."""
    fences = await db[MARKETS].find({OFFSETS: {"$exists": True}}).to_list()
    return sum(int(offset) + 1 for doc in fences for offset in doc[OFFSETS].values())


@dataclass(frozen=True)
class Positions:
    """The positions a batch started from (`read`) and those it reached (`moved`)."""

    read: dict[str, int]
    moved: dict[str, int]


@dataclass(frozen=True)
class Changed:
    """What one market's events changed, the partition they come from and our epoch on
    it, and the market's reason documents (updated as the writes are worked out)."""

    market: Market
    outcome: Outcome
    partition: int
    epoch: int
    logged: Logged


@dataclass(frozen=True)
class Writes:
    """The documents of a batch, worked out before its transaction (which may rerun)."""

    positions: Positions
    fences: list[tuple[int, int]]  # partition, our epoch on it
    docs: dict[str, list[Document]]
    folded: list[str]  # the markets whose reason documents go
    created: set[str]  # ids of records new to the database: inserted, not replaced


def writes(positions: Positions, changes: Sequence[Changed]) -> Writes:
    """Every record the changes touched, as documents, and the epochs to check."""
    docs: dict[str, list[Document]] = {OFFERS: [], DEMANDS: [], MATCHES: [], REASONS: []}
    folded: list[str] = []
    for change in changes:
        market, outcome, logged = change.market, change.outcome, change.logged
        # A demand that only got a proposal keeps its document: its live match says so.
        full = outcome.demands | (outcome.matched & outcome.created)
        again = outcome.reasons - full
        if again and logged.documents + 1 >= FOLD_AT:
            # The latest entry of each demand named so far, in place of the documents; a
            # demand written in full now has it in its own document.
            named = sorted(((again | logged.demands) & market.demands.keys()) - full)
            parts = [
                named[i : i + REASONS_PER_DOCUMENT]
                for i in range(0, len(named), REASONS_PER_DOCUMENT)
            ]
            docs[REASONS] += [_reasons_doc(market, part) for part in parts]
            logged.documents, logged.demands = len(parts), set(named)
            folded.append(market.service_type)
        elif again:
            docs[REASONS].append(_reasons_doc(market, sorted(again)))
            logged.documents += 1
            logged.demands |= again
        docs[OFFERS] += [_offer_doc(market.offers[i]) for i in sorted(outcome.offers)]
        docs[DEMANDS] += [_demand_doc(market.demand_record(i)) for i in sorted(full)]
        docs[MATCHES] += [
            _match_doc(m, change.partition, _proposals(market, m, outcome.created))
            for m in outcome.matches.values()
        ]
    fences = sorted({(c.partition, c.epoch) for c in changes})
    created = {record_id for c in changes for record_id in c.outcome.created}
    return Writes(positions, fences, docs, folded, created)


async def save(db: Database, session: Session, batch: Writes) -> None:
    """Write a batch's records inside the caller's transaction, if every partition is still
    ours (its epoch unchanged) and no one handled its events meanwhile (the positions it
    started from unchanged); else raise MarketMoved, which aborts the transaction. At most
    two commands per collection (its inserts, its replaces), whatever the number of markets."""
    read, moved = batch.positions.read, batch.positions.moved
    checks: dict[int, Document] = {partition: {"epoch": epoch} for partition, epoch in batch.fences}
    offsets: dict[int, Document] = {}
    for key, offset in sorted(moved.items()):
        partition, name = _where(key)
        path = f"{OFFSETS}.{name}"
        # A position moves only from where this batch found it: another member that
        # handled some of these events meanwhile (a rebalance) made it move.
        checks.setdefault(partition, {})[path] = read.get(key, {"$exists": False})
        offsets.setdefault(partition, {})[path] = offset
    steps = []
    for partition, check in sorted(checks.items()):
        update: Document = {"$inc": {"version": 1}}  # two writers of a partition conflict
        if partition in offsets:
            update["$set"] = offsets[partition]
        steps.append(UpdateOne({"_id": fence_key(partition), **check}, update))
    if steps:
        done = await db[MARKETS].bulk_write(steps, session=session)
        if done.matched_count != len(steps):
            raise MarketMoved("a partition or these events were taken by another member")
    if batch.folded:
        await db[REASONS].delete_many({"service_type": {"$in": batch.folded}}, session=session)
    if batch.docs[REASONS]:
        await db[REASONS].insert_many(batch.docs[REASONS], session=session)
    for collection, docs in batch.docs.items():
        if docs and collection != REASONS:
            # Unordered (each record appears once): the driver sends all the inserts in one
            # command and all the replaces in another. Ordered, it sent one command per run
            # of inserts or replaces: 4.5 round trips per transaction for the offers alone.
            await db[collection].bulk_write(
                [_write(doc, batch.created) for doc in docs], ordered=False, session=session
            )


def _write(doc: Document, created: set[str]) -> InsertOne[Document] | ReplaceOne[Document]:
    """A record new to the database is inserted: in SecantusDB an upsert costs about four
    times an insert (it looks the record up first)."""
    if doc["_id"] in created:
        return InsertOne(doc)
    return ReplaceOne({"_id": doc["_id"]}, doc, upsert=True)


def _offer_doc(record: OfferRecord) -> Document:
    return {
        "_id": record.offer.id,
        "service_type": record.offer.service_type,
        "version": record.offer.version,
        "active": record.active,
        "reserved": record.reserved,
        "data": record.offer.data,
    }


def _reasons_doc(market: Market, demand_ids: list[str]) -> Document:
    """[demand id, its last reason (null if it never had one), its answer count] of each
    demand."""
    answers = [
        [demand_id, _reason(record.waiting_reason), record.not_found_answers]
        for demand_id in demand_ids
        for record in [market.demand_record(demand_id)]
    ]
    return {"_id": ObjectId(), "service_type": market.service_type, "answers": answers}


def _reason(reason: NotFoundReason | None) -> str | None:
    return None if reason is None else str(reason)


def _offer_record(doc: dict[str, Any]) -> OfferRecord:
    offer = Offer.from_event(OfferEventData.model_validate(doc["data"]))
    return OfferRecord(offer, active=doc["active"], reserved=doc["reserved"])


def _demand_doc(record: DemandRecord) -> Document:
    return {
        "_id": record.demand.id,
        "service_type": record.demand.service_type,
        "version": record.demand.version,
        "state": str(record.state),
        "seq": record.seq,
        "submitted_at": record.submitted_at,
        "match_id": record.match_id,
        "offer_id": record.offer_id,
        "waiting_reason": record.waiting_reason,
        "not_found_answers": record.not_found_answers,
        "proposals": record.proposals,
        "excluded": sorted(record.excluded),
        "raw": record.demand.raw,  # compact JSON: a nested document costs far more to write
    }


def _demand_record(doc: dict[str, Any]) -> DemandRecord:
    submitted_at: datetime = doc["submitted_at"]
    return DemandRecord(
        demand=_demand(doc, "raw", "data"),
        state=DemandState(doc["state"]),
        seq=doc["seq"],
        submitted_at=submitted_at,
        match_id=doc["match_id"],
        offer_id=doc["offer_id"],
        waiting_reason=NotFoundReason(doc["waiting_reason"]) if doc.get("waiting_reason") else None,
        not_found_answers=doc.get("not_found_answers", 0),
        proposals=doc.get("proposals", 0),
        excluded=set(doc.get("excluded", ())),
    )


def _proposals(market: Market, match: Match, created: set[str]) -> int | None:
    """For a new match: how many proposals its demand has had (its document may not say)."""
    if match.match_id not in created:
        return None
    return market.demand_record(match.demand_id).proposals


def _match_doc(match: Match, partition: int | None, proposals: int | None) -> Document:
    return {
        "_id": match.match_id,
        "service_type": match.demand.service_type,
        "partition": partition,  # of the market's events: whoever owns it sweeps its expiry
        "demand_id": match.demand_id,
        "offer_id": match.offer_id,
        "seats": match.seats,
        "score": match.score,
        "reasons": match.reasons,
        "seq": match.seq,
        "state": str(match.state),
        "proposed_at": match.proposed_at,
        "expires_at": match.expires_at,
        "requester_answer": match.requester_answer,
        "provider_answer": match.provider_answer,
        "offer_raw": match.offer.raw,  # as proposed, compact JSON
        "demand_raw": match.demand.raw,
        **({"proposals": proposals} if proposals is not None else {}),
    }


def _match(doc: dict[str, Any]) -> Match:
    answers = {
        f: Answer(doc[f]) if doc.get(f) else None for f in ("requester_answer", "provider_answer")
    }
    return Match(
        match_id=doc["_id"],
        demand=_demand(doc, "demand_raw", "demand"),
        offer=_offer(doc, "offer_raw", "offer"),
        seats=doc["seats"],
        score=doc["score"],
        reasons=doc["reasons"],
        seq=doc["seq"],
        state=MatchState(doc["state"]),
        proposed_at=doc["proposed_at"],
        expires_at=doc["expires_at"],
        **answers,
    )


def _demand(doc: dict[str, Any], raw: str, data: str) -> Demand:
    """The demand a document keeps as compact JSON (`raw`), or as a document (`data`: as
    written before payloads were kept as JSON)."""
    if raw in doc:
        return Demand.from_event(DemandEventData.model_validate_json(doc[raw]))
    return Demand.from_event(DemandEventData.model_validate(doc[data]))


def _offer(doc: dict[str, Any], raw: str, data: str) -> Offer:
    """The offer a document keeps as compact JSON (`raw`), or as a document (`data`)."""
    if raw in doc:
        return Offer.from_event(OfferEventData.model_validate_json(doc[raw]))
    return Offer.from_event(OfferEventData.model_validate(doc[data]))
