"""How far behind its input the matcher works, as operators see it: every event it handles
is observed in `concilia_matcher_event_age_seconds` when the matcher takes it and when the
transaction holding its decisions commits, from the event's Kafka timestamp."""

import time
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client import REGISTRY

from concilia.contract.topics import DEMANDS, OFFERS
from concilia.platform.outbox import ensure_outbox_indexes
from services.matcher import store
from services.matcher.subscribers import Incoming, MatchingHandler
from tests.support.market import at, demand_event, published, submitted
from tests.support.matcher import a_handler

pytestmark = pytest.mark.service

AGE = "concilia_matcher_event_age_seconds"


def observed(stage: str) -> tuple[float, float]:
    """(how many ages, their sum) observed so far for `stage`."""
    labels = {"stage": stage}
    count = REGISTRY.get_sample_value(f"{AGE}_count", labels)
    total = REGISTRY.get_sample_value(f"{AGE}_sum", labels)
    assert count is not None, f"{AGE} has no stage {stage}"
    assert total is not None, f"{AGE} has no stage {stage}"
    return count, total


def a_record(timestamp_ms: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(DEMANDS, 0, 7, timestamp_ms, 0, None, b"{}", None, 0, 2, ())


class TestEventAge:
    async def test_each_event_is_observed_when_taken_and_when_its_transaction_commits(
        self, mongo_client: Any, database_name: str
    ) -> None:
        """An offer and a demand published 3 s ago: each stage observes two ages of at least
        3 s; the same two redelivered are not observed again."""
        db = mongo_client[database_name]
        await store.ensure_indexes(db)
        await ensure_outbox_indexes(db)
        matcher = a_handler(mongo_client, db)
        three_seconds_ago = time.time() - 3
        events = [
            Incoming("offer-0", at(0), published("offer-1"), OFFERS, 0, 0, three_seconds_ago),
            Incoming("demand-0", at(1), submitted("demand-1"), DEMANDS, 0, 0, three_seconds_ago),
        ]
        before = {stage: observed(stage) for stage in ("taken", "committed")}

        assert await matcher(events) == ["processed", "processed"]
        assert await matcher(events) == ["duplicate", "duplicate"]

        for stage, (count, total) in before.items():
            now_count, now_total = observed(stage)
            assert now_count - count == 2, stage
            assert 6 <= now_total - total < 6 + 2 * 60, stage  # 3 s each, and not a minute more

    def test_an_event_s_publication_time_is_its_record_s_timestamp(self) -> None:
        """The record's timestamp (ms) becomes the event's publication time (s); a record
        without one (-1) has none, and is not observed."""
        published_at = MatchingHandler.prepare(demand_event(), a_record(1_764_000_000_123))
        unknown = MatchingHandler.prepare(demand_event(), a_record(-1))

        assert published_at.published == pytest.approx(1_764_000_000.123)
        assert unknown.published is None
