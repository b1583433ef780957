"""The two Grafana dashboards as code: `python deploy/grafana/build_dashboards.py` writes
dashboards/network.json and dashboards/service-health.json (a test fails when they drift,
another scrapes the live stack for every metric and label they use).

Gauges that every instance of a service reports alike (the gap, lag, DLQ depth) are read
with `max by`; week over week compares `increase(...[1w])` with the same `offset 1w`."""

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
JOBS = 'job=~"offers|demands|matcher|notifier"'

Target = tuple[str, str]  # (expr, legend)


def panel(
    title: str,
    targets: list[Target],
    *,
    unit: str = "short",
    kind: str = "timeseries",
    width: int = 12,
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": width, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def week_over_week(expr: str, legend: str) -> list[Target]:
    """`expr` over the last week, and the same a week earlier."""
    return [
        (expr.format(offset=""), f"{legend} this week"),
        (expr.format(offset=" offset 1w"), f"{legend} last week"),
    ]


def network() -> list[dict[str, Any]]:
    gap = "max by (area, service_type) (concilia_{})"
    return [
        panel(
            "The gap by area: open seats vs waiting demands",
            [
                (f"sum by (area) ({gap.format('open_seats')})", "{{area}} open seats"),
                (f"sum by (area) ({gap.format('waiting_demands')})", "{{area}} waiting demands"),
            ],
            description="Free seats of open offers and demands nothing fits yet.",
        ),
        panel(
            "Waiting demands minus open seats, by service type",
            [
                (
                    f"{gap.format('waiting_demands')} - {gap.format('open_seats')}",
                    "{{area}} / {{service_type}}",
                )
            ],
            kind="bargauge",
            description="Above zero: more families wait than there are free seats.",
        ),
        panel(
            "Proposals by area, week over week",
            week_over_week(
                "sum by (area) (increase(concilia_matches_total[1w]{offset}))", "{{area}}"
            ),
        ),
        panel(
            "Unmet demand by reason, week over week",
            week_over_week(
                "sum by (reason) (increase(concilia_matches_not_found_total[1w]{offset}))",
                "{{reason}}",
            ),
        ),
        panel(
            "Median time to match by area, week over week",
            week_over_week(
                "histogram_quantile(0.5, sum by (le, area) "
                "(increase(concilia_time_to_match_seconds_bucket[1w]{offset})))",
                "{{area}}",
            ),
            unit="s",
        ),
        panel(
            "Median time to acceptance by area, week over week",
            week_over_week(
                "histogram_quantile(0.5, sum by (le, area) "
                "(increase(concilia_time_to_acceptance_seconds_bucket[1w]{offset})))",
                "{{area}}",
            ),
            unit="s",
        ),
        panel(
            "Answers: how proposals ended, week over week",
            week_over_week(
                "sum by (state) (increase(concilia_match_outcomes_total[1w]{offset}))",
                "{{state}}",
            ),
        ),
        panel(
            "Acceptance, decline and expiry rates (share of the week's ends)",
            [
                (
                    "sum by (state) (increase(concilia_match_outcomes_total"
                    '{state=~"accepted|declined|expired"}[1w]))'
                    " / ignoring (state) group_left sum(increase(concilia_match_outcomes_total"
                    '{state=~"accepted|declined|expired"}[1w]))',
                    "{{state}}",
                )
            ],
            unit="percentunit",
        ),
        panel(
            "Exposure: proposals by provider this week (top 10)",
            [
                (
                    "topk(10, sum by (organization_id) "
                    "(increase(concilia_provider_proposals_total[1w])))",
                    "{{organization_id}}",
                )
            ],
            kind="bargauge",
        ),
        panel(
            "Exposure: seats held by provider",
            [
                (
                    "topk(10, sum by (organization_id) (concilia_provider_seats_held))",
                    "{{organization_id}}",
                )
            ],
            kind="bargauge",
        ),
    ]


def service_health() -> list[dict[str, Any]]:
    return [
        panel("Up", [(f"up{{{JOBS}}}", "{{job}} {{instance}}")], kind="stat", width=24),
        panel(
            "Requests per second by route",
            [("sum by (job, route) (rate(concilia_http_requests_total[5m]))", "{{job}} {{route}}")],
            unit="reqps",
        ),
        panel(
            "Errors (5xx) per second by route",
            [
                (
                    'sum by (job, route) (rate(concilia_http_requests_total{status=~"5.."}[5m]))',
                    "{{job}} {{route}}",
                )
            ],
            unit="reqps",
        ),
        panel(
            "Duration p95 by route",
            [
                (
                    "histogram_quantile(0.95, sum by (le, job, route) "
                    "(rate(concilia_http_request_seconds_bucket[5m])))",
                    "{{job}} {{route}}",
                )
            ],
            unit="s",
        ),
        panel(
            "Consumer lag by partition",
            [
                (
                    "max by (group, topic, partition) (concilia_consumer_lag_messages)",
                    "{{group}} {{topic}}[{{partition}}]",
                )
            ],
        ),
        panel(
            "Matcher: how far behind its input (event age, p50 and p99)",
            [
                (
                    f"histogram_quantile({q}, sum by (le, stage) "
                    "(rate(concilia_matcher_event_age_seconds_bucket[5m])))",
                    f"p{round(q * 100)} {{{{stage}}}}",
                )
                for q in (0.5, 0.99)
            ],
            unit="s",
            description="An offer, demand or answer event's age, from its Kafka timestamp, "
            "when the matcher began deciding it and when its decisions were committed. The "
            "relay sends them next (outbox panel).",
        ),
        panel(
            "Events consumed by outcome",
            [
                (
                    "sum by (job, outcome) (rate(concilia_events_consumed_total[5m]))",
                    "{{job}} {{outcome}}",
                )
            ],
            unit="ops",
        ),
        panel(
            "Outbox: oldest unpublished event, backlog, parked",
            [
                ("max by (service) (concilia_outbox_oldest_age_seconds)", "{{service}} age"),
                ("max by (service) (concilia_outbox_pending)", "{{service}} pending"),
                (
                    "sum by (service) (increase(concilia_outbox_parked_total[1h]))",
                    "{{service}} parked (1 h)",
                ),
            ],
            unit="s",
        ),
        panel(
            "Dead-letter topics",
            [("max by (topic) (concilia_dlq_messages)", "{{topic}}")],
        ),
        panel(
            "E-mail failures and retries per minute",
            [
                (
                    "sum by (template, outcome) (rate(concilia_emails_total"
                    '{outcome=~"retried|waited|failed|dropped"}[15m])) * 60',
                    "{{template}} {{outcome}}",
                ),
                ("max(concilia_notifications_pending)", "jobs pending"),
            ],
        ),
    ]


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], time_from: str) -> dict[str, Any]:
    x = y = 0
    for i, item in enumerate(panels, start=1):
        item["id"] = i
        width = item["gridPos"]["w"]
        if x + width > 24:
            x, y = 0, y + 8
        item["gridPos"] |= {"x": x, "y": y}
        x += width
    return {
        "uid": uid,
        "title": title,
        "tags": ["concilia"],
        "timezone": "Europe/Rome",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def dashboards() -> dict[str, dict[str, Any]]:
    """File name → dashboard."""
    return {
        "network.json": dashboard("concilia-network", "Concilia — Network", network(), "now-14d"),
        "service-health.json": dashboard(
            "concilia-service-health", "Concilia — Service health", service_health(), "now-6h"
        ),
    }


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, board in dashboards().items():
        (out / name).write_text(json.dumps(board, indent=2) + "\n")


if __name__ == "__main__":
    main()
