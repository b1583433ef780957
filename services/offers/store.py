"""Offers in MongoDB: every change and its outbox events in one transaction."""

from datetime import date
from typing import Any

from concilia.contract.offers import OfferCreate, OfferStatus, OfferUpdate
from concilia.contract.taxonomy import ServiceType
from concilia.platform.changes import Document, now_ms
from concilia.platform.records import IdempotencyKey, Outcome, RecordStore, where
from services.offers import domain

COLLECTION = "offers"


class OfferStore:
    """The offers collection, changed only through the domain's decisions."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    async def publish(
        self, payload: OfferCreate, organization_id: str, key: IdempotencyKey | None
    ) -> Outcome:
        return await self.records.create(
            lambda: domain.new_offer(payload, organization_id, now_ms()), key
        )

    async def get(self, offer_id: str, scope: dict[str, Any]) -> Document:
        return await self.records.get(offer_id, scope)

    async def page(
        self,
        scope: dict[str, Any],
        service_type: ServiceType | None,
        status: OfferStatus | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Document], str | None]:
        filters = where(scope, service_type=service_type, status=status)
        return await self.records.page(filters, limit, cursor)

    async def revise(
        self,
        offer_id: str,
        scope: dict[str, Any],
        update: OfferUpdate,
        expected_version: int | None,
    ) -> Outcome:
        return await self.records.change(
            offer_id, scope, lambda o: domain.revise(o, update, expected_version, now_ms())
        )

    async def withdraw(self, offer_id: str, scope: dict[str, Any]) -> Outcome:
        return await self.records.change(offer_id, scope, lambda o: domain.withdraw(o, now_ms()))

    async def reserve(self, offer_id: str, match_id: str, seats: int) -> Outcome:
        return await self.records.change(
            offer_id, {}, lambda o: domain.reserve(o, match_id, seats, now_ms())
        )

    async def expire_due(self, today: date) -> int:
        """Expire every open or full offer past its valid_until; returns how many."""
        due = await self.records.records.find(
            {
                "status": {"$in": [s.value for s in domain.ON_THE_MARKET]},
                "valid_until": {"$lt": today.isoformat()},
            },
            {"_id": 1},
        ).to_list()
        expired = 0
        for offer in due:
            outcome = await self.records.change(
                offer["_id"], {}, lambda o: domain.expire(o, today, now_ms())
            )
            expired += outcome.changed
        return expired
