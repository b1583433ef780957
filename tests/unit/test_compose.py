"""docker-compose.yml and deploy/ checked statically (Docker cannot run here)."""

import json
import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"offers": 8001, "demands": 8002, "matcher": 8003, "notifier": 8004}
CONTRACT_ENV = {
    "KAFKA_BOOTSTRAP_SERVERS",
    "MONGODB_URL",
    "HTTP_PORT",
    "AUTH_JWT_SECRET",
    "PUBLIC_BASE_URL",
}
# What each service reads beyond the common ones, set for the compose network: without
# them a service falls back to 127.0.0.1, its own container (the notifier's answer links
# would point at the reader's own computer, the offers service would ask itself for a
# family's contact).
OWN_ENV = {
    "offers": {"DEMANDS_API_URL": "http://demands:8002"},
    "demands": {},
    "matcher": {"MATCH_ANSWER_TTL_SECONDS": None},
    "notifier": {
        "SMTP_HOST": "mailpit",
        "SMTP_PORT": None,
        "MAIL_FROM": None,
        "OFFERS_PUBLIC_URL": None,
        "DEMANDS_PUBLIC_URL": None,
    },
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"][name]
    return found


class TestServices:
    @pytest.mark.parametrize("name", SERVICES)
    def test_every_service_sets_every_contract_variable(
        self, compose: dict[str, Any], name: str
    ) -> None:
        """Each service gets every contract env var, and those of its own (the notifier its
        SMTP server and where the answer links point; offers where the demands API is)."""
        env = service(compose, name)["environment"]
        assert CONTRACT_ENV | set(OWN_ENV[name]) <= set(env)
        for variable, value in OWN_ENV[name].items():
            if value is not None:
                assert env[variable] == value, variable
        assert "replicaSet=rs0" in env["MONGODB_URL"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"

    @pytest.mark.parametrize("name", SERVICES)
    def test_the_jwt_secret_has_no_placeholder_default(
        self, compose: dict[str, Any], name: str
    ) -> None:
        """AUTH_JWT_SECRET must come from the environment: compose refuses to start without."""
        assert service(compose, name)["environment"]["AUTH_JWT_SECRET"] == (
            "${AUTH_JWT_SECRET:?set AUTH_JWT_SECRET}"
        )

    @pytest.mark.parametrize(("name", "port"), SERVICES.items())
    def test_ports_are_the_ones_of_the_design(
        self, compose: dict[str, Any], name: str, port: int
    ) -> None:
        """HTTP_PORT, the published port and the healthcheck follow the README's configuration."""
        spec = service(compose, name)
        assert spec["environment"]["HTTP_PORT"] == str(port)
        assert spec["ports"] == [f"{port}:{port}"]
        assert spec["environment"]["HTTP_HOST"] == "0.0.0.0"

    @pytest.mark.parametrize("name", SERVICES)
    def test_each_service_is_health_checked_on_readyz(
        self, compose: dict[str, Any], name: str
    ) -> None:
        """A service counts as healthy only when its /readyz answers."""
        assert "/readyz" in " ".join(service(compose, name)["healthcheck"]["test"])

    @pytest.mark.parametrize("name", SERVICES)
    def test_services_wait_for_healthy_infrastructure_and_topics(
        self, compose: dict[str, Any], name: str
    ) -> None:
        """depends_on: Kafka and MongoDB healthy, the topic job completed."""
        depends = service(compose, name)["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy"
        assert depends["mongodb"]["condition"] == "service_healthy"
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"

    @pytest.mark.parametrize("name", SERVICES)
    def test_each_service_runs_its_own_module_from_the_dockerfile_image(
        self, compose: dict[str, Any], name: str
    ) -> None:
        """`python -m services.<name>` on the image built from deploy/Dockerfile."""
        spec = service(compose, name)
        assert spec["command"] == ["python", "-m", f"services.{name}"]
        assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (ROOT / "services" / name / "__main__.py").is_file()

    def test_the_notifier_sends_to_mailpit(self, compose: dict[str, Any]) -> None:
        """The notifier's SMTP server is the Mailpit catcher, which it waits for."""
        notifier = service(compose, "notifier")
        assert notifier["environment"]["SMTP_HOST"] == "mailpit"
        assert notifier["depends_on"]["mailpit"]["condition"] == "service_healthy"
        assert "mailpit" in compose["services"]


class TestInfrastructure:
    def test_kafka_runs_in_kraft_mode_without_auto_created_topics(
        self, compose: dict[str, Any]
    ) -> None:
        """Apache Kafka, single node, broker+controller, topics only from the init job."""
        kafka = service(compose, "kafka")
        assert kafka["image"].startswith("apache/kafka")
        assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert "healthcheck" in kafka

    def test_the_topic_job_creates_every_topic_with_one_partition_count(
        self, compose: dict[str, Any]
    ) -> None:
        """Every contract topic is created; contacts compacted; one $PARTITIONS for all."""
        script = " ".join(service(compose, "kafka-topics")["command"])
        for topic in ("offers", "demands", "matches", "contacts", "notifications"):
            assert f"welfare.{topic}.v1" in script
        assert "cleanup.policy=compact" in script
        assert len(set(re.findall(r"--partitions \"\$\$(\w+)\"", script))) == 1

    def test_mongodb_is_a_replica_set_initiated_by_its_healthcheck(
        self, compose: dict[str, Any]
    ) -> None:
        """mongod --replSet rs0, and the healthcheck runs rs.initiate when needed."""
        mongodb = service(compose, "mongodb")
        assert "--replSet" in mongodb["command"]
        assert "rs0" in mongodb["command"]
        assert "rs.initiate" in " ".join(mongodb["healthcheck"]["test"])


class TestObservability:
    def test_prometheus_scrapes_the_four_services_one_job_each(self) -> None:
        """deploy/prometheus/prometheus.yml: a job per service, named after it, no target labels."""
        config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
        jobs = {
            job["job_name"]: [t for group in job["static_configs"] for t in group["targets"]]
            for job in config["scrape_configs"]
        }
        assert jobs == {name: [f"{name}:{port}"] for name, port in SERVICES.items()}
        labels = [g.get("labels") for j in config["scrape_configs"] for g in j["static_configs"]]
        assert labels == [None] * len(SERVICES)  # a `service` target label would clash
        assert config["rule_files"] == ["alerts.yml"]

    def test_prometheus_mounts_the_config_with_its_rules(self, compose: dict[str, Any]) -> None:
        """The whole deploy/prometheus folder is mounted, so alerts.yml is loaded too."""
        assert "./deploy/prometheus:/etc/prometheus:ro" in service(compose, "prometheus")["volumes"]

    def test_grafana_is_provisioned_with_both_dashboards(self, compose: dict[str, Any]) -> None:
        """Grafana mounts the provisioning folder; Network and Service health are generated."""
        volumes = " ".join(service(compose, "grafana")["volumes"])
        assert "./deploy/grafana/provisioning" in volumes
        assert "./deploy/grafana/dashboards" in volumes
        build = runpy.run_path(str(ROOT / "deploy/grafana/build_dashboards.py"))
        for name, board in build["dashboards"]().items():
            committed = json.loads((ROOT / "deploy/grafana/dashboards" / name).read_text())
            assert committed == board, "regenerate: python deploy/grafana/build_dashboards.py"
        titles = {
            json.loads(p.read_text())["title"]
            for p in (ROOT / "deploy/grafana/dashboards").glob("*.json")
        }
        assert titles == {"Concilia — Network", "Concilia — Service health"}
