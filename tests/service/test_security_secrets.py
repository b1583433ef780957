"""Placeholder secrets are refused with one clear line, never restarted in a loop, never
logged; personal data on disk is readable by its owner only."""

import os
import smtplib
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from concilia.embedded.processes import free_port
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = "changeme"


def run(
    argv: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class TestPlaceholderSecrets:
    def test_concilia_up_refuses_a_placeholder_secret_with_one_line_and_exit_2(
        self, tmp_path: Path
    ) -> None:
        """`AUTH_JWT_SECRET=changeme concilia up` ends at once: exit 2, one line on stderr
        naming the variable, the value nowhere."""
        ports = [
            flag
            for name in ("offers", "demands", "matcher", "notifier", "kafka", "mongodb", "smtp")
            for flag in (f"--{name}-port", str(free_port()))
        ]
        done = run(
            ["-m", "concilia.cli", "--home", str(tmp_path), "up", *ports],
            {"AUTH_JWT_SECRET": PLACEHOLDER},
        )
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "AUTH_JWT_SECRET" in lines[0]
        assert PLACEHOLDER not in done.stdout + done.stderr

    def test_a_service_started_with_a_placeholder_secret_never_prints_it(self) -> None:
        """The settings error names AUTH_JWT_SECRET but not its value."""
        done = run(
            ["-m", "services.offers"],
            {"AUTH_JWT_SECRET": PLACEHOLDER, "HTTP_PORT": str(free_port())},
        )
        assert done.returncode != 0
        assert "AUTH_JWT_SECRET" in done.stderr
        assert PLACEHOLDER not in done.stdout + done.stderr


def loose(path: Path) -> list[str]:
    """Everything under `path` (itself included) that group or others may read or enter."""
    found = [path, *path.rglob("*")]
    return [
        str(p) for p in found if p.exists() and p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]


class TestOwnerOnlyFiles:
    async def test_mail_database_and_log_files_are_readable_by_their_owner_only(
        self, smtp: tuple[int, Path], mongodb: str, stack_home: Path
    ) -> None:
        """An .eml file is 0600 in a 0700 folder; database files and logs are owner-only."""
        port, mail_dir = smtp
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhello\r\n")
        await eventually(lambda: list(mail_dir.glob("*.eml")), what="the mail file")
        assert loose(mail_dir) == []
        assert loose(stack_home / "db") == []
        assert loose(stack_home / "logs") == []
