"""Demands in MongoDB: every change and its outbox events in one transaction."""

from datetime import datetime
from typing import Any

from concilia.contract.demands import DemandCreate, DemandStatus, DemandUpdate
from concilia.contract.matches import MatchEventData
from concilia.contract.taxonomy import ServiceType
from concilia.platform.changes import Document, now_ms
from concilia.platform.records import IdempotencyKey, Outcome, RecordStore, where
from services.demands import domain

COLLECTION = "demands"


class DemandStore:
    """The demands collection, changed only through the domain's decisions."""

    def __init__(self, records: RecordStore) -> None:
        self.records = records

    async def submit(
        self, payload: DemandCreate, organization_id: str, key: IdempotencyKey | None
    ) -> Outcome:
        return await self.records.create(
            lambda: domain.new_demand(payload, organization_id, now_ms()), key
        )

    async def get(self, demand_id: str, scope: dict[str, Any]) -> Document:
        return await self.records.get(demand_id, scope)

    async def page(
        self,
        scope: dict[str, Any],
        service_type: ServiceType | None,
        status: DemandStatus | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Document], str | None]:
        filters = where(scope, service_type=service_type, status=status)
        return await self.records.page(filters, limit, cursor)

    async def revise(
        self,
        demand_id: str,
        scope: dict[str, Any],
        update: DemandUpdate,
        expected_version: int | None,
    ) -> Outcome:
        return await self.records.change(
            demand_id, scope, lambda d: domain.revise(d, update, expected_version, now_ms())
        )

    async def withdraw(self, demand_id: str, scope: dict[str, Any]) -> Outcome:
        return await self.records.change(demand_id, scope, lambda d: domain.withdraw(d, now_ms()))

    async def apply_match(self, match: MatchEventData, at: datetime) -> Outcome:
        return await self.records.change(
            match.demand_id, {}, lambda d: domain.apply_match(d, match, at)
        )

    async def note_waiting(self, demand_id: str, reason: str, at: datetime) -> Outcome:
        return await self.records.change(
            demand_id, {}, lambda d: domain.note_waiting(d, reason, at)
        )
