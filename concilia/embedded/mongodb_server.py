"""The embedded MongoDB server: SecantusDB, plus the one duty of mongod it leaves to traffic.

mongod aborts a transaction left idle past `transactionLifetimeLimitSeconds` (60 s) from a
background thread, so a process killed inside a transaction blocks the documents it wrote
for a minute at most. SecantusDB reaps such transactions only when another transaction
statement arrives: a plain write waiting on one of those documents (say, a restarted
matcher claiming its market) waited forever when nothing else ran a transaction. Measured
here: blocked for over 5 minutes; through after 60 s with this reaper. So this process runs
SecantusDB's own command line and, beside it, a thread that runs an empty read-only
transaction every few seconds: each one lets SecantusDB reap what has expired.

Run as `python -m concilia.embedded.mongodb_server` with secantusd-py's arguments.
`CONCILIA_MONGODB_TRANSACTION_LIFETIME_SECONDS` shortens the 60 s lifetime: the tests set
15, so that a crash test waiting out an abandoned transaction does not wait a minute."""

import argparse
import functools
import logging
import os
import sys
import threading
import time
from typing import Any

from pymongo import MongoClient
from secantus import server
from secantus.cli import main as secantus_main

REAP_EVERY_SECONDS = 5.0
REAPER_DATABASE = "concilia_embedded"  # only read, never written: nothing is created
LIFETIME_VARIABLE = "CONCILIA_MONGODB_TRANSACTION_LIFETIME_SECONDS"

log = logging.getLogger("concilia.embedded.mongodb")


def port_of(argv: list[str]) -> int:
    """The `--port` among secantusd-py's arguments (27017 when absent, as its default)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--port", type=int, default=27017)
    return int(parser.parse_known_args(argv)[0].port)


def reap_abandoned_transactions(port: int, every: float = REAP_EVERY_SECONDS) -> None:
    """For ever: an empty transaction every `every` seconds, so expired ones are aborted."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true",
        serverSelectionTimeoutMS=2000,
        socketTimeoutMS=10_000,
    )
    reaper = client[REAPER_DATABASE]["reaper"]
    while True:
        time.sleep(every)  # the reaper's period, not synchronisation
        try:
            with client.start_session() as session:
                session.with_transaction(lambda s: reaper.find_one({}, session=s))
        except Exception as exc:  # starting, stopping or paused: next time
            log.debug("transaction reaper pass failed: %r", exc)


def set_transaction_lifetime(seconds: float) -> None:
    """Abort transactions left idle for `seconds` (SecantusDB's command line has no flag)."""
    init = server.SecantusDBServer.__init__

    @functools.wraps(init)
    def with_lifetime(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("transaction_lifetime_seconds", seconds)
        init(self, *args, **kwargs)

    server.SecantusDBServer.__init__ = with_lifetime  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if lifetime := os.environ.get(LIFETIME_VARIABLE):
        set_transaction_lifetime(float(lifetime))
    threading.Thread(
        target=reap_abandoned_transactions,
        args=(port_of(argv),),
        name="transaction-reaper",
        daemon=True,
    ).start()
    return int(secantus_main(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
