"""Properties of the market under random event sequences (Hypothesis)."""

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.matcher.domain.decisions import Decision, MatchEnded, NotFound, Proposal
from services.matcher.domain.events import MarketEvent
from services.matcher.domain.index import GridIndex
from services.matcher.domain.market import Market
from services.matcher.domain.model import Offer
from services.matcher.domain.scoring import score
from tests.support.factories import slot
from tests.support.market import (
    ScanIndex,
    ScanMarket,
    a_demand_for,
    an_offer_of,
    at,
    provider_declines,
    published,
    requester_accepts,
    requester_declines,
    submitted,
    withdrawn,
)
from tests.support.places import Place

# Around Isola, spanning a few ~1 km grid cells, plus a few far-away points.
latitudes = st.one_of(st.floats(45.47, 45.51), st.sampled_from([45.0, 46.2]))
longitudes = st.one_of(st.floats(9.17, 9.22), st.sampled_from([8.5, 9.9]))
# And a corner near (0°, 0°), where grid cell numbers are small enough to pass for degrees.
places = st.one_of(
    st.builds(lambda lat, lon: Place("Via di prova 1, Milano", lat, lon), latitudes, longitudes),
    st.builds(
        lambda lat, lon: Place("Golfo di Guinea", lat, lon),
        st.floats(0.28, 0.32),
        st.sampled_from([1.0, 1.02, 1.5]),
    ),
)
languages = st.lists(st.sampled_from(["it", "en", "fr"]), max_size=2, unique=True)
offer_ids = st.sampled_from([f"offer-{n}" for n in range(20)])
demand_ids = st.sampled_from([f"demand-{n}" for n in range(12)])


hours = st.sampled_from(
    [
        None,  # weekday afternoons
        [slot("mon", "09:00", "19:00")],
        [slot("sat", "08:00", "13:00"), slot("wed", "14:00", "19:00")],
    ]
)
needs = st.sampled_from([None, [slot("mon", "16:30", "18:30")], [slot("sat", "09:00", "12:00")]])


@st.composite
def offer_fields(draw: st.DrawFn) -> dict[str, Any]:
    remote = draw(st.booleans())
    return {
        "availability": draw(hours),
        "near": None if remote and draw(st.booleans()) else draw(places),
        "remote": remote,
        "radius_km": draw(st.one_of(st.none(), st.floats(0.1, 8))),
        "capacity": draw(st.integers(1, 3)),
        "price_eur": draw(st.sampled_from([0, 60, 120, 180, 400])),
        "languages": draw(languages),
        "max_age": draw(st.sampled_from([None, 11, 99])),
    }


@st.composite
def demand_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "needed": draw(needs),
        "near": draw(places),
        "max_distance_km": draw(st.one_of(st.floats(0.05, 3), st.just(1000.0))),
        "accepts_remote": draw(st.booleans()),
        "seats": draw(st.integers(1, 2)),
        "max_price_eur": draw(st.sampled_from([None, 100, 200])),
        "languages": draw(languages),
        "beneficiary_age": draw(st.sampled_from([None, 8, 30])),
    }


@st.composite
def event_sequences(draw: st.DrawFn, *, with_changes: bool = True) -> list[MarketEvent]:
    versions: Counter[str] = Counter()
    fields_of: dict[str, dict[str, Any]] = {}
    events: list[MarketEvent] = []
    kinds = ["offer", "demand", "withdraw", "resize"] if with_changes else ["offer", "demand"]
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(kinds))
        if kind == "demand":
            demand_id = draw(demand_ids)
            versions[demand_id] += 1
            events.append(
                submitted(demand_id, version=versions[demand_id], **draw(demand_fields()))
            )
            continue
        offer_id = draw(offer_ids)
        if not with_changes and versions[offer_id]:
            continue
        versions[offer_id] += 1
        fields = draw(offer_fields())
        if kind == "resize" and offer_id in fields_of:  # same place, other seats and price
            fields = {**fields_of[offer_id], **{k: fields[k] for k in ("capacity", "price_eur")}}
        fields_of[offer_id] = fields
        make = withdrawn if kind == "withdraw" else published
        events.append(make(offer_id, version=versions[offer_id], **fields))
    return events


def decide(events: list[MarketEvent], market: Market) -> list[Decision]:
    decisions: list[Decision] = []
    for minute, event in enumerate(events):
        decisions += market.apply(event, at(minute)).decisions
    return decisions


