"""The network's own question — where does demand go unmet, by area and service type, and is
it getting better week by week — answered from the matcher's database: `GET /v1/insight`
(role `operator`, JSON; `concilia stats` prints it). The gap gauges of /metrics come from
the markets in memory instead (gauges.py): they are read every few seconds.

Read from what is committed, not from the in-memory markets, so every matcher instance
answers for the whole network alike, whichever partitions it owns.
"This week" is the last 7 days before now, "last week" the 7 days before those; a
proposal counts in the week it was made, and as accepted if it is accepted now."""

import statistics
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from concilia.contract.matches import MatchState
from concilia.contract.taxonomy import AREA_OF, ServiceType
from concilia.platform.auth import Principal, Role
from concilia.platform.http import principal_dependency
from concilia.platform.mongo import Database
from concilia.platform.problems import Problem
from services.matcher import store

WEEK = timedelta(days=7)
_LIVE_OFFER = ("open", "full")


class GapRow(BaseModel):
    """One area × service type of the network."""

    area: str
    service_type: str
    open_offers: int  # offers with a free seat
    open_seats: int
    waiting_demands: int
    matched_this_week: int
    matched_last_week: int
    accepted_this_week: int
    accepted_last_week: int
    median_time_to_match_seconds: float | None  # proposals of this week
    top_unmet_reason: str | None  # the commonest reason among waiting demands


class Insight(BaseModel):
    """The gap table: every service type, in taxonomy order."""

    generated_at: datetime
    this_week_from: datetime
    last_week_from: datetime
    rows: list[GapRow]


async def supply(db: Database) -> dict[str, tuple[int, int]]:
    """(open offers, open seats) by service type."""
    by_type: dict[str, tuple[int, int]] = {}
    fields = {"service_type": 1, "reserved": 1, "data.status": 1, "data.capacity": 1}
    for doc in await db[store.OFFERS].find({"active": True}, fields).to_list():
        data: dict[str, Any] = doc["data"]
        if data.get("status") not in _LIVE_OFFER:
            continue
        free = max(0, int(data["capacity"]) - int(doc.get("reserved", 0)))
        offers, seats = by_type.get(doc["service_type"], (0, 0))
        by_type[doc["service_type"]] = (offers + (free > 0), seats + free)
    return by_type


async def waiting(db: Database) -> dict[str, Counter[str]]:
    """The reasons of the waiting demands, by service type."""
    reasons: dict[str, Counter[str]] = {}
    query = {"state": "waiting"}
    fields = {"service_type": 1, "waiting_reason": 1, "not_found_answers": 1}
    docs = await db[store.DEMANDS].find(query, fields).to_list()
    # A demand that got a proposal since its document was written is matched (store.matched).
    live = {"service_type": {"$in": [str(t) for t in ServiceType]}, "state": {"$in": store.LIVE}}
    matched = {
        m["demand_id"] for m in await db[store.MATCHES].find(live, {"demand_id": 1}).to_list()
    }
    docs = [doc for doc in docs if doc["_id"] not in matched]
    latest = {
        doc["_id"]: (doc.get("not_found_answers", 0), doc.get("waiting_reason")) for doc in docs
    }
    for log in await db[store.REASONS].find().to_list():  # answered again since (store.py)
        for demand_id, reason, answers in log["answers"]:
            if demand_id in latest and answers > latest[demand_id][0]:
                latest[demand_id] = (answers, reason)
    for doc in docs:
        reason = latest[doc["_id"]][1] or "unknown"
        reasons.setdefault(doc["service_type"], Counter())[reason] += 1
    return reasons


async def proposals_since(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Matches proposed since `since`, each with its demand's submission time."""
    fields = {"service_type": 1, "state": 1, "proposed_at": 1, "demand_id": 1}
    matches = await db[store.MATCHES].find({"proposed_at": {"$gte": since}}, fields).to_list()
    ids = sorted({m["demand_id"] for m in matches})
    demands = await db[store.DEMANDS].find({"_id": {"$in": ids}}, {"submitted_at": 1}).to_list()
    submitted = {d["_id"]: d["submitted_at"] for d in demands}
    for match in matches:
        match["submitted_at"] = submitted.get(match["demand_id"])
    return matches


async def insight(db: Database, now: datetime) -> Insight:
    """The gap table as of `now`."""
    this_week, last_week = now - WEEK, now - 2 * WEEK
    supplied = await supply(db)
    reasons = await waiting(db)
    rows = []
    recent = await proposals_since(db, last_week)
    for service_type in ServiceType:
        mine = [m for m in recent if m["service_type"] == service_type]
        current = [m for m in mine if m["proposed_at"] >= this_week]
        previous = [m for m in mine if m["proposed_at"] < this_week]
        waits = [
            (m["proposed_at"] - m["submitted_at"]).total_seconds()
            for m in current
            if m["submitted_at"] is not None
        ]
        unmet = reasons.get(service_type, Counter())
        offers, seats = supplied.get(service_type, (0, 0))
        rows.append(
            GapRow(
                area=str(AREA_OF[service_type]),
                service_type=str(service_type),
                open_offers=offers,
                open_seats=seats,
                waiting_demands=sum(unmet.values()),
                matched_this_week=len(current),
                matched_last_week=len(previous),
                accepted_this_week=sum(m["state"] == MatchState.ACCEPTED for m in current),
                accepted_last_week=sum(m["state"] == MatchState.ACCEPTED for m in previous),
                median_time_to_match_seconds=statistics.median(waits) if waits else None,
                top_unmet_reason=unmet.most_common(1)[0][0] if unmet else None,
            )
        )
    return Insight(generated_at=now, this_week_from=this_week, last_week_from=last_week, rows=rows)


async def _no_secret() -> Principal:
    raise Problem(401, "This matcher has no AUTH_JWT_SECRET: it cannot check tokens")


def insight_router(db: Database, secret: str | None, clock: Callable[[], datetime]) -> APIRouter:
    """GET /v1/insight for operators (401 for everyone when no secret is configured)."""
    router = APIRouter(tags=["insight"])
    principal = principal_dependency(secret) if secret else _no_secret

    @router.get("/v1/insight", summary="The network's gap table (operators)")
    async def get_insight(who: Annotated[Principal, Depends(principal)]) -> Insight:
        if not who.has(Role.OPERATOR):
            raise Problem(403, "Only operators read the network's insight")
        return await insight(db, clock())

    return router
