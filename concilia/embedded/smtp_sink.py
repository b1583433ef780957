"""A local SMTP sink: every message received is written as one RFC 5322 `.eml` file.

Run: python -m concilia.embedded.smtp_sink --port 1025 --dir .concilia/mail"""

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlWriter:
    """aiosmtpd handler: writes atomically (temp file, then rename) so readers never see a
    half-written message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.chmod(0o700)  # personal data: owner only
        self._counter = itertools.count()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        name = f"{time.time_ns()}-{os.getpid()}-{next(self._counter):06d}.eml"
        tmp = self.directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.rename(self.directory / name)
        return "250 Message accepted for delivery"


def start_sink(host: str, port: int, directory: Path) -> Controller:
    controller = Controller(EmlWriter(directory), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path(".concilia/mail"))
    args = parser.parse_args()
    controller = start_sink(args.host, args.port, args.dir)
    print(f"smtp sink on {args.host}:{args.port} writing to {args.dir}", flush=True)

    async def wait_for_signal() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(wait_for_signal())
    controller.stop()


if __name__ == "__main__":
    main()
