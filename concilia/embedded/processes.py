"""Child processes, ports and waiting with deadlines."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class PortInUse(RuntimeError):
    """A port the stack needs is taken by another process."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def require_free(port: int, what: str, env_hint: str) -> None:
    if port_open(port):
        raise PortInUse(
            f"port {port} needed by {what} is already in use; stop whatever listens there "
            f"or choose another port with {env_hint}"
        )


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when a GET of `url` answers 200 within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def http_get_text(url: str, timeout: float = 2.0) -> str | None:
    """The body of a GET, or None when the server does not answer 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError):
        return None


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `condition` until it holds or `timeout` seconds pass (then TimeoutError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


# Logs, database files and mail hold personal data: whatever a child creates is owner-only.
OWNER_ONLY_UMASK = 0o077


class ChildProcess:
    """A child in its own process group, its output in a log file (mode 0600), creating
    owner-only files (umask 077); stop() leaves nothing."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        grace_seconds: float = 8.0,
    ) -> None:
        """`grace_seconds`: how long stop() waits after SIGTERM before SIGKILL."""
        self.name = name
        self.grace_seconds = grace_seconds
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "ChildProcess":
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path.parent.chmod(0o700)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                umask=OWNER_ONLY_UMASK,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (SIGKILL by default: a crash)."""
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM the group, wait (`grace_seconds` by default), then SIGKILL what is left."""
        timeout = self.grace_seconds if timeout is None else timeout
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
            self.kill(signal.SIGCONT)  # a paused (SIGSTOP) child acts on the SIGTERM only then
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(5)
        # Reap any grandchild left in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
