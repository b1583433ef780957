"""Counting the offers within a demand's distance by bands of latitude, exactly."""

import math
from typing import Any
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from services.matcher.domain import reach, rules
from services.matcher.domain.geo import EARTH_RADIUS_KM, haversine_km
from services.matcher.domain.reach import ReachCounter
from tests.support.market import a_demand_for, an_offer_of
from tests.support.places import Place
from tests.unit.test_matching_properties import PROPERTY

# Offers crowded around one demand, many of them right at the edge of its disc.
offsets = st.floats(-0.06, 0.06)
radii = st.sampled_from([None, None, 0.5, 2.0, 2.75, 4.0])
distances = st.sampled_from([0.3, 1.0, 2.0, 3.0, 5.0, 1000.0])


def destination(lat: float, lon: float, bearing: float, km: float) -> tuple[float, float]:
    """The point `km` away from (lat, lon) along `bearing` (radians), on the sphere."""
    phi, delta = math.radians(lat), km / EARTH_RADIUS_KM
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(bearing)
    )
    dlon = math.atan2(
        math.sin(bearing) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    return math.degrees(phi2), lon + math.degrees(dlon)


@st.composite
def crowds(draw: st.DrawFn) -> tuple[list[Any], Any]:
    demand = a_demand_for(
        near=Place("Milano", draw(st.floats(45.40, 45.56)), draw(st.floats(9.08, 9.30))),
        max_distance_km=draw(distances),
    )
    offers = []
    for n in range(draw(st.integers(0, 60))):
        radius = draw(radii)
        lat = demand.lat + draw(offsets)
        lon = demand.lon + draw(offsets)
        if draw(st.booleans()):  # right at the edge of the disc, just in or just out
            edge = min(demand.max_distance_km, radius or demand.max_distance_km)
            factor = 1 + draw(st.sampled_from([-1e-2, -1e-4, -1e-7, 0, 1e-7, 1e-4, 1e-2]))
            bearing = draw(st.floats(0, 2 * math.pi))
            lat, lon = destination(demand.lat, demand.lon, bearing, min(edge, 50) * factor)
        offers.append(an_offer_of(f"offer-{n}", near=Place("Milano", lat, lon), radius_km=radius))
    return offers, demand


class TestReachCounter:
    @PROPERTY
    @given(crowds(), st.data())
    def test_the_count_is_the_rules_count(
        self, crowd: tuple[list[Any], Any], data: st.DataObject
    ) -> None:
        """Offers within the demand's distance and their radius, counted by bands, are
        exactly those the rules find one by one, also after some leave."""
        offers, demand = crowd
        counter = ReachCounter()
        for offer in offers:
            counter.add(offer)
        gone = data.draw(st.sets(st.sampled_from([o.id for o in offers]))) if offers else set()
        for offer_id in gone:
            counter.remove(offer_id)
        expected = sum(1 for o in offers if o.id not in gone and rules.within_distance(o, demand))
        assert counter.within(demand) == expected

    def test_offers_well_inside_the_disc_are_counted_without_measuring_them(self) -> None:
        """Of 200 offers within 1 km of a 3 km demand, none is measured one by one."""

        demand = a_demand_for(near=Place("Milano", 45.488, 9.19), max_distance_km=3)
        counter = ReachCounter()
        for n in range(200):
            place = Place("Milano", 45.488 + (n % 20 - 10) / 1500, 9.19 + (n // 20 - 5) / 1100)
            counter.add(an_offer_of(f"offer-{n}", near=place))
        measured: list[tuple[float, ...]] = []

        def haversine(*args: float) -> float:
            measured.append(args)
            return haversine_km(*args)

        with patch.object(reach, "haversine_km", haversine):
            assert counter.within(demand) == 200
        assert measured == []
