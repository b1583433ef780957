"""Dead letters shown and replayed (`concilia dlq list|replay TOPIC`, README: reliability).

A replay re-publishes each dead letter, unchanged, to the topic it came from (same key, same
CloudEvent id: consumers deduplicate) and records how far it got in the consumer group
`concilia-dlq-replay`, so replaying twice re-publishes only letters that arrived since."""

import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from concilia.contract import topics
from concilia.platform.offsets import read_true_ends
from concilia.platform.outbox import cloudevents_headers

REPLAY_GROUP = topics.DLQ_REPLAY_GROUP
READ_SECONDS = 60  # reading the letters up to the ends may take this long, then fails


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def source_topic(self) -> str | None:
        return self.headers.get(topics.DLQ_SOURCE_TOPIC_HEADER)


def dlq_topic(name: str) -> str:
    """`welfare.matches.v1` and `welfare.matches.v1.dlq` both name the same dead letters."""
    return name if name.endswith(".dlq") else topics.dlq(name)


async def read_dead_letters(
    bootstrap: str, topic: str, *, from_committed: bool = False
) -> tuple[list[DeadLetter], dict[TopicPartition, int]]:
    """The dead letters of `topic` (all, or only those after the replay group's position),
    and each partition's end offset."""
    # earliest: a start that retention has already deleted (offset 0 of an old DLQ, or an
    # old replay position) must begin at the oldest letter kept, not skip to the end.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return [], {}
        ends = await read_true_ends(bootstrap, partitions)
        consumer.assign(partitions)
        for tp in partitions:
            start = await consumer.committed(tp) if from_committed else None
            consumer.seek(tp, start or 0)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        deadline = time.monotonic() + READ_SECONDS
        while remaining:
            # A fetch may come back empty (a slow broker): read on until every letter up to
            # the ends is in, or fail. Returning fewer would have a replay mark unread letters
            # as replayed, and they would be lost.
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {len(letters)} dead letter(s) of {topic} but not all of them within "
                    f"{READ_SECONDS} s; nothing was marked as replayed"
                )
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < ends[tp]:
                        headers = {k: v.decode(errors="replace") for k, v in r.headers}
                        letters.append(DeadLetter(r.partition, r.offset, r.key, r.value, headers))
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return letters, ends
    finally:
        await consumer.stop()


async def list_dead_letters(bootstrap: str, name: str) -> list[DeadLetter]:
    letters, _ = await read_dead_letters(bootstrap, dlq_topic(name))
    return letters


async def replay_dead_letters(bootstrap: str, name: str) -> int:
    """Re-publish the dead letters not replayed yet to their source topic; returns how many."""
    topic = dlq_topic(name)
    letters, ends = await read_dead_letters(bootstrap, topic, from_committed=True)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", client_id="dlq-replay"
    )
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.source_topic or topic.removesuffix(".dlq"),
                value=letter.value or None,
                key=letter.key,
                headers=cloudevents_headers(letter.value or None),
            )
    finally:
        await producer.stop()
    if ends:
        await _commit(bootstrap, topic, ends)
    return len(letters)


async def _commit(bootstrap: str, topic: str, ends: dict[TopicPartition, int]) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit({tp: OffsetAndMetadata(end, "") for tp, end in ends.items()})
    finally:
        await consumer.stop()


def describe(letter: DeadLetter) -> str:
    """One line: where it was, why it died, what it is."""
    h = letter.headers
    return (
        f"{letter.partition}:{letter.offset}  {h.get(topics.DLQ_REASON_HEADER, '?')}  "
        f"from {h.get(topics.DLQ_SOURCE_TOPIC_HEADER, '?')}"
        f"[{h.get(topics.DLQ_SOURCE_PARTITION_HEADER, '?')}]"
        f"@{h.get(topics.DLQ_SOURCE_OFFSET_HEADER, '?')}  "
        f"by {h.get(topics.DLQ_CONSUMER_HEADER, '?')}  {h.get(topics.DLQ_ERROR_HEADER, '')[:200]}"
    )
