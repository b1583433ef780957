"""What the demands service learns from welfare.matches.v1: its demand's current match
(proposed, accepted, ended and what follows), or why it still waits."""

from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import LIFECYCLE_TYPES, MatchEventData, MatchType
from concilia.platform.consumer import Handler, PoisonMessage, Record
from concilia.platform.records import NotFound
from services.demands.store import DemandStore

KEPT_TYPES = (MatchType.PROPOSED, *LIFECYCLE_TYPES)


def match_handler(store: DemandStore) -> Handler:
    """match.proposed/accepted/declined/expired/cancelled change the demand's match (once);
    match.not_found records the reason; other match.* types are ignored, anything else is
    dead-lettered."""

    async def handle(event: CloudEvent | None, record: Record) -> str:
        if event is None or not event.type.startswith("match."):
            raise PoisonMessage("unknown_event_type", event.type if event else "tombstone")
        if event.type not in (*KEPT_TYPES, MatchType.NOT_FOUND):
            return "ignored"
        data = MatchEventData.model_validate(event.data)
        try:
            if event.type in KEPT_TYPES:
                outcome = await store.apply_match_event(event.type, data, event.time)
                return "processed" if outcome.changed else "duplicate"
            reason = data.reason or data.reasons.get("reason")
            if reason is None:
                raise PoisonMessage("invalid_data", "match.not_found without a reason")
            outcome = await store.note_waiting(data.demand_id, str(reason), event.time)
        except NotFound as exc:
            raise PoisonMessage("unknown_demand", data.demand_id) from exc
        return "processed" if outcome.changed else "duplicate"

    return handle
