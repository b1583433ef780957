"""A message to publish, as pure data (no I/O): domain modules build these, the outbox
stores and relays them."""

from dataclasses import dataclass

from concilia.contract.envelope import CloudEvent


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish: a CloudEvent, or a tombstone (value None) for compacted topics."""

    topic: str
    key: str
    event: CloudEvent | None

    @property
    def event_type(self) -> str:
        return self.event.type if self.event else "tombstone"
