"""`concilia stats`: the gap table printed from the matcher's insight document."""

from typing import Any

from concilia.contract.taxonomy import AREA_OF, ServiceType
from concilia.embedded.stats import gap_table


def insight(**rows: dict[str, Any]) -> dict[str, Any]:
    """An insight document with every service type, some of them active."""
    empty = {
        "open_offers": 0,
        "open_seats": 0,
        "waiting_demands": 0,
        "matched_this_week": 0,
        "matched_last_week": 0,
        "accepted_this_week": 0,
        "accepted_last_week": 0,
        "median_time_to_match_seconds": None,
        "top_unmet_reason": None,
    }
    return {
        "this_week_from": "2026-11-19T01:00:00+00:00",
        "rows": [
            {"area": str(AREA_OF[t]), "service_type": str(t), **empty, **rows.get(str(t), {})}
            for t in ServiceType
        ],
    }


class TestGapTable:
    def test_only_service_types_with_anything_going_on_are_printed(self) -> None:
        """Rows with seats, waiting demands or matches appear, with a totals line."""
        text = gap_table(
            insight(
                after_school={"open_seats": 9, "matched_this_week": 5, "matched_last_week": 3},
                sport={"waiting_demands": 1, "top_unmet_reason": "no_provider"},
            )
        )
        rows = text.splitlines()[3:-2]
        assert [row.split()[1] for row in rows] == ["after_school", "sport"]
        assert rows[1].split()[-1] == "no_provider"
        assert text.splitlines()[-1].split()[:3] == ["all", "9", "1"]

    def test_durations_read_in_the_unit_that_fits(self) -> None:
        """Seconds, minutes, hours or days, whichever reads best."""
        text = gap_table(insight(coworking={"open_seats": 1, "median_time_to_match_seconds": 5400}))
        assert "90min" in text

    def test_a_quiet_network_says_so(self) -> None:
        """Nothing open, waiting or matched: one sentence instead of an empty table."""
        assert gap_table(insight()).startswith("No open offers")
