"""The matcher's own state in MongoDB (`concilia_matcher`): offers with their reserved
seats, demands waiting or matched in submission order. A market is loaded per service type
and saved record by record in the transaction of the event that changed it."""

from datetime import datetime
from typing import Any

from pymongo import ReplaceOne

from concilia.contract.demands import DemandEventData
from concilia.contract.matches import NotFoundReason
from concilia.contract.offers import OfferEventData
from concilia.platform.mongo import Database, Document, Session
from services.matcher.domain.decisions import Outcome
from services.matcher.domain.market import DemandRecord, DemandState, Market, OfferRecord
from services.matcher.domain.model import Demand, Offer

OFFERS = "offers"
DEMANDS = "demands"


async def ensure_indexes(db: Database) -> None:
    await db[OFFERS].create_index("service_type")
    await db[DEMANDS].create_index([("service_type", 1), ("seq", 1)])


async def load_market(db: Database, service_type: str) -> Market:
    """The market of one service type as last committed."""
    offers = await db[OFFERS].find({"service_type": service_type}).to_list()
    demands = await db[DEMANDS].find({"service_type": service_type}).sort("seq", 1).to_list()
    return Market(
        service_type,
        offers=[_offer_record(doc) for doc in offers],
        demands=[_demand_record(doc) for doc in demands],
    )


async def save(db: Database, session: Session, market: Market, outcome: Outcome) -> None:
    """Write the records `outcome` changed, inside the caller's transaction."""
    offers = [_offer_doc(market.offers[i]) for i in sorted(outcome.offers)]
    demands = [_demand_doc(market.demands[i]) for i in sorted(outcome.demands)]
    for collection, docs in ((OFFERS, offers), (DEMANDS, demands)):
        if docs:
            await db[collection].bulk_write(
                [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in docs],
                ordered=True,
                session=session,
            )


def _offer_doc(record: OfferRecord) -> Document:
    return {
        "_id": record.offer.id,
        "service_type": record.offer.service_type,
        "version": record.offer.version,
        "active": record.active,
        "reserved": record.reserved,
        "data": record.offer.event.model_dump(mode="json"),
    }


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
        "data": record.demand.event.model_dump(mode="json"),
    }


def _demand_record(doc: dict[str, Any]) -> DemandRecord:
    submitted_at: datetime = doc["submitted_at"]
    return DemandRecord(
        demand=Demand.from_event(DemandEventData.model_validate(doc["data"])),
        state=DemandState(doc["state"]),
        seq=doc["seq"],
        submitted_at=submitted_at,
        match_id=doc["match_id"],
        offer_id=doc["offer_id"],
        waiting_reason=NotFoundReason(doc["waiting_reason"]) if doc.get("waiting_reason") else None,
        not_found_answers=doc.get("not_found_answers", 0),
    )
