"""What the offers service learns from welfare.matches.v1: the offer's matches, their seats."""

from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import LIFECYCLE_TYPES, MatchEventData, MatchType
from concilia.platform.consumer import Handler, PoisonMessage, Record
from concilia.platform.records import NotFound
from services.offers.store import OfferStore

KEPT_TYPES = (MatchType.PROPOSED, *LIFECYCLE_TYPES)


def match_handler(store: OfferStore) -> Handler:
    """Keep each match of an offer (proposed holds seats, an end releases them), once per
    (match_id, type); match.not_found and unknown match.* types are ignored, anything else
    is dead-lettered."""

    async def handle(event: CloudEvent | None, record: Record) -> str:
        if event is None or not event.type.startswith("match."):
            raise PoisonMessage("unknown_event_type", event.type if event else "tombstone")
        if event.type not in KEPT_TYPES:
            return "ignored"
        data = MatchEventData.model_validate(event.data)
        if data.offer_id is None:
            raise PoisonMessage("invalid_data", f"{event.type} without offer_id")
        try:
            outcome = await store.apply_match_event(event.type, data, event.time)
        except NotFound as exc:
            raise PoisonMessage("unknown_offer", data.offer_id) from exc
        return "processed" if outcome.changed else "duplicate"

    return handle
