"""`python -m services.notifier` as a real process: health, readiness and metrics."""

from pathlib import Path

import httpx
import pytest

from concilia.embedded.processes import free_port
from tests.conftest import JWT_SECRET
from tests.support.services import service_process, wait_ready

pytestmark = pytest.mark.service


class TestNotifierProcess:
    async def test_it_is_ready_with_smtp_down_and_says_so(
        self, kafka: str, mongodb: str, database_name: str, stack_home: Path
    ) -> None:
        """Readiness follows Mongo and Kafka; an unreachable SMTP server is only reported."""
        port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "MONGODB_URL": mongodb,
            "MONGODB_DATABASE": database_name,
            "HTTP_PORT": str(port),
            "SMTP_PORT": str(free_port()),
            "AUTH_JWT_SECRET": JWT_SECRET,
        }
        child = service_process("services.notifier", env, stack_home / "logs", "notifier").start()
        try:
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url)
            async with httpx.AsyncClient(base_url=base_url) as client:
                ready = (await client.get("/readyz")).json()
                health = await client.get("/healthz")
                metrics = (await client.get("/metrics")).text
        finally:
            child.stop()
        assert ready["checks"] == {"mongodb": "ok", "kafka": "ok", "outbox": "ok"}
        assert ready["reported"]["smtp"].startswith("unavailable")
        assert health.json()["service"] == "notifier"
        assert "concilia_notifications_pending" in metrics