def reasons_of(decisions: list[Decision]) -> list[dict[str, Any]]:
    return [d.reasons for d in decisions if isinstance(d, Proposal | NotFound)]


EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "80"))  # more for a deeper search
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestMarketProperties:
    @PROPERTY
    @given(event_sequences())
    def test_the_indexed_market_decides_exactly_like_a_full_scan(
        self, events: list[MarketEvent]
    ) -> None:
        """The grid index never changes a decision: same matches, reasons and scores."""
        grid_only = lambda: GridIndex(cells_before_scan=10_000)  # noqa: E731
        indexed = decide(events, Market("after_school", index=grid_only))
        brute = decide(events, Market("after_school", index=ScanIndex))
        assert indexed == brute
        assert reasons_of(indexed) == reasons_of(brute)

    @PROPERTY
    @given(event_sequences(with_changes=False))
    def test_an_offer_is_never_overbooked(self, events: list[MarketEvent]) -> None:
        """Reserved seats never exceed capacity and equal the seats of the proposals."""
        market = Market("after_school")
        decisions = decide(events, market)
        proposed: Counter[str] = Counter()
        for d in decisions:
            if isinstance(d, Proposal):
                proposed[d.offer.id] += d.demand.seats
        for offer_id, record in market.offers.items():
            assert record.reserved <= record.offer.capacity
            assert record.reserved == proposed[offer_id]

    @PROPERTY
    @given(event_sequences())
    def test_scores_stay_between_zero_and_one(self, events: list[MarketEvent]) -> None:
        """Every proposal's score is in [0, 1]."""
        for d in decide(events, Market("after_school")):
            if isinstance(d, Proposal):
                assert 0 <= d.score <= 1

    @PROPERTY
    @given(event_sequences())
    def test_every_submitted_version_gets_at_most_one_answer(
        self, events: list[MarketEvent]
    ) -> None:
        """Every answer has its own id, a demand has at most one live match at a time, and
        a demand is told it waits again only when the reason changed, it has a new version
        or its match ended."""
        decisions = decide(events, Market("after_school"))
        ids = [(d.match_id, type(d)) for d in decisions]
        assert len(ids) == len(set(ids))
        live: dict[str, str] = {}
        last: dict[str, tuple[int, str]] = {}
        for d in decisions:
            if isinstance(d, Proposal):
                assert d.demand.id not in live
                live[d.demand.id] = d.match_id
            elif isinstance(d, MatchEnded):
                assert live.pop(d.demand.id) == d.match_id
                last.pop(d.demand.id, None)
            elif isinstance(d, NotFound):
                said = (d.demand.version, str(d.reason))
                assert last.get(d.demand.id) != said
                last[d.demand.id] = said


