"""Scale-out on the real broker and database: the same input through one matcher and
through three in one consumer group, one of them SIGKILLed mid-stream, gives exactly the
same set of decisions on welfare.matches.v1 (README: reliability; several instances, one result)."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from concilia.contract import topics
from concilia.contract.demands import DemandType
from concilia.embedded.processes import ChildProcess, free_port
from concilia.embedded.servers import start_kafka
from concilia.platform.kafka import ensure_topics
from concilia.platform.outbox import OUTBOX, PENDING
from services.matcher import store
from tests.support.kafka import events_of
from tests.support.market import demand_event, offer_event
from tests.support.places import (
    CORSO_COMO,
    PIAZZA_GAE_AULENTI,
    PIAZZALE_ARCHINTO,
    VIA_BORSIERI,
    VIA_CARMAGNOLA,
    VIA_CONFALONIERI,
)
from tests.support.services import service_process
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

KINDS = ("childcare", "after_school", "sport", "coworking", "training", "elderly_care")
OFFER_PLACES = (PIAZZALE_ARCHINTO, PIAZZA_GAE_AULENTI)
DEMAND_PLACES = (VIA_BORSIERI, VIA_CARMAGNOLA, VIA_CONFALONIERI, CORSO_COMO)
DEMANDS_PER_KIND = 14  # 4 seats per kind: most wait as `full`, withdrawals free seats
TEN_YEARS = str(10 * 365 * 86400)  # the events are of 2025: no window ends here

Message = tuple[str, bytes, str]


def offers() -> list[Message]:
    return [
        (
            topics.OFFERS,
            offer_event(f"so-{kind}-{n}", service_type=kind, near=place, capacity=2).to_bytes(),
            kind,
        )
        for kind in KINDS
        for n, place in enumerate(OFFER_PLACES)
    ]


def demands() -> list[Message]:
    """Demands of every kind interleaved; every fifth is withdrawn three demands later."""
    stream: list[Message] = []
    for n in range(DEMANDS_PER_KIND):
        for kind in KINDS:
            demand_id = f"sd-{kind}-{n:02d}"
            place = DEMAND_PLACES[n % len(DEMAND_PLACES)]
            stream.append(
                (
                    topics.DEMANDS,
                    demand_event(demand_id, service_type=kind, near=place).to_bytes(),
                    kind,
                )
            )
            if n >= 3 and (n - 3) % 5 == 0:
                gone = f"sd-{kind}-{n - 3:02d}"
                withdrawal = demand_event(
                    gone,
                    DemandType.WITHDRAWN,
                    service_type=kind,
                    near=DEMAND_PLACES[(n - 3) % len(DEMAND_PLACES)],
                    version=2,
                    status="withdrawn",
                )
                stream.append((topics.DEMANDS, withdrawal.to_bytes(), kind))
    return stream


async def produce_all(bootstrap: str, messages: list[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for topic, value, key in messages:
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


@pytest.fixture
def broker_pair(stack_home: Path) -> Iterator[tuple[str, str]]:
    """Two fresh brokers: one for the lone matcher, one for the group (same group id)."""
    ports = [free_port(), free_port()]
    children = [start_kafka(p, stack_home / "logs" / f"kafka-scale-{p}") for p in ports]
    try:
        yield f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"
    finally:
        for child in children:
            child.stop()


class Run:
    """Matcher processes on one broker and one database."""

    def __init__(self, kafka: str, mongodb: str, database: str, logs: Path) -> None:
        self.kafka, self.mongodb, self.database, self.logs = kafka, mongodb, database, logs
        self.members: list[ChildProcess] = []

    async def start(self, name: str) -> ChildProcess:
        port = free_port()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "MONGODB_URL": self.mongodb,
            "MONGODB_DATABASE": self.database,
            "HTTP_PORT": str(port),
            "MATCH_ANSWER_TTL_SECONDS": TEN_YEARS,
            "OUTBOX_POLL_SECONDS": "0.1",
        }
        member = service_process("services.matcher", env, self.logs, name=name).start()
        self.members.append(member)
        return member

    def stop(self) -> None:
        for member in self.members:
            member.stop()


@pytest.fixture
async def runs(
    broker_pair: tuple[str, str], mongodb: str, stack_home: Path
) -> AsyncIterator[tuple[Run, Run]]:
    logs = stack_home / "logs" / "matcher-scale-out"
    tag = uuid.uuid4().hex[:8]
    lone = Run(broker_pair[0], mongodb, f"t_scale_one_{tag}", logs)
    group = Run(broker_pair[1], mongodb, f"t_scale_three_{tag}", logs)
    try:
        yield lone, group
    finally:
        lone.stop()
        group.stop()


async def decisions(kafka: str) -> dict[str, tuple[str, Any]]:
    """The distinct match events on the topic, by CloudEvent id (a republished one once)."""
    return {e["id"]: (e["type"], e["data"]) for e in await events_of(kafka, topics.MATCHES)}


async def settled(mongo_client: Any, database: str, events: int) -> bool:
    """Every event processed and every decision published."""
    db = mongo_client[database]
    processed = await store.events_handled(db)
    return bool(processed == events and await db[OUTBOX].count_documents(PENDING) == 0)


class TestScaleOut:
    async def test_three_matchers_with_one_killed_decide_exactly_like_one(
        self, runs: tuple[Run, Run], mongo_client: Any
    ) -> None:
        """Same offers then demands and withdrawals: one matcher, and a group of three with
        one SIGKILLed mid-stream, publish the same set of decisions (ids and contents)."""
        lone, group = runs
        stream = demands()
        total = len(offers()) + len(stream)
        for run in (lone, group):
            await ensure_topics(run.kafka)

        # One matcher: offers first (both topics are not ordered with each other), then
        # the demand stream.
        await lone.start("lone")
        await produce_all(lone.kafka, offers())
        await eventually(
            lambda: _offers_known(mongo_client, lone.database), timeout=60, what="offers"
        )
        await produce_all(lone.kafka, stream)
        await eventually(
            lambda: settled(mongo_client, lone.database, total), timeout=60, what="lone settled"
        )
        expected = await decisions(lone.kafka)
        lone.stop()

        # Three in one group; one is killed once decisions flow, half the stream still to
        # come.
        members = [await group.start(f"member-{n}") for n in range(3)]
        await produce_all(group.kafka, offers())
        await eventually(
            lambda: _offers_known(mongo_client, group.database), timeout=60, what="offers"
        )
        half = len(stream) // 2
        await produce_all(group.kafka, stream[:half])
        await eventually(lambda: _decided(group.kafka, 20), timeout=60, what="decisions")
        members[1].kill()  # SIGKILL, mid-stream
        await produce_all(group.kafka, stream[half:])
        await eventually(
            lambda: settled(mongo_client, group.database, total),
            timeout=90,
            what="group settled",
        )
        assert len(expected) > len(KINDS) * DEMANDS_PER_KIND
        assert await decisions(group.kafka) == expected
        # The killed member's markets changed hands: claimed again by a survivor.
        markets = mongo_client[group.database]["markets"]
        assert await markets.count_documents({"epoch": {"$gt": 1}}) >= 1


async def _offers_known(mongo_client: Any, database: str) -> bool:
    return bool(await mongo_client[database]["offers"].count_documents({}) == len(KINDS) * 2)


async def _decided(kafka: str, count: int) -> bool:
    return len(await events_of(kafka, topics.MATCHES)) >= count
