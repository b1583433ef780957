"""What the offers service learns from welfare.matches.v1: seats reserved by proposals."""

from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import MatchEventData, MatchType
from concilia.platform.consumer import Handler, PoisonMessage, Record
from concilia.platform.records import NotFound
from services.offers.store import OfferStore


def match_handler(store: OfferStore) -> Handler:
    """Reserve the seats of each match.proposed once; ignore other match.* types."""

    async def handle(event: CloudEvent | None, record: Record) -> str:
        if event is None or not event.type.startswith("match."):
            raise PoisonMessage("unknown_event_type", event.type if event else "tombstone")
        if event.type != MatchType.PROPOSED:
            return "ignored"
        data = MatchEventData.model_validate(event.data)
        if data.offer_id is None:
            raise PoisonMessage("invalid_data", "match.proposed without offer_id")
        try:
            outcome = await store.reserve(data.offer_id, data.match_id, data.seats)
        except NotFound as exc:
            raise PoisonMessage("unknown_offer", data.offer_id) from exc
        return "processed" if outcome.changed else "duplicate"

    return handle
