"""The Isola sample data: valid payloads, enough of them, every area and every reason."""

from collections import Counter
from datetime import date

import pytest

from concilia.contract.demands import DemandCreate
from concilia.contract.matches import NotFoundReason
from concilia.contract.offers import OfferCreate
from concilia.contract.taxonomy import Area, area_of
from concilia.sample.demands import EXPECTATIONS, MEMBERS, demands
from concilia.sample.offers import offers
from concilia.sample.places import ARCHINTO, BORSIERI, NAVIGLI, km_between

TODAY = date(2026, 3, 2)


class TestOffers:
    def test_every_offer_validates_as_an_offer_create(self) -> None:
        """Each sample offer is a valid POST /v1/offers body."""
        for offer in offers(TODAY):
            OfferCreate.model_validate(offer.payload)

    def test_at_least_fifteen_providers_cover_every_area_with_several_service_types(
        self,
    ) -> None:
        """≥ 15 provider organisations, and each area has ≥ 2 service types on offer."""
        sample = offers(TODAY)
        assert len({o.organization for o in sample}) >= 15
        types_by_area = Counter(area_of(st) for st in {o.payload["service_type"] for o in sample})
        assert all(types_by_area[area] >= 2 for area in Area), types_by_area

    def test_some_offers_are_late_and_keys_are_unique(self) -> None:
        """The demo publishes late offers after the first round; keys identify each offer."""
        sample = offers(TODAY)
        assert any(o.late for o in sample)
        assert len({o.key for o in sample}) == len(sample)

    def test_contacts_use_example_domains(self) -> None:
        """No real mailbox is ever written to."""
        for offer in offers(TODAY):
            assert offer.payload["contact"]["email"].endswith(("@example.org", "@example.it"))


class TestDemands:
    def test_every_demand_validates_as_a_demand_create(self) -> None:
        """Each sample demand is a valid POST /v1/demands body."""
        for demand in demands(TODAY):
            DemandCreate.model_validate(demand.payload)

    def test_at_least_sixty_demands_from_several_member_organisations(self) -> None:
        """≥ 60 demands, from ≥ 4 member organisations, all of them known members."""
        sample = demands(TODAY)
        assert len(sample) >= 60
        orgs = {d.organization for d in sample}
        assert len(orgs) >= 4
        assert orgs <= set(MEMBERS)

    def test_every_refusal_reason_and_the_late_offers_are_exercised(self) -> None:
        """Some demands are designed for each not-found reason, and some for late offers."""
        expected = Counter(d.expect for d in demands(TODAY))
        assert set(expected) <= set(EXPECTATIONS)
        for reason in NotFoundReason:
            assert expected[reason.value] >= 1, reason
        assert expected["late"] >= 2
        assert expected["matched"] >= 30

    def test_requesters_use_example_domains_and_several_languages(self) -> None:
        """E-mails are example.org/example.it; languages go beyond Italian and English."""
        sample = demands(TODAY)
        assert all(
            d.payload["requester"]["email"].endswith(("@example.org", "@example.it"))
            for d in sample
        )
        spoken = {lang for d in sample for lang in d.payload["languages"]}
        assert {"it", "en", "es", "ar", "zh", "uk"} <= spoken

    def test_keys_are_unique(self) -> None:
        """The demo derives each Idempotency-Key from the key."""
        keys = [d.key for d in demands(TODAY)]
        assert len(set(keys)) == len(keys)


class TestPlaces:
    def test_isola_streets_are_close_and_the_far_places_are_beyond_three_km(self) -> None:
        """Distance matters: Isola streets are a few hundred metres apart, Navigli is not."""
        assert km_between(BORSIERI.lat, BORSIERI.lon, ARCHINTO.lat, ARCHINTO.lon) < 0.5
        assert km_between(NAVIGLI.lat, NAVIGLI.lon, ARCHINTO.lat, ARCHINTO.lon) > 3

    @pytest.mark.parametrize("demand", demands(TODAY), ids=lambda d: d.key)
    def test_every_demand_lies_in_milan(self, demand: object) -> None:
        """Coordinates are in Milan (a swapped lat/lon would land far away)."""
        location = demand.payload["location"]  # type: ignore[attr-defined]
        assert 45.40 < location["lat"] < 45.55
        assert 9.05 < location["lon"] < 9.30
