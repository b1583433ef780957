"""The best-first search for a demand's best offer: it stops early, never wrongly."""

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.matcher.domain.decisions import Proposal
from services.matcher.domain.geo import CELL_DEGREES, haversine_km, min_km_to_cell
from services.matcher.domain.market import Market
from services.matcher.domain.waiting import Reach, WaitingIndex
from tests.support.market import (
    ScanIndex,
    ScanMarket,
    a_demand_for,
    an_offer_of,
    at,
    published,
    submitted,
)
from tests.support.places import VIA_BORSIERI, Place
from tests.unit.test_matching_properties import PROPERTY, demand_fields, offer_fields


def north_of(place: Place, km: float) -> Place:
    return Place("Milano", place.lat + km / 111.2, place.lon)


def proposed(market: Market, demand: Any) -> str | None:
    """The offer the market proposes to `demand` (None: it waits)."""
    decisions = market.apply(demand, at(99)).decisions
    return next((d.offer.id for d in decisions if isinstance(d, Proposal)), None)


class TestBestFirst:
    def test_a_far_free_offer_beats_a_near_dear_one_when_it_scores_higher(self) -> None:
        """At 0.3 km for 400 € an offer scores 0.61; at 2.5 km for free, 0.70: the far one
        is proposed although its cell comes later in the search."""
        market = Market("after_school")
        market.apply(published("near-dear", near=north_of(VIA_BORSIERI, 0.3), price_eur=400), at(0))
        market.apply(published("far-free", near=north_of(VIA_BORSIERI, 2.5), price_eur=0), at(1))
        demand = submitted(near=VIA_BORSIERI, max_distance_km=5)
        assert proposed(market, demand) == "far-free"

    def test_a_cheap_remote_offer_beats_a_near_dear_one(self) -> None:
        """A free offer with no place, served remotely (0.70), beats one 0.5 km away at 180 €
        (0.39) for a 1 km demand that accepts remote service."""
        market = Market("after_school")
        market.apply(published("near", near=north_of(VIA_BORSIERI, 0.5), price_eur=180), at(0))
        market.apply(published("remote", near=None, remote=True, price_eur=0), at(1))
        demand = submitted(near=VIA_BORSIERI, max_distance_km=1, accepts_remote=True)
        assert proposed(market, demand) == "remote"

    def test_equal_scores_in_different_cells_go_to_the_lowest_id(self) -> None:
        """Two offers 1.3 km east and west (different cells), same price: the lowest id,
        whichever cell the search opens first."""
        home = Place("Milano", 45.488, 9.19)  # on the 3-decimal grid demands are rounded to
        for first, second in (("offer-a", "offer-z"), ("offer-z", "offer-a")):
            market = Market("after_school")
            market.apply(published(first, near=Place("Milano", 45.488, 9.173)), at(0))
            market.apply(published(second, near=Place("Milano", 45.488, 9.207)), at(1))
            assert proposed(market, submitted(near=home, max_distance_km=3)) == "offer-a"

    def test_a_demand_next_to_a_free_offer_looks_at_few_cells_in_a_dense_market(self) -> None:
        """With 300 free offers over 3 km, a demand 50 m from a free one stops after the
        first few cells of the search (the others cannot score as high)."""
        market = Market("after_school")
        for n in range(300):
            angle, km = n * 2.4, 0.8 + (n % 20) * 0.11
            place = Place(
                "Milano",
                VIA_BORSIERI.lat + km * math.cos(angle) / 111.2,
                VIA_BORSIERI.lon + km * math.sin(angle) / 78.0,
            )
            market.apply(published(f"offer-{n:03}", near=place, price_eur=0), at(0))
        market.apply(published("next-door", near=north_of(VIA_BORSIERI, 0.05), price_eur=0), at(0))
        batches: list[int] = []
        search = market._free.best_first

        def counted(*args: Any) -> Any:
            for bound, ids in search(*args):
                batches.append(len(list(ids)))
                yield bound, ids

        market._free.best_first = counted  # type: ignore[method-assign]
        assert proposed(market, submitted(near=VIA_BORSIERI, max_distance_km=3)) == "next-door"
        assert len(batches) <= 4
        assert sum(batches) < 60

    @PROPERTY
    @given(st.lists(offer_fields(), min_size=1, max_size=60), demand_fields())
    def test_the_search_proposes_what_scoring_every_offer_would(
        self, offers: list[dict[str, Any]], demand: dict[str, Any]
    ) -> None:
        """Many offers, one demand: the same proposal (offer and score) as a full scan."""
        searched, scanned = Market("after_school"), ScanMarket("after_school", index=ScanIndex)
        for n, fields in enumerate(offers):
            for market in (searched, scanned):
                market.apply(published(f"offer-{n}", **fields), at(0))
        event = submitted(**demand)
        assert searched.apply(event, at(1)).decisions == scanned.apply(event, at(1)).decisions


class TestCellDistance:
    @given(
        st.floats(45.3, 45.7),
        st.floats(9.0, 9.4),
        st.integers(-8, 8),
        st.integers(-8, 8),
        st.floats(0, 1),
        st.floats(0, 1),
    )
    def test_no_point_of_a_cell_is_nearer_than_its_lower_bound(
        self, lat: float, lon: float, di: int, dj: int, u: float, v: float
    ) -> None:
        """Any point of any cell around a place is at least `min_km_to_cell` away."""
        i = math.floor(lat / CELL_DEGREES) + di
        j = math.floor(lon / CELL_DEGREES) + dj
        point = ((i + u) * CELL_DEGREES, (j + v) * CELL_DEGREES)
        assert min_km_to_cell(lat, lon, (i, j)) <= haversine_km(lat, lon, *point)


class TestNearAnOffer:
    """The waiting demands an offer change looks at: a superset of those within reach, but
    only from around it, wherever on earth it is."""

    @staticmethod
    def waiting(*demands: tuple[str, Place, float]) -> WaitingIndex:
        index = WaitingIndex()
        for seq, (demand_id, place, km) in enumerate(demands):
            demand = a_demand_for(demand_id, near=place, max_distance_km=km)
            index.add(demand, seq, Reach(), None, special=False)
        return index

    def test_an_offer_in_milan_does_not_look_at_demands_in_rome(self) -> None:
        """Demands of two distance tiers: the second tier is searched around the offer too,
        not around the grid cell numbers the first one left behind."""
        rome = Place("Roma", 41.9028, 12.4964)
        index = self.waiting(("milan-3km", VIA_BORSIERI, 3), ("rome-10km", rome, 10))
        offer = an_offer_of(near=north_of(VIA_BORSIERI, 0.5))
        assert index.near(offer) == {"milan-3km"}

    def test_demands_next_to_an_offer_near_the_equator_are_found_in_every_tier(self) -> None:
        """Near (0°, 0°) grid cell numbers are small enough to pass for degrees: a demand of
        the second tier, at the offer's very door, must still be found."""
        door = Place("Golfo di Guinea", 0.3, 1.5)
        far = Place("Più a ovest", 0.3, 1.0)
        index = self.waiting(("door-3km", door, 3), ("far-3km", far, 3), ("door-10km", door, 10))
        assert index.near(an_offer_of(near=door)) >= {"door-3km", "door-10km"}
        assert "far-3km" not in index.near(an_offer_of(near=door))
