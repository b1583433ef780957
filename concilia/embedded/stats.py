"""`concilia stats`: the network's gap table, read from the matcher's `GET /v1/insight`
(role operator) and printed for people: area × service type, open seats, waiting demands,
matched and accepted this week and last, median time to match, top unmet reason."""

import json
import urllib.request
from typing import Any

COLUMNS = (
    ("area", "area"),
    ("service type", "service_type"),
    ("open seats", "open_seats"),
    ("waiting", "waiting_demands"),
    ("matched wk/prev", "matched"),
    ("accepted wk/prev", "accepted"),
    ("median to match", "median"),
    ("top unmet reason", "top_unmet_reason"),
)


_NUMBERS = {"open_seats", "waiting_demands", "matched", "accepted", "median"}


def fetch_insight(matcher_url: str, token: str, timeout: float = 10) -> dict[str, Any]:
    """The matcher's insight document (raises urllib's errors when it does not answer)."""
    request = urllib.request.Request(
        f"{matcher_url}/v1/insight", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _cells(row: dict[str, Any]) -> dict[str, str]:
    return {
        "area": row["area"],
        "service_type": row["service_type"],
        "open_seats": str(row["open_seats"]),
        "waiting_demands": str(row["waiting_demands"]),
        "matched": f"{row['matched_this_week']}/{row['matched_last_week']}",
        "accepted": f"{row['accepted_this_week']}/{row['accepted_last_week']}",
        "median": _duration(row["median_time_to_match_seconds"]),
        "top_unmet_reason": row["top_unmet_reason"] or "-",
    }


def _active(row: dict[str, Any]) -> bool:
    counted = ("open_seats", "waiting_demands", "matched_this_week", "matched_last_week")
    return any(row[key] for key in counted)


def gap_table(insight: dict[str, Any]) -> str:
    """The rows with any offer, demand or match, as an aligned text table with totals."""
    rows = [_cells(row) for row in insight["rows"] if _active(row)]
    if not rows:
        return "No open offers, waiting demands or matches in the last two weeks."
    total = {
        "area": "all",
        "service_type": "",
        "open_seats": str(sum(r["open_seats"] for r in insight["rows"])),
        "waiting_demands": str(sum(r["waiting_demands"] for r in insight["rows"])),
        "matched": "{}/{}".format(
            sum(r["matched_this_week"] for r in insight["rows"]),
            sum(r["matched_last_week"] for r in insight["rows"]),
        ),
        "accepted": "{}/{}".format(
            sum(r["accepted_this_week"] for r in insight["rows"]),
            sum(r["accepted_last_week"] for r in insight["rows"]),
        ),
        "median": "",
        "top_unmet_reason": "",
    }
    table = [dict(zip([k for _, k in COLUMNS], [h for h, _ in COLUMNS], strict=True)), *rows, total]
    widths = {key: max(len(line[key]) for line in table) for _, key in COLUMNS}
    text = [
        "  ".join(
            line[key].rjust(widths[key]) if key in _NUMBERS else line[key].ljust(widths[key])
            for _, key in COLUMNS
        ).rstrip()
        for line in table
    ]
    text.insert(1, "-" * len(text[0]))
    text.insert(len(text) - 1, "-" * len(text[0]))
    since = str(insight["this_week_from"])[:16].replace("T", " ")
    return "\n".join(
        [f"The network's gap (this week = since {since} UTC; wk/prev = this week/last week)", *text]
    )
