"""Offers in MongoDB: every change and its outbox events in one transaction."""

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from concilia.contract.matches import Answer, MatchEventData
from concilia.contract.offers import OfferCreate, OfferUpdate
from concilia.platform.changes import now_ms
from concilia.platform.records import Outcome, RecordKeeper, RecordRules, RecordStore
from services.offers import domain, domain_matches

COLLECTION = "offers"
RULES = RecordRules(domain.new_offer, domain.revise, domain.withdraw)


class OfferStore(RecordKeeper[OfferCreate, OfferUpdate]):
    """The offers collection, changed only through the domain's decisions."""

    def __init__(self, records: RecordStore) -> None:
        super().__init__(records, RULES)

    async def apply_match_event(self, type_: str, data: MatchEventData, at: datetime) -> Outcome:
        """Apply a match.* event to the offer it names (raises NotFound for another's)."""
        return await self.records.change(
            data.offer_id or "", {}, lambda o: domain_matches.apply_match_event(o, type_, data, at)
        )

    async def answer(
        self,
        offer_id: str,
        scope: Mapping[str, Any],
        match_id: str,
        given: Answer,
        *,
        single_use: bool = False,
    ) -> Outcome:
        """The provider's answer, kept and published in one transaction."""
        return await self.records.change(
            offer_id,
            scope,
            lambda o: domain_matches.answer(o, match_id, given, now_ms(), single_use=single_use),
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
