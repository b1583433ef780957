"""Demands in MongoDB: every change and its outbox events in one transaction."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from concilia.contract.demands import DemandCreate, DemandUpdate
from concilia.contract.matches import Answer, MatchEventData
from concilia.platform.changes import now_ms
from concilia.platform.records import Outcome, RecordKeeper, RecordRules, RecordStore
from services.demands import domain, domain_matches

COLLECTION = "demands"
RULES = RecordRules(domain.new_demand, domain.revise, domain.withdraw)


class DemandStore(RecordKeeper[DemandCreate, DemandUpdate]):
    """The demands collection, changed only through the domain's decisions."""

    def __init__(self, records: RecordStore) -> None:
        super().__init__(records, RULES)

    async def apply_match_event(self, type_: str, data: MatchEventData, at: datetime) -> Outcome:
        """Apply a match.* event to the demand it names (raises NotFound for another's)."""
        return await self.records.change(
            data.demand_id, {}, lambda d: domain_matches.apply_match_event(d, type_, data, at)
        )

    async def note_waiting(self, demand_id: str, reason: str, at: datetime) -> Outcome:
        return await self.records.change(
            demand_id, {}, lambda d: domain_matches.note_waiting(d, reason, at)
        )

    async def answer(
        self,
        demand_id: str,
        scope: Mapping[str, Any],
        given: Answer,
        *,
        match_id: str | None = None,
        single_use: bool = False,
    ) -> Outcome:
        """The requester's answer, kept and published in one transaction."""
        return await self.records.change(
            demand_id,
            scope,
            lambda d: domain_matches.answer(
                d, given, now_ms(), match_id=match_id, single_use=single_use
            ),
        )
