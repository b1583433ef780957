"""A matcher SIGKILLed inside its MongoDB transaction, and the one that takes over: the
abandoned transaction holds the market's documents until the database aborts it (60 s, as
mongod's transactionLifetimeLimitSeconds; 15 s in the tests; the embedded server's reaper
does it). A module of its own so that its wait runs beside the other crash tests."""

from pathlib import Path
from typing import Any

import pytest

from concilia.contract import topics
from concilia.contract.matches import MatchType
from concilia.embedded.processes import ChildProcess
from concilia.platform.failpoints import EXIT_CODE
from tests.support.kafka import events_of, produce
from tests.support.market import demand_event, offer_event
from tests.support.places import PIAZZALE_ARCHINTO
from tests.support.services import matcher_process, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.service

DATABASE = "t_matcher_death"


class TestDeathInsideATransaction:
    async def test_a_matcher_restarted_after_one_died_inside_its_transaction_decides_again(
        self, kafka: str, mongodb: str, stack_home: Path
    ) -> None:
        """The first matcher dies with its transaction open (its market's documents stay
        locked); the next one decides the events once the transaction lifetime ends."""
        logs = stack_home / "logs" / "matcher-death"
        first, url = matcher_process(
            kafka,
            mongodb,
            logs,
            "matcher-dies",
            database=DATABASE,
            failpoints="matcher.in_transaction=1",
        )
        second: ChildProcess | None = None
        try:
            await wait_ready(url)
            offer = offer_event("death-offer", service_type="mobility", near=PIAZZALE_ARCHINTO)
            await produce(kafka, topics.OFFERS, offer.to_bytes(), key="mobility")
            await eventually(
                lambda: not first.alive(), timeout=60, what="the first matcher to die in its txn"
            )
            assert first.exit_code() == EXIT_CODE
            second, url = matcher_process(kafka, mongodb, logs, "matcher-after", database=DATABASE)
            await wait_ready(url)
            demand = demand_event("death-demand", service_type="mobility")
            await produce(kafka, topics.DEMANDS, demand.to_bytes(), key="mobility")

            async def proposal() -> list[dict[str, Any]]:
                found = await events_of(kafka, topics.MATCHES, MatchType.PROPOSED)
                return [e for e in found if e["subject"] == "death-demand"]

            proposed = await eventually(
                proposal, timeout=150, interval=1, what="the demand's proposal"
            )
        finally:
            first.stop()
            if second is not None:
                second.stop()
        assert proposed[0]["data"]["offer_id"] == "death-offer"
