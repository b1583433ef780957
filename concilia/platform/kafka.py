"""Kafka plumbing: the FastStream broker every service uses, and topic creation."""

import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from concilia.contract import topics

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


async def ensure_topics(bootstrap_servers: str, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
    """Create every Concilia topic (and its DLQ) if missing. Offers, demands and matches
    share one partition count (co-partitioning); contacts is compacted. Returns those created."""
    wanted = [NewTopic(name, partitions, 1) for name in topics.CO_PARTITIONED]
    wanted.append(
        NewTopic(topics.CONTACTS, partitions, 1, topic_configs={"cleanup.policy": "compact"})
    )
    wanted.append(NewTopic(topics.NOTIFICATIONS, partitions, 1))
    wanted += [NewTopic(topics.dlq(name), 1, 1) for name in topics.ALL]
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
