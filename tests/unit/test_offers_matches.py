"""The offers service's matches handler without Kafka: which events it keeps, which are
ignored, which are poison."""

from typing import Any

import pytest

from concilia.contract.envelope import CloudEvent
from concilia.platform.changes import Document
from concilia.platform.consumer import PoisonMessage
from concilia.platform.records import NotFound, Outcome
from services.offers.subscribers import match_handler


class FakeStore:
    """Records applied (type, offer, match, seats) once; knows only the offers it is given."""

    def __init__(self, known: set[str]) -> None:
        self.known = known
        self.reserved: list[tuple[str, str, int]] = []
        self.applied: list[tuple[str, str]] = []

    async def apply_match_event(self, type_: str, data: Any, at: Any) -> Outcome:
        if data.offer_id not in self.known:
            raise NotFound(data.offer_id)
        first = (type_, data.match_id) not in self.applied
        if first:
            self.applied.append((type_, data.match_id))
            if type_ == "match.proposed":
                self.reserved.append((data.offer_id, data.match_id, data.seats))
        document: Document = {"_id": data.offer_id}
        return Outcome(document, changed=first)


def event(type_: str, **data: Any) -> CloudEvent:
    payload = {
        "match_id": "m1",
        "offer_id": "off_1",
        "demand_id": "dem_1",
        "service_type": "sport",
        "score": 0.5,
        "reasons": {},
        "seats": 2,
        "requester_ref": "req_1",
        **data,
    }
    return CloudEvent.new(type=type_, source="matcher", subject="m1", data=payload)


class TestMatchHandler:
    async def test_a_proposal_reserves_once_then_is_a_duplicate(self) -> None:
        """The first delivery is processed, the redelivery a duplicate."""
        store = FakeStore({"off_1"})
        handle = match_handler(store)
        assert await handle(event("match.proposed"), None) == "processed"
        assert await handle(event("match.proposed"), None) == "duplicate"
        assert store.reserved == [("off_1", "m1", 2)]

    @pytest.mark.parametrize(
        "type_", ["match.accepted", "match.declined", "match.expired", "match.cancelled"]
    )
    async def test_lifecycle_events_are_kept_once(self, type_: str) -> None:
        """Every lifecycle event reaches the offer's matches once, then is a duplicate."""
        store = FakeStore({"off_1"})
        assert await match_handler(store)(event(type_), None) == "processed"
        assert await match_handler(store)(event(type_), None) == "duplicate"
        assert store.applied == [(type_, "m1")]

    @pytest.mark.parametrize("type_", ["match.not_found", "match.someday"])
    async def test_other_match_types_are_ignored(self, type_: str) -> None:
        """not_found and unknown match.* types hold nothing and are not errors."""
        store = FakeStore({"off_1"})
        assert await match_handler(store)(event(type_), None) == "ignored"
        assert store.reserved == []

    @pytest.mark.parametrize("value", [None, "offer.published"])
    async def test_a_non_match_message_is_poison(self, value: str | None) -> None:
        """A tombstone or a foreign type on the matches topic goes to the DLQ."""
        message = event(value) if value else None
        with pytest.raises(PoisonMessage) as caught:
            await match_handler(FakeStore(set()))(message, None)
        assert caught.value.reason == "unknown_event_type"

    async def test_a_proposal_for_an_unknown_offer_is_poison(self) -> None:
        """No such offer here: dead-lettered with the reason, not retried forever."""
        with pytest.raises(PoisonMessage) as caught:
            await match_handler(FakeStore(set()))(event("match.proposed"), None)
        assert caught.value.reason == "unknown_offer"
