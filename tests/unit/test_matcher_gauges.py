"""The gap gauges: what a market counts of itself, and what one matcher instance exports
(only the markets it holds)."""

from prometheus_client import REGISTRY

from services.matcher.domain.market import Market
from services.matcher.gauges import export
from tests.support.market import at, published, submitted, withdrawn
from tests.support.places import SAN_SIRO


def a_market(service_type: str = "after_school") -> Market:
    return Market(service_type)


def gauge(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


class TestMarketGap:
    def test_the_gap_counts_free_seats_waiting_demands_and_holds_by_provider(self) -> None:
        """Two offers of 3 seats, one demand matched (1 seat), one too far: 2 open offers,
        5 free seats, 1 waiting, 1 seat held by the provider; a withdrawn offer counts not."""
        market = a_market()
        for n, event in enumerate(
            [
                published("offer-1", capacity=3),
                published("offer-2", capacity=3),
                published("offer-3", capacity=3),
                withdrawn("offer-3", capacity=3, version=2),
                submitted("near"),
                submitted("far", near=SAN_SIRO),
            ]
        ):
            market.apply(event, at(n))
        gap = market.gap()
        assert (gap.open_offers, gap.open_seats, gap.waiting_demands) == (2, 5, 1)
        assert dict(gap.held_by_organization) == {"org-cooperativa": 1}


class TestExport:
    def test_an_instance_exports_only_the_markets_it_holds(self) -> None:
        """After a rebalance took `sport` away, its series are gone; `after_school` stays."""
        school, sport = a_market("after_school"), a_market("sport")
        school.apply(submitted("a"), at(0))
        organizations = export([school, sport], set())
        assert gauge("concilia_waiting_demands", area="family", service_type="after_school") == 1
        assert gauge("concilia_waiting_demands", area="leisure", service_type="sport") == 0

        export([school], organizations)
        assert gauge("concilia_waiting_demands", area="leisure", service_type="sport") is None
        assert gauge("concilia_waiting_demands", area="family", service_type="after_school") == 1

    def test_a_provider_holding_nothing_any_more_is_no_longer_exported(self) -> None:
        """Its seat released with its market gone, the provider's series is dropped."""
        market = a_market()
        market.apply(published("offer-1"), at(0))
        market.apply(submitted("a"), at(1))
        organizations = export([market], set())
        assert organizations == {"org-cooperativa"}
        assert gauge("concilia_provider_seats_held", organization_id="org-cooperativa") == 1

        assert export([], organizations) == set()
        assert gauge("concilia_provider_seats_held", organization_id="org-cooperativa") is None
