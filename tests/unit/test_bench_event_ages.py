"""The bench's reading of the matcher's age histogram: quantiles over an interval, as
Prometheus's histogram_quantile computes them from two scrapes."""

import math

import pytest

from tests.bench.event_ages import quantile, summary

INF = math.inf


class TestQuantile:
    def test_only_what_was_observed_between_the_two_scrapes_counts(self) -> None:
        """Before: 100 events under 10 ms. Between: 10 more under 10 ms and 90 between 10
        and 100 ms. The median of the interval lies in the second bucket, not the first."""
        before = {0.01: 100.0, 0.1: 100.0, INF: 100.0}
        after = {0.01: 110.0, 0.1: 200.0, INF: 200.0}

        assert quantile(0.5, before, after) == pytest.approx(0.01 + 0.09 * 40 / 90)

    def test_a_quantile_beyond_the_last_bound_is_that_bound(self) -> None:
        """Everything older than the last finite bound: Prometheus answers that bound."""
        assert quantile(0.99, {}, {0.5: 0.0, 1.0: 0.0, INF: 10.0}) == 1.0

    def test_nothing_observed_gives_no_quantile(self) -> None:
        """No event between the scrapes: no figure, rather than a made-up zero."""
        same = {0.01: 5.0, INF: 5.0}

        assert quantile(0.5, same, same) is None
        assert summary({"taken": same}, {"taken": same}).startswith("taken: nothing observed")
