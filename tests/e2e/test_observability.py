"""What operators and subscribers meet through tools nobody here wrote, on the live stack:
every metric and label the dashboards and alerts use is exported; the official CloudEvents
SDK reads every event of every topic; the operators' gap table (GET /v1/insight and
`concilia stats`); a real Prometheus loads the rules and scrapes the four services."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.kafka import KafkaMessage as LegacyKafkaMessage
from cloudevents.v1.kafka import from_structured as legacy_from_structured
from prometheus_client.parser import text_string_to_metric_families

from concilia.contract import topics
from concilia.contract.catalogue import BY_NAME, dataschema_of
from concilia.embedded.monitoring import Monitoring, prometheus_binary
from concilia.embedded.processes import free_port
from tests.conftest import bearer
from tests.e2e.conftest import RunningStack
from tests.support.factories import a_demand, an_offer
from tests.support.kafka import Message, read_all
from tests.support.places import PIAZZALE_ARCHINTO, VIA_BORSIERI, VIA_CONFALONIERI
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ANSWER_TTL_SECONDS = 600
PROVIDER = bearer("coop-isola-ragazzi", "provider")
REQUESTER = bearer("genitori-isola", "requester")
OPERATOR = bearer("ats-milano", "operator")
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus itself, never by a service
_METRIC = re.compile(r"\b(concilia_[a-z_]+|up)\b")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_LEGEND = re.compile(r"\{\{\s*(?:\$labels\.)?([a-z_]+)\s*\}\}")


def used_queries() -> Iterator[tuple[str, str, set[str]]]:
    """(where, expr, labels its output is shown with) of every dashboard panel and alert."""
    for board in (ROOT / "deploy/grafana/dashboards").glob("*.json"):
        for panel in json.loads(board.read_text())["panels"]:
            for target in panel["targets"]:
                legend = set(_LEGEND.findall(target["legendFormat"]))
                yield f"{board.name}: {panel['title']}", target["expr"], legend
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            shown = set(_LEGEND.findall(" ".join(rule["annotations"].values())))
            yield f"alert {rule['alert']}", rule["expr"], shown


def labels_of(expr: str) -> set[str]:
    """The label names an expression groups by or matches on."""
    names = {n.strip() for group in _GROUPING.findall(expr) for n in group.split(",")}
    for matchers in _MATCHERS.findall(expr):
        names |= set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    return {n for n in names if n}


async def exported(stack: RunningStack) -> dict[str, set[str]]:
    """Series name → label names, over the four services' /metrics."""
    found: dict[str, set[str]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for url in stack.urls.values():
            text = (await client.get(f"{url}/metrics")).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    found.setdefault(sample.name, set()).update(sample.labels)
    return found


def missing(found: dict[str, set[str]]) -> list[str]:
    """What the dashboards and alerts use that the services do not export."""
    problems = []
    for where, expr, shown in used_queries():
        metrics = set(_METRIC.findall(expr)) - {"up"}  # `up` is Prometheus' own
        for metric in sorted(metrics - set(found)):
            problems.append(f"{where}: {metric} is not exported")
        available = set().union(*(found.get(m, set()) for m in metrics)) | SCRAPE_LABELS
        for label in sorted((labels_of(expr) | shown) - available):
            problems.append(f"{where}: label {label} is not on {sorted(metrics)}")
    return problems


async def post(url: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def get(url: str, path: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        return await client.get(path, headers=headers)


@pytest.fixture(scope="module")
async def network(stack: RunningStack) -> dict[str, Any]:
    """One accepted match (after-school at Archinto) and one demand nothing serves (sport)."""
    offer = await post(
        stack.urls["offers"], "/v1/offers", PROVIDER, an_offer(near=PIAZZALE_ARCHINTO)
    )
    served = await post(
        stack.urls["demands"], "/v1/demands", REQUESTER, a_demand(near=VIA_BORSIERI)
    )
    waiting = await post(
        stack.urls["demands"],
        "/v1/demands",
        REQUESTER,
        a_demand(service_type="sport", near=VIA_CONFALONIERI, email="luca@example.org"),
    )

    async def proposed() -> str | None:
        found = (await get(stack.urls["demands"], f"/v1/demands/{served['id']}", REQUESTER)).json()
        match: dict[str, Any] = found.get("match") or {}
        return match.get("match_id") if match.get("state") == "proposed" else None

    match_id = await eventually(proposed, timeout=60, what="a proposal for the family")
    await post(stack.urls["demands"], f"/v1/demands/{served['id']}/match/accept", REQUESTER)

    async def provider_knows() -> bool:
        found = await get(stack.urls["offers"], f"/v1/offers/{offer['id']}/matches", PROVIDER)
        return any(m["match_id"] == match_id for m in found.json())

    # The offers service learns of the proposal on its own consumer, maybe after demands.
    await eventually(provider_knows, timeout=60, what="the proposal known to the offers service")
    await post(
        stack.urls["offers"], f"/v1/offers/{offer['id']}/matches/{match_id}/accept", PROVIDER
    )

    async def accepted() -> bool:
        found = (await get(stack.urls["demands"], f"/v1/demands/{served['id']}", REQUESTER)).json()
        return bool((found.get("match") or {}).get("state") == "accepted")

    await eventually(accepted, timeout=60, what="the match accepted by both")
    return {"offer": offer, "served": served, "waiting": waiting, "match_id": match_id}


class TestMetricCoverage:
    async def test_every_metric_and_label_of_the_dashboards_and_alerts_is_exported(
        self, stack: RunningStack, network: dict[str, Any]
    ) -> None:
        """Scraping the four services finds each metric and label the queries rely on."""
        problems: list[str] = []

        async def covered() -> bool:
            problems[:] = missing(await exported(stack))
            return not problems

        try:
            await eventually(covered, timeout=30, interval=0.5, what="every metric exported")
        except AssertionError:
            pytest.fail("\n".join(problems))

    async def test_the_gap_gauges_tell_the_committed_state(
        self, stack: RunningStack, network: dict[str, Any]
    ) -> None:
        """After-school has one seat fewer (held by the accepted match); sport has a waiting
        demand and no seats; a full offer would not count as open."""

        async def gauges() -> dict[str, float] | None:
            async with httpx.AsyncClient(timeout=10) as client:
                text = (await client.get(f"{stack.urls['matcher']}/metrics")).text
            values = {
                f"{s.name}:{s.labels.get('service_type')}": s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
                if s.name in ("concilia_open_seats", "concilia_waiting_demands")
            }
            wanted = values.get("concilia_open_seats:after_school") == 4
            return values if wanted and values.get("concilia_waiting_demands:sport") == 1 else None

        values = await eventually(gauges, timeout=30, interval=0.5, what="the gap gauges")
        assert values["concilia_open_seats:sport"] == 0
        assert values["concilia_waiting_demands:after_school"] == 0


class TestCloudEventsSdk:
    @pytest.fixture(scope="class")
    async def messages(self, stack: RunningStack, network: dict[str, Any]) -> list[Message]:
        async def all_there() -> list[Message] | None:
            found = await read_all(stack.bootstrap, *topics.ALL)
            kinds = {m.topic for m in found}
            sent = any(m.topic == topics.NOTIFICATIONS for m in found)
            return found if sent and kinds >= {topics.OFFERS, topics.CONTACTS} else None

        return await eventually(all_there, timeout=60, what="events on every topic")

    async def test_every_event_message_carries_the_structured_content_type(
        self, messages: list[Message]
    ) -> None:
        """The Kafka binding: content-type application/cloudevents+json; tombstones none."""
        for m in messages:
            if m.value is None:
                assert "content-type" not in m.headers
            else:
                assert m.headers.get("content-type") == "application/cloudevents+json", m

    async def test_the_official_sdk_reads_every_event_in_both_modes(
        self, messages: list[Message]
    ) -> None:
        """The structured reader and the binary-aware one (auto-detecting the mode) both
        read each event, with the dataschema of its type and data its schema accepts."""
        events = [m for m in messages if m.value is not None]
        assert {m.topic for m in events} == set(topics.ALL)
        for m in events:
            assert m.value is not None
            headers = {k: v.encode() for k, v in m.headers.items()}
            message = ce_kafka.KafkaMessage(headers=headers, key=m.key, value=m.value)
            structured = ce_kafka.from_structured(message, JSONFormat())
            detected = ce_kafka.from_kafka(message, JSONFormat())
            legacy = legacy_from_structured(LegacyKafkaMessage(headers, m.key, m.value))
            for event in (structured, detected):
                attributes = event.get_attributes()
                assert attributes["specversion"] == "1.0"
                assert attributes["dataschema"] == dataschema_of(attributes["type"])
                assert attributes["partitionkey"] == m.key  # the Kafka key, as the SDK maps it
            assert legacy["id"] == structured.get_attributes()["id"]
            spec = BY_NAME[m.topic]
            event_type = structured.get_attributes()["type"]
            assert event_type in spec.types
            spec.payload_of(event_type).model_validate(structured.get_data())


class TestOperatorsGapTable:
    async def test_only_operators_read_the_insight(
        self, stack: RunningStack, network: dict[str, Any]
    ) -> None:
        """No token 401, a requester 403, an operator 200 with every service type."""
        url = stack.urls["matcher"]
        assert (await get(url, "/v1/insight", {})).status_code == 401
        assert (await get(url, "/v1/insight", REQUESTER)).status_code == 403
        answer = await get(url, "/v1/insight", OPERATOR)
        assert answer.status_code == 200
        rows = {row["service_type"]: row for row in answer.json()["rows"]}
        assert len(rows) == 21
        assert rows["after_school"]["matched_this_week"] == 1
        assert rows["after_school"]["accepted_this_week"] == 1
        assert rows["after_school"]["median_time_to_match_seconds"] is not None
        assert rows["sport"]["waiting_demands"] == 1
        assert rows["sport"]["top_unmet_reason"] == "no_provider"

    async def test_concilia_stats_prints_the_gap_table(
        self, stack: RunningStack, network: dict[str, Any], jwt_secret: str, tmp_path: Path
    ) -> None:
        """`concilia stats` prints one line per active service type, with the unmet reason."""
        port = stack.urls["matcher"].rsplit(":", 1)[1]
        env = {**os.environ, "AUTH_JWT_SECRET": jwt_secret}
        command = [sys.executable, "-m", "concilia.cli", "--home", str(tmp_path), "stats"]
        result = subprocess.run(  # noqa: ASYNC221 (a short CLI run; nothing else waits on the loop)
            [*command, "--matcher-port", port],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        lines = {line.split()[1]: line for line in result.stdout.splitlines()[3:-2]}
        assert set(lines) == {"after_school", "sport"}
        assert lines["sport"].split()[-1] == "no_provider"
        assert "1/0" in lines["after_school"]  # matched and accepted this week, none before


class TestPrometheus:
    async def test_prometheus_loads_the_rules_and_scrapes_the_four_services(
        self, stack: RunningStack, tmp_path: Path
    ) -> None:
        """The Debian binary with the embedded config: 9 alert rules, 4 of 4 targets up."""
        if prometheus_binary() is None:
            pytest.skip("could not run: prometheus is not installed (apt-get install prometheus)")
        monitoring = Monitoring(tmp_path, free_port(), every_seconds=1)
        targets = {name: url.removeprefix("http://") for name, url in stack.urls.items()}
        try:
            monitoring.start(targets, tmp_path)
            status = monitoring.wait_for_targets(timeout=30)
        finally:
            monitoring.stop()
        assert (status.rules, status.targets_up, status.targets) == (9, 4, 4)
