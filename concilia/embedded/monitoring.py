"""`concilia up --monitoring`: a real Prometheus (Debian's `prometheus` binary) as one more
child process, scraping the four services with the rules of deploy/prometheus/alerts.yml.

Its configuration is written to `$CONCILIA_HOME/prometheus/` with the stack's own ports (the
same jobs as deploy/prometheus/prometheus.yml); its data stays there between runs."""

import json
import shutil
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import concilia
from concilia.embedded.processes import ChildProcess, http_ok, require_free, wait_until

RULES = Path(concilia.__file__).resolve().parents[1] / "deploy" / "prometheus" / "alerts.yml"
SCRAPE_SECONDS = 5
INSTALL_HINT = "apt-get install prometheus (Debian's package; `make install` does it as root)"


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def config(
    targets: Mapping[str, str], rules: Path | None, every_seconds: float = SCRAPE_SECONDS
) -> dict[str, object]:
    """prometheus.yml: one job per service, named after it (as in deploy/prometheus)."""
    return {
        "global": {
            "scrape_interval": f"{every_seconds:g}s",
            "evaluation_interval": f"{every_seconds:g}s",
        },
        "rule_files": [str(rules)] if rules else [],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in targets.items()
        ],
    }


@dataclass(frozen=True)
class Status:
    rules: int
    targets_up: int
    targets: int

    def line(self) -> str:
        return f"{self.rules} alert rules loaded, {self.targets_up}/{self.targets} targets up"


def _get_data(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.load(response)["data"]


class Monitoring:
    """The Prometheus child of the stack, on `port`."""

    def __init__(self, home: Path, port: int = 9090, every_seconds: float = SCRAPE_SECONDS) -> None:
        self.home = home / "prometheus"
        self.port = port
        self.every_seconds = every_seconds
        self.child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_port(self) -> None:
        """Raise PortInUse if Prometheus's port is taken."""
        require_free(self.port, "Prometheus", "--prometheus-port or CONCILIA_PROMETHEUS_PORT")

    def start(self, targets: Mapping[str, str], log_dir: Path, timeout: float = 60) -> None:
        """Write the configuration, start Prometheus, wait until it is ready."""
        binary = prometheus_binary()
        if binary is None:
            raise FileNotFoundError(f"prometheus is not installed: {INSTALL_HINT}")
        self.check_port()  # again: the stack's first check was minutes ago
        self.home.mkdir(parents=True, exist_ok=True)
        rules = None
        if RULES.is_file():
            rules = self.home / "alerts.yml"
            shutil.copyfile(RULES, rules)
        settings = config(targets, rules, self.every_seconds)
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(settings))
        self.child = ChildProcess(
            "prometheus",
            [
                binary,
                f"--config.file={self.home / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.home / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=30d",
            ],
            log_dir / "prometheus.log",
        ).start()
        wait_until(
            lambda: http_ok(f"{self.url}/-/ready"),
            timeout=timeout,
            interval=0.5,
            what=f"Prometheus to be ready on {self.url}",
        )

    def status(self) -> Status:
        """How many alert rules are loaded and how many targets are up, as Prometheus says."""
        rules = _get_data(f"{self.url}/api/v1/rules")
        alerting = [
            rule
            for group in rules["groups"]
            for rule in group["rules"]
            if rule.get("type") == "alerting"
        ]
        active = _get_data(f"{self.url}/api/v1/targets")["activeTargets"]
        up = sum(1 for t in active if t.get("health") == "up")
        return Status(len(alerting), up, len(active))

    def wait_for_targets(self, timeout: float = 3 * SCRAPE_SECONDS + 5) -> Status:
        """The status once every target is known and scraped up (or as it is at the deadline;
        targets appear a moment after Prometheus is ready)."""
        deadline = time.monotonic() + timeout
        status = self.status()
        while not 0 < status.targets == status.targets_up and time.monotonic() < deadline:
            time.sleep(0.5)  # polling Prometheus' own API with a deadline
            status = self.status()
        return status

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.child = None
