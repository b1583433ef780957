"""The rule both parties answer a proposal by (README, lifecycle), pure: the requester through the
demands service, the provider through the offers service, each on its own side only.

Repeating one's own answer changes nothing (idempotent); a different answer after having
answered, an ended or unknown match, or a closed answer window is refused (HTTP 409). A
one-click link is single use: once its party answered, even the same answer is refused."""

from datetime import datetime
from enum import StrEnum

from concilia.contract.answers import MatchAnswerData
from concilia.contract.envelope import CloudEvent, stable_id
from concilia.contract.matches import LIVE_STATES, Answer, MatchState
from concilia.platform.changes import Conflict, Document
from concilia.platform.messages import OutgoingMessage


class Refusal(StrEnum):
    """Why an answer is refused."""

    ANSWERED = "answered"  # this party already answered (differently, or through its link)
    ENDED = "ended"  # the match is unknown here, has ended, or its record left the market
    CLOSED = "closed"  # the answer window has passed


class AnswerRefused(Conflict):
    """An answer the match's state forbids (HTTP 409; link pages tell the reason apart)."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.refusal = refusal


def is_new_answer(
    state: MatchState | str | None,
    given: Answer | str | None,
    answer: Answer,
    expires_at: datetime | None,
    now: datetime,
    *,
    single_use: bool = False,
) -> bool:
    """True if `answer` is this party's first (to record and publish), False if it repeats
    its own answer; raises AnswerRefused when the answer is not allowed."""
    check_answerable(state, given, expires_at, now, single_use=single_use)
    if given is None:
        return True
    if Answer(given) is answer:
        return False
    raise AnswerRefused(Refusal.ANSWERED, f"this match was already {given} by this party")


def check_answerable(
    state: MatchState | str | None,
    given: Answer | str | None,
    expires_at: datetime | None,
    now: datetime,
    *,
    single_use: bool = False,
) -> None:
    """Raise AnswerRefused unless the party may still answer (or repeat its answer)."""
    if state is None or MatchState(state) not in LIVE_STATES:
        raise AnswerRefused(Refusal.ENDED, f"the match is {state or 'unknown'}")
    if single_use and given is not None:
        raise AnswerRefused(Refusal.ANSWERED, f"this link already answered: {given}")
    closed = expires_at is not None and now > expires_at
    if MatchState(state) is MatchState.PROPOSED and given is None and closed:
        raise AnswerRefused(Refusal.CLOSED, "the time to answer this proposal has passed")


def answer_message(
    *, topic: str, source: str, type_: str, record: Document, data: MatchAnswerData, at: datetime
) -> OutgoingMessage:
    """A party's answer event about its own record, keyed by service_type like the record's
    other events; its id is stable for (type, match), so a retry publishes the same id."""
    return OutgoingMessage(
        topic=topic,
        key=record["service_type"],
        event=CloudEvent.new(
            type=type_,
            source=source,
            subject=record["_id"],
            data=data.model_dump(mode="json"),
            id=stable_id(type_, data.match_id),
            time=at,
        ),
    )
