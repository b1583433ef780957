"""An offer's matches, free of I/O (README: match lifecycle): the offer keeps each match the matcher
proposed on it (seats held while proposed or accepted, released by every end), the
provider answers them, and the offer announces when its remaining seats reach 0 or rise
above 0 (offer.updated with status full / open and remaining_capacity)."""

from datetime import datetime
from typing import Any

from concilia.contract import topics
from concilia.contract.answers import MatchAnswerData
from concilia.contract.matches import (
    ENDING_TYPES,
    Answer,
    MatchEventData,
    MatchState,
    MatchType,
)
from concilia.contract.offers import OfferMatchPublic, OfferType
from concilia.platform.answers import (
    AnswerRefused,
    Refusal,
    answer_message,
    check_answerable,
    is_new_answer,
)
from concilia.platform.changes import Change, Document, noted, revised
from concilia.platform.messages import OutgoingMessage
from services.offers.domain import (
    ON_THE_MARKET,
    SOURCE,
    capacity_status,
    offer_event,
    remaining_capacity,
)

_ENDED_STATE = {
    MatchType.DECLINED: MatchState.DECLINED,
    MatchType.EXPIRED: MatchState.EXPIRED,
    MatchType.CANCELLED: MatchState.CANCELLED,
}
_ANSWER_TYPES = {
    Answer.ACCEPTED: OfferType.MATCH_ACCEPTED,
    Answer.DECLINED: OfferType.MATCH_DECLINED,
}


def find_match(offer: Document, match_id: str) -> Document | None:
    """The offer's match `match_id`, or None if the offer never had it."""
    return next((m for m in offer.get("matches", []) if m["match_id"] == match_id), None)


def apply_match_event(
    offer: Document, type_: str, data: MatchEventData, at: datetime
) -> Change | None:
    """What a match.* event changes on its offer, once per (match_id, type): proposed holds
    the seats, accepted marks the match, an end releases them; None if nothing changes."""
    entry = find_match(offer, data.match_id)
    if type_ == MatchType.PROPOSED:
        if entry is not None:
            return None
        return _with_matches(offer, [*offer.get("matches", []), new_entry(data, at)], at)
    if type_ == MatchType.ACCEPTED:
        if entry is None:  # never saw the proposal (e.g. kept before this version): hold now
            updated = new_entry(data, at) | {"state": MatchState.ACCEPTED.value}
            return _with_matches(offer, [*offer.get("matches", []), updated], at)
        if entry["state"] != MatchState.PROPOSED:
            return None
        return _replace(offer, entry, at, state=MatchState.ACCEPTED.value, **_answers(data))
    if type_ in ENDING_TYPES:
        if entry is None or entry["state"] not in (MatchState.PROPOSED, MatchState.ACCEPTED):
            return None
        ended = _ENDED_STATE[type_]
        return _replace(offer, entry, at, state=ended.value, **_answers(data))
    return None


def new_entry(data: MatchEventData, at: datetime) -> Document:
    """The offer's record of a proposal: no requester, only the demand's public needs."""
    demand = (
        data.demand.model_dump(mode="json", exclude={"organization_id"}) if data.demand else None
    )
    return {
        "match_id": data.match_id,
        "demand_id": data.demand_id,
        "seats": data.seats,
        "state": MatchState.PROPOSED.value,
        "proposed_at": data.proposed_at or at,
        "expires_at": data.expires_at,
        "provider_answer": data.provider_answer.value if data.provider_answer else None,
        "demand": demand,
    }


def answer(
    offer: Document, match_id: str, given: Answer, now: datetime, *, single_use: bool = False
) -> Change | None:
    """The provider answers one of the offer's matches: the answer is kept and published as
    offer.match_accepted|declined; None for a repeat of its own answer. Raises AnswerRefused
    (409) for a different answer, an unknown or ended match, or a closed window."""
    entry = answerable(offer, match_id, now, single_use=single_use)
    if not is_new_answer(
        entry["state"], entry["provider_answer"], given, entry["expires_at"], now,
        single_use=single_use,
    ):  # fmt: skip
        return None
    change = _replace(offer, entry, now, provider_answer=given.value, answered_at=now)
    return Change(
        change.document, [*change.messages, answer_event(change.document, match_id, given, now)]
    )


def answerable(
    offer: Document, match_id: str, now: datetime, *, single_use: bool = False
) -> Document:
    """The match the provider may answer (or repeat its answer to); raises AnswerRefused."""
    entry = find_match(offer, match_id)
    if entry is None:
        raise AnswerRefused(Refusal.ENDED, f"offer {offer['_id']} has no match {match_id}")
    if offer["status"] not in ON_THE_MARKET:
        raise AnswerRefused(Refusal.ENDED, f"offer {offer['_id']} is {offer['status']}")
    check_answerable(
        entry["state"], entry["provider_answer"], entry["expires_at"], now, single_use=single_use
    )
    return entry


def answer_event(offer: Document, match_id: str, given: Answer, at: datetime) -> OutgoingMessage:
    """offer.match_accepted|declined on welfare.offers.v1, keyed by service_type."""
    type_ = _ANSWER_TYPES[given]
    data = MatchAnswerData(
        match_id=match_id, offer_id=offer["_id"], service_type=offer["service_type"], answered_at=at
    )
    return answer_message(
        topic=topics.OFFERS, source=SOURCE, type_=type_, record=offer, data=data, at=at
    )


def match_public(entry: Document, requester: dict[str, Any] | None = None) -> OfferMatchPublic:
    """One match as its provider sees it; the requester's contact only once accepted."""
    shown = requester if entry["state"] == MatchState.ACCEPTED else None
    return OfferMatchPublic.model_validate({**entry, "requester": shown})


def _answers(data: MatchEventData) -> dict[str, Any]:
    return {"provider_answer": data.provider_answer.value} if data.provider_answer else {}


def _replace(offer: Document, entry: Document, at: datetime, **fields: Any) -> Change:
    matches = [
        {**m, **fields} if m["match_id"] == entry["match_id"] else m
        for m in offer.get("matches", [])
    ]
    return _with_matches(offer, matches, at)


def _with_matches(offer: Document, matches: list[Document], at: datetime) -> Change:
    """The offer with its new matches, a background note that keeps its version; when the
    remaining seats reach or leave 0 a new version with offer.updated."""
    changed = noted(offer, at, matches=matches)
    changed["status"] = capacity_status(changed).value
    crossed = (remaining_capacity(offer) == 0) != (remaining_capacity(changed) == 0)
    if crossed and changed["status"] in ON_THE_MARKET:
        changed = revised(changed, at)
        return Change(changed, [offer_event(changed, OfferType.UPDATED)])
    return Change(changed)
