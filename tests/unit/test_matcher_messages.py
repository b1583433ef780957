"""The match events the matcher builds without validating them again (messages.py) are
exactly what the contract models make of them: valid, in canonical form, byte for byte."""

import json
from datetime import timedelta

import pytest

from concilia.contract.envelope import CloudEvent
from concilia.contract.matches import MatchEventData, MatchType
from services.matcher.domain.decisions import Decision
from services.matcher.domain.events import MarketEvent, parse
from services.matcher.domain.market import Market
from services.matcher.messages import match_message
from tests.bench.workload import T0, interleaved
from tests.support.market import (
    at,
    offer_expired,
    provider_accepts,
    published,
    requester_accepts,
    requester_declines,
    submitted,
    withdrawn,
)
from tests.support.places import PIAZZA_GAE_AULENTI


def city_decisions() -> list[Decision]:
    """Every decision of a small city-like workload (many places, prices, hours, remote
    offers, every service type of the sample data)."""
    markets: dict[str, Market] = {}
    decisions: list[Decision] = []
    for n, (_, value, _) in enumerate(interleaved(60, 540, seed=5)):
        raw = json.loads(value)
        event = parse(raw["type"], raw["data"])
        market = markets.setdefault(event.service_type, Market(event.service_type))
        decisions += market.apply(event, T0 + timedelta(seconds=n)).decisions
    return decisions


def lifecycle_decisions() -> list[Decision]:
    """A proposal accepted, one declined, one cancelled by a withdrawal and one by expiry."""
    market = Market("after_school", answer_ttl=timedelta(minutes=60))
    out: list[Decision] = []
    opening: list[MarketEvent] = [
        published("offer-1"),
        published("offer-2", near=PIAZZA_GAE_AULENTI),
        submitted("demand-1"),
        submitted("demand-2"),
    ]
    for minute, event in enumerate(opening):
        out += market.apply(event, at(minute)).decisions
    first, second = (market.demands[d].match_id for d in ("demand-1", "demand-2"))
    assert first is not None
    assert second is not None
    answers: list[MarketEvent] = [
        requester_accepts(first),
        provider_accepts(first),
        requester_declines(second, "demand-2"),
        withdrawn("offer-2"),
        offer_expired("offer-1"),
    ]
    for minute, event in enumerate(answers, start=10):
        out += market.apply(event, at(minute)).decisions
    out += market.expire_due(at(500)).decisions
    return out


CITY, LIFECYCLE = city_decisions(), lifecycle_decisions()
# Every lifecycle decision, and one city decision in ten (the rest differ only in values).
CHECKED = CITY[::10] + LIFECYCLE


def test_the_decisions_checked_cover_every_match_event_type() -> None:
    """Proposed, not found, accepted, declined and cancelled all come out of the inputs."""
    types = {match_message(d).event.type for d in CHECKED}  # type: ignore[union-attr]
    assert types >= {
        MatchType.PROPOSED,
        MatchType.NOT_FOUND,
        MatchType.ACCEPTED,
        MatchType.DECLINED,
        MatchType.CANCELLED,
    }


@pytest.mark.parametrize("decision", CHECKED)
def test_a_match_event_is_its_own_contract_form(decision: Decision) -> None:
    """Validating the event and its data and writing them out again changes nothing: same
    fields in the same order, same values, same bytes on the wire."""
    event = match_message(decision).event
    assert event is not None
    data = MatchEventData.model_validate(event.data).model_dump(mode="json")
    assert list(data.items()) == list(event.data.items())
    checked = CloudEvent.model_validate_json(event.to_bytes())
    assert checked.to_bytes() == event.to_bytes()
    assert checked == CloudEvent.model_validate(event.model_dump())
