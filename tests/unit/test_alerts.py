"""The alert rules and the scrape configuration, checked by Prometheus' own promtool:
`promtool test rules` runs the unit tests in deploy/prometheus/alerts_test.yml."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = (
    "ConciliaServiceDown",
    "ConciliaConsumerLagGrowing",
    "ConciliaMatcherBehind",
    "ConciliaOutboxStuck",
    "ConciliaOutboxParked",
    "ConciliaDeadLetters",
    "ConciliaEmailFailures",
    "ConciliaDemandsNotMatched",
    "ConciliaProposalsExpireUnanswered",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip(
            "could not run: promtool is not installed (`make install` installs Debian's "
            "prometheus package where apt-get is available)"
        )
    return subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


class TestAlertRules:
    def test_every_alert_the_operators_need_is_defined(self) -> None:
        """Service down, lag, a matcher behind its input, outbox age and parked rows, DLQ,
        e-mail failures, no matches, expiries."""
        rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
        names = [r["alert"] for group in rules["groups"] for r in group["rules"]]
        assert sorted(names) == sorted(ALERTS)

    def test_every_alert_has_a_unit_test(self) -> None:
        """alerts_test.yml exercises each alert at least once firing."""
        tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
        fired = {
            case["alertname"]
            for test in tests
            for case in test["alert_rule_test"]
            if case["exp_alerts"]
        }
        assert fired == set(ALERTS)

    def test_promtool_passes_the_alert_unit_tests(self) -> None:
        """`promtool test rules alerts_test.yml` succeeds."""
        result = promtool("test", "rules", "alerts_test.yml")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_promtool_accepts_the_scrape_configuration(self) -> None:
        """`promtool check config prometheus.yml` (which loads the rules too) succeeds."""
        result = promtool("check", "config", "prometheus.yml")
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_dashboard_expression_is_valid_promql(self, tmp_path: Path) -> None:
        """Each panel query of both dashboards parses (checked as recording rules)."""
        exprs = [
            target["expr"]
            for board in (ROOT / "deploy/grafana/dashboards").glob("*.json")
            for panel in json.loads(board.read_text())["panels"]
            for target in panel["targets"]
        ]
        rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
        check = tmp_path / "dashboards.yml"
        check.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
        result = promtool("check", "rules", str(check))
        assert result.returncode == 0, result.stdout + result.stderr
