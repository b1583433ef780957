"""Kafka plumbing: the FastStream broker every service uses, and topic creation."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from concilia.contract import topics
from concilia.platform.lag import KafkaGauges

log = logging.getLogger("concilia.kafka")

DEFAULT_PARTITIONS = 3


def make_broker(bootstrap_servers: str, service: str) -> KafkaBroker:
    """A FastStream broker. Tansu (and acks=all setups without it) need
    enable_idempotence=False; duplicates are handled by idempotent consumers instead."""
    return KafkaBroker(
        bootstrap_servers,
        client_id=f"concilia-{service}",
        enable_idempotence=False,
        acks="all",
        logger=logging.getLogger(f"concilia.{service}.faststream"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str, partitions: int = DEFAULT_PARTITIONS, replication_factor: int = 1
) -> list[str]:
    """Create every Concilia topic (and its DLQ) if missing. Offers, demands and matches
    share one partition count (co-partitioning); contacts is compacted. One replica suits the
    embedded broker; a real cluster wants 3 (with `min.insync.replicas=2`, as the producers
    send with acks=all). Returns those created."""
    rf = replication_factor
    wanted = [NewTopic(name, partitions, rf) for name in topics.CO_PARTITIONED]
    wanted.append(
        NewTopic(topics.CONTACTS, partitions, rf, topic_configs={"cleanup.policy": "compact"})
    )
    wanted.append(NewTopic(topics.NOTIFICATIONS, partitions, rf))
    wanted += [NewTopic(topics.dlq(name), 1, rf) for name in topics.ALL]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="concilia-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process won the race
                await admin.create_topics(missing)
        await _check_co_partitioning(admin)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def _check_co_partitioning(admin: AIOKafkaAdminClient) -> None:
    described = await admin.describe_topics(list(topics.CO_PARTITIONED))
    counts = {d["topic"]: len(d["partitions"]) for d in described}
    if len(set(counts.values())) > 1:
        raise RuntimeError(
            f"offers, demands and matches must share one partition count, found {counts}"
        )


@contextlib.asynccontextmanager
async def broker_running(
    broker: KafkaBroker,
    service: str,
    *,
    before: Callable[[], Awaitable[object]] | None = None,
    max_delay: float = 10.0,
) -> AsyncIterator[None]:
    """Start `broker` for the duration of the block. If Kafka is unreachable at start-up the
    service still comes up (the HTTP API keeps taking writes into the outbox, /readyz says
    not ready) and the start is retried with backoff in the background until it succeeds."""

    async def attempt() -> bool:
        try:
            if before is not None:
                await before()
            await broker.start()
        except Exception as exc:
            log.warning(
                "kafka unreachable, will retry", extra={"service": service, "error": repr(exc)}
            )
            with contextlib.suppress(Exception):
                await broker.stop()
            return False
        return True

    async def keep_trying() -> None:
        delay = 0.5
        while not await attempt():
            await asyncio.sleep(delay)  # retry backoff, not synchronisation
            delay = min(delay * 2, max_delay)
        log.info("kafka reachable, consumers started", extra={"service": service})

    retry: asyncio.Task[None] | None = None
    if not await attempt():
        retry = asyncio.create_task(keep_trying(), name=f"{service}-kafka-start")
    # The broker's servers (FastStream's specification URL defaults to them).
    servers = ",".join(broker.specification.url)
    gauges = KafkaGauges(servers, groups_of(broker))
    gauges.start()  # measures (and retries) on its own connection
    try:
        yield
    finally:
        await gauges.stop()
        if retry is not None:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
        await broker.stop()


def reachable(broker: KafkaBroker, timeout: float = 2.0) -> Callable[[], Awaitable[None]]:
    """A /readyz check: raises unless `broker` answers within `timeout` seconds."""

    async def check() -> None:
        if not await broker.ping(timeout=timeout):
            raise ConnectionError(f"Kafka did not answer within {timeout:g} s")

    return check


def groups_of(broker: KafkaBroker) -> dict[str, list[str]]:
    """Consumer group → the topics its subscribers read, for the lag gauges."""
    groups: dict[str, list[str]] = {}
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None)
        if group:
            groups.setdefault(group, []).extend(getattr(subscriber, "topic_names", []))
    return groups
