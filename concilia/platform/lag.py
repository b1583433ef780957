"""Consumer lag and dead letters, measured by the service itself from Kafka's offsets.

For each consumer group of the service: lag per partition = the partition's end offset minus
the group's committed offset (or its start offset when nothing is committed yet: consumers
begin at the earliest). For each topic it consumes: how many messages its DLQ holds that
`concilia dlq replay` has not replayed yet (a replay deletes nothing). Every
instance of a service measures all partitions of its groups, so they report alike.
End offsets come from concilia.platform.offsets.true_ends (Tansu's ListOffsets can be stale)."""

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from concilia.contract import topics
from concilia.platform.background import BackgroundTask
from concilia.platform.metrics import CONSUMER_LAG, DLQ_MESSAGES
from concilia.platform.offsets import true_ends

log = logging.getLogger("concilia.lag")


class KafkaGauges(BackgroundTask):
    """Measures lag and DLQ depth every `every_seconds` while started."""

    def __init__(
        self,
        bootstrap_servers: str,
        groups: Mapping[str, Sequence[str]],
        *,
        every_seconds: float = 5.0,
    ) -> None:
        super().__init__("kafka-gauges")
        self._bootstrap = bootstrap_servers
        self._groups = {group: tuple(names) for group, names in groups.items()}
        self._every = every_seconds

    def start(self) -> None:
        if self._groups:
            super().start()

    async def _run(self) -> None:
        clients: Clients | None = None
        try:
            while True:
                try:
                    clients = clients or await self._connect()
                    await self.measure(*clients)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Kafka may be away: the next round retries
                    log.warning("consumer lag not measured", extra={"error": repr(exc)})
                    if clients is not None:
                        await _close(*clients)
                    clients = None
                await asyncio.sleep(self._every)  # a measuring period, not synchronisation
        finally:
            if clients is not None:
                await _close(*clients)

    async def _connect(self) -> "Clients":
        """An admin client (topic metadata) and, per group, a consumer that never joins
        it (no subscription): it only reads the group's committed offsets; plus, under the
        key None, one without a group that fetches the true end offsets."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id="concilia-lag")
        readers: dict[str | None, AIOKafkaConsumer] = {}
        await admin.start()
        try:
            readers[None] = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                enable_auto_commit=False,
                client_id="concilia-lag",
                fetch_max_wait_ms=50,
                max_partition_fetch_bytes=1024,
            )
            await readers[None].start()
            for group in {*self._groups, topics.DLQ_REPLAY_GROUP}:
                readers[group] = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    group_id=group,
                    enable_auto_commit=False,
                    client_id="concilia-lag",
                )
                await readers[group].start()
        except Exception:
            await _close(admin, readers)
            raise
        return admin, readers

    async def measure(
        self, admin: AIOKafkaAdminClient, readers: Mapping[str | None, AIOKafkaConsumer]
    ) -> None:
        """One measurement of every group's lag and every consumed topic's DLQ."""
        consumed = sorted({name for names in self._groups.values() for name in names})
        dlqs = [topics.dlq(name) for name in consumed]
        # Only topics that exist: a metadata request naming a missing topic would let the
        # broker auto-create it (Tansu does), with its default partition count.
        existing = set(await admin.list_topics())
        named = [name for name in (*consumed, *dlqs) if name in existing]
        if not named:
            return
        described = await admin.describe_topics(named)
        partitions = [
            TopicPartition(d["topic"], p["partition"])
            for d in described
            if not d.get("error_code")
            for p in d["partitions"]
        ]
        probe = readers[None]
        ends = await true_ends(probe, partitions)
        starts = await probe.beginning_offsets(partitions)
        for group, names in self._groups.items():
            for tp in partitions:
                if tp.topic not in names:
                    continue
                done = await readers[group].committed(tp)
                position = done if done is not None and done >= 0 else starts[tp]
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(
                    max(0, ends[tp] - position)
                )
        replay = readers[topics.DLQ_REPLAY_GROUP]
        for dlq in dlqs:
            held = 0
            for tp in partitions:
                if tp.topic == dlq:
                    replayed = await replay.committed(tp)
                    held += ends[tp] - max(starts[tp], replayed or 0)
            DLQ_MESSAGES.labels(dlq).set(max(0, held))


Clients = tuple[AIOKafkaAdminClient, dict[str | None, AIOKafkaConsumer]]


async def _close(
    admin: AIOKafkaAdminClient, readers: Mapping[str | None, AIOKafkaConsumer]
) -> None:
    for reader in readers.values():
        with contextlib.suppress(Exception):
            await reader.stop()
    with contextlib.suppress(Exception):
        await admin.close()