class TestIncrementalMarket:
    @PROPERTY
    @given(event_sequences(), st.data())
    def test_the_incremental_market_decides_exactly_like_a_full_scan(
        self, events: list[MarketEvent], data: st.DataObject
    ) -> None:
        """Waiting demands found by place and need, reasons from kept counts: the same
        decisions, reasons and scores as looking at every demand and offer, declines and
        accepts included."""
        incremental = Market("after_school")
        scan = ScanMarket("after_school", index=ScanIndex)
        for minute, event in enumerate(events):
            now = at(minute)
            decided = incremental.apply(event, now).decisions
            assert decided == scan.apply(event, now).decisions
            for proposal in [d for d in decided if isinstance(d, Proposal)]:
                ending = data.draw(st.sampled_from(["keep", "declines", "rejects", "accepts"]))
                if ending == "keep":
                    continue
                match, demand, offer = proposal.match_id, proposal.demand.id, proposal.offer.id
                answer = {
                    "declines": requester_declines(match, demand, now),
                    "rejects": provider_declines(match, offer, now),
                    "accepts": requester_accepts(match, demand, now),
                }[ending]
                assert incremental.apply(answer, now).decisions == scan.apply(answer, now).decisions

    def test_a_waiting_demand_is_not_looked_at_by_an_offer_far_away(self) -> None:
        """An offer in Bicocca neither serves nor re-answers demands waiting in Isola with
        the same reason: none of them is handed to the rules."""
        from tests.support.places import BICOCCA, VIA_BORSIERI

        market = Market("after_school")
        market.apply(published("offer-0", near=BICOCCA), at(0))
        for n in range(50):
            market.apply(submitted(f"demand-{n}", near=VIA_BORSIERI, max_distance_km=1), at(1))
        looked: list[str] = []
        near, oldest_first = market.waiting.near, market.waiting.oldest_first

        def spied(offer: Offer, *, eager_only: bool = False) -> set[str]:
            found = near(offer, eager_only=eager_only)
            looked.extend(found)
            return found

        def spied_queues(offer: Offer) -> Iterator[str]:
            for demand_id in oldest_first(offer):
                looked.append(demand_id)
                yield demand_id

        market.waiting.near = spied  # type: ignore[method-assign]
        market.waiting.oldest_first = spied_queues  # type: ignore[method-assign]
        outcome = market.apply(published("offer-1", near=BICOCCA), at(2))
        assert looked == []
        assert outcome.decisions == []

    def test_demands_that_declined_are_not_all_looked_at_again_by_every_offer(self) -> None:
        """50 demands that declined their offer wait, each with 10 offers too far: another
        offer far away cannot change their reason, and only the few whose margin the
        seats moved meanwhile used up are looked at again, not all 50."""
        from tests.support.places import BICOCCA, VIA_BORSIERI

        market = Market("after_school")
        market.apply(published("near", near=VIA_BORSIERI, capacity=50), at(0))
        for n in range(10):
            market.apply(published(f"far-{n}", near=BICOCCA), at(0))
        for n in range(50):
            demand = submitted(f"demand-{n}", near=VIA_BORSIERI, max_distance_km=1)
            [proposal] = market.apply(demand, at(1)).decisions
            assert isinstance(proposal, Proposal)
            market.apply(requester_declines(proposal.match_id, f"demand-{n}", at(1)), at(1))
        assert len(market.waiting.special) == 50
        looked: list[str] = []
        why_not = market._why_not

        def spied(record: Any) -> Any:
            looked.append(record.demand.id)
            return why_not(record)

        market._why_not = spied  # type: ignore[method-assign]
        assert market.apply(published("far-10", near=BICOCCA), at(2)).decisions == []
        looked.clear()
        assert market.apply(published("far-11", near=BICOCCA), at(3)).decisions == []
        assert len(looked) < 5


class TestRemoteScoring:
    def test_a_remote_capable_offer_never_scores_more_for_being_farther(self) -> None:
        """For a 3 km demand that accepts remote, a free remote-capable offer at 2.8 km
        scores no less than the same offer at 3.2 km (served remotely)."""
        from tests.support.places import VIA_BORSIERI

        demand = a_demand_for(near=VIA_BORSIERI, max_distance_km=3, accepts_remote=True)
        scores = [
            score(
                an_offer_of(
                    near=Place("Milano", VIA_BORSIERI.lat + km / 111.2, VIA_BORSIERI.lon),
                    remote=True,
                    price_eur=0,
                ),
                demand,
            )
            for km in (0.5, 2.8, 3.2)
        ]
        assert scores[0] >= scores[1] >= scores[2] == 0.7


class TestGridIndex:
    @PROPERTY
    @given(st.lists(offer_fields(), min_size=1, max_size=40), demand_fields())
    def test_the_grid_finds_every_offer_within_reach(
        self, offers: list[dict[str, Any]], demand: dict[str, Any]
    ) -> None:
        """Every offer within the demand's max distance (or remote, if accepted) is found."""
        from services.matcher.domain import rules
        from tests.support.market import a_demand_for, an_offer_of

        index = GridIndex(cells_before_scan=10_000)
        built = [an_offer_of(f"offer-{n}", **fields) for n, fields in enumerate(offers)]
        for offer in built:
            index.add(offer)
        wanted = a_demand_for(**demand)
        reachable = {
            o.id
            for o in built
            if rules.served_remotely(o, wanted)
            or ((km := rules.distance_km(o, wanted)) is not None and km <= wanted.max_distance_km)
        }
        assert reachable <= index.near(wanted)

    def test_the_grid_leaves_out_offers_far_beyond_the_demands_reach(self) -> None:
        """A 1 km search from Via Borsieri does not look at an offer in Bicocca."""
        from tests.support.market import a_demand_for, an_offer_of
        from tests.support.places import BICOCCA, PIAZZALE_ARCHINTO, VIA_BORSIERI

        index = GridIndex()
        for n in range(30):  # enough offers that looking at cells is cheaper than a scan
            index.add(an_offer_of(f"far-{n}", near=BICOCCA))
        index.add(an_offer_of("near", near=PIAZZALE_ARCHINTO))
        assert index.near(a_demand_for(near=VIA_BORSIERI, max_distance_km=1)) == {"near"}
