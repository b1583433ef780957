"""A demand's current match, free of I/O (README, lifecycle): what the matcher's match.* events
change on the demand, and the requester's answer (published as demand.match_accepted or
demand.match_declined)."""

from datetime import datetime

from concilia.contract import topics
from concilia.contract.answers import MatchAnswerData
from concilia.contract.demands import DemandStatus, DemandType, MatchSummary
from concilia.contract.matches import (
    ENDING_TYPES,
    Answer,
    MatchEventData,
    MatchState,
    MatchType,
    NextStep,
)
from concilia.platform.answers import (
    AnswerRefused,
    Refusal,
    answer_message,
    check_answerable,
    is_new_answer,
)
from concilia.platform.changes import Change, Document, noted, revised
from concilia.platform.messages import OutgoingMessage
from services.demands.domain import SOURCE, demand_event

_ANSWER_TYPES = {
    Answer.ACCEPTED: DemandType.MATCH_ACCEPTED,
    Answer.DECLINED: DemandType.MATCH_DECLINED,
}


def apply_match_event(
    demand: Document, type_: str, data: MatchEventData, at: datetime
) -> Change | None:
    """What a match.* event changes on its demand; None if nothing (a repeat, or not the
    demand's current match)."""
    if type_ == MatchType.PROPOSED:
        return propose(demand, data, at)
    if type_ == MatchType.ACCEPTED:
        return accept(demand, data, at)
    if type_ in ENDING_TYPES:
        return end(demand, type_, data, at)
    return None


def propose(demand: Document, data: MatchEventData, at: datetime) -> Change | None:
    """An open demand becomes matched, once per match_id (a redelivered proposal never
    comes back after its end); the offer's snapshot is kept for the requester's link page."""
    if data.match_id in demand["applied_matches"] or demand["status"] != DemandStatus.OPEN:
        return None
    summary = MatchSummary(
        match_id=data.match_id,
        offer_id=data.offer_id or "",
        state=MatchState.PROPOSED,
        score=data.score,
        reasons=data.reasons,
        seats=data.seats,
        matched_at=data.proposed_at or at,
        expires_at=data.expires_at,
        requester_answer=data.requester_answer,
    )
    return Change(
        noted(
            demand,
            at,
            status=DemandStatus.MATCHED.value,
            match=summary.model_dump(),
            match_offer=data.offer.model_dump(mode="json") if data.offer else None,
            waiting_reason=None,
            applied_matches=[*demand["applied_matches"], data.match_id],
        )
    )


def accept(demand: Document, data: MatchEventData, at: datetime) -> Change | None:
    """Both parties accepted: the current match's state becomes accepted."""
    match = current_match(demand, data.match_id)
    if match is None or match["state"] != MatchState.PROPOSED:
        return None
    return Change(noted(demand, at, match={**match, "state": MatchState.ACCEPTED.value}))


def end(demand: Document, type_: str, data: MatchEventData, at: datetime) -> Change | None:
    """The current match ended: rematch → open again, closed → expired (demand.expired; the
    contact stays, the requester still gets the e-mail), none → the status stays."""
    if current_match(demand, data.match_id) is None:
        return None
    step = data.next_step or _default_step(type_, data)
    matched = demand["status"] == DemandStatus.MATCHED
    if step is NextStep.CLOSED and matched:
        changed = revised(
            demand, at, match=None, match_offer=None, status=DemandStatus.EXPIRED.value
        )
        return Change(changed, [demand_event(changed, DemandType.EXPIRED)])
    status = DemandStatus.OPEN.value if step is NextStep.REMATCH and matched else demand["status"]
    return Change(noted(demand, at, match=None, match_offer=None, status=status))


def note_waiting(demand: Document, reason: str, at: datetime) -> Change | None:
    """Remember why no offer fits an open demand yet; None if not open or already known."""
    if demand["status"] != DemandStatus.OPEN or demand["waiting_reason"] == reason:
        return None
    return Change(noted(demand, at, waiting_reason=reason))


def answer(
    demand: Document,
    given: Answer,
    now: datetime,
    *,
    match_id: str | None = None,
    single_use: bool = False,
) -> Change | None:
    """The requester answers the demand's current match (`match_id`, if given, must be it):
    kept and published as demand.match_accepted|declined; None for a repeat of its own
    answer. Raises AnswerRefused (409) for a different answer, no live match, a closed
    window."""
    match = answerable(demand, now, match_id=match_id, single_use=single_use)
    if not is_new_answer(
        match["state"], match["requester_answer"], given, match["expires_at"], now,
        single_use=single_use,
    ):  # fmt: skip
        return None
    changed = revised(demand, now, match={**match, "requester_answer": given.value})
    return Change(changed, [answer_event(changed, match["match_id"], given, now)])


def answerable(
    demand: Document, now: datetime, *, match_id: str | None = None, single_use: bool = False
) -> Document:
    """The match the requester may answer (or repeat its answer to); raises AnswerRefused."""
    match = demand.get("match")
    if demand["status"] != DemandStatus.MATCHED or match is None:
        raise AnswerRefused(Refusal.ENDED, f"demand {demand['_id']} has no proposal to answer")
    if match_id is not None and match["match_id"] != match_id:
        raise AnswerRefused(Refusal.ENDED, f"match {match_id} is not the demand's current one")
    check_answerable(
        match["state"], match.get("requester_answer"), match.get("expires_at"), now,
        single_use=single_use,
    )  # fmt: skip
    return {"requester_answer": None, "expires_at": None, **match}


def answer_event(demand: Document, match_id: str, given: Answer, at: datetime) -> OutgoingMessage:
    """demand.match_accepted|declined on welfare.demands.v1, keyed by service_type."""
    type_ = _ANSWER_TYPES[given]
    data = MatchAnswerData(
        match_id=match_id,
        demand_id=demand["_id"],
        service_type=demand["service_type"],
        answered_at=at,
    )
    return answer_message(
        topic=topics.DEMANDS, source=SOURCE, type_=type_, record=demand, data=data, at=at
    )


def current_match(demand: Document, match_id: str) -> Document | None:
    """The demand's current match if it is `match_id`."""
    match: Document | None = demand.get("match")
    return match if match is not None and match["match_id"] == match_id else None


def _default_step(type_: str, data: MatchEventData) -> NextStep:
    """For an event without next_step: an unanswered expiry closes, other ends re-match."""
    if type_ == MatchType.EXPIRED and data.requester_answer is None:
        return NextStep.CLOSED
    return NextStep.REMATCH
