"""Group commit: requests that arrive while a batch commits share the next transaction."""

import asyncio

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError

from concilia.platform.group_commit import GroupCommit


class Recorder:
    """A commit that holds its first batch until released and records every batch."""

    def __init__(self, refuse: int | None = None, outage: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.alone: list[int] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.refuse = refuse
        self.outage = outage

    async def commit(self, items: list[int]) -> list[str]:
        self.batches.append(items)
        if len(self.batches) == 1:
            self.started.set()
            await self.release.wait()
        if self.outage:
            raise AutoReconnect("database unreachable")
        if self.refuse in items:
            raise DuplicateKeyError("E11000 duplicate key")
        return [f"stored {i}" for i in items]

    async def one(self, item: int) -> str:
        self.alone.append(item)
        if item == self.refuse:
            raise DuplicateKeyError("E11000 duplicate key")
        return f"alone {item}"


async def submit_all(group: GroupCommit[int, str], recorder: Recorder, n: int) -> list[object]:
    """Item 0 starts a batch; items 1..n-1 arrive while it commits."""
    calls = [asyncio.ensure_future(group.submit(0))]
    await asyncio.wait_for(recorder.started.wait(), timeout=5)
    calls += [asyncio.ensure_future(group.submit(i)) for i in range(1, n)]
    recorder.release.set()
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_requests_arriving_during_a_commit_share_the_next_transaction() -> None:
    """The first request commits alone; the nine that queued meanwhile commit together."""
    recorder = Recorder()
    group = GroupCommit(recorder.commit, recorder.one)
    results = await submit_all(group, recorder, 10)
    assert results == [f"stored {i}" for i in range(10)]
    assert recorder.batches == [[0], list(range(1, 10))]
    assert recorder.alone == []


async def test_a_batch_one_member_breaks_is_retried_member_by_member() -> None:
    """Only the member that breaks a unique index fails; the others are stored alone."""
    recorder = Recorder(refuse=4)
    group = GroupCommit(recorder.commit, recorder.one)
    results = await submit_all(group, recorder, 6)
    assert [r for i, r in enumerate(results) if i != 4] == ["stored 0"] + [
        f"alone {i}" for i in (1, 2, 3, 5)
    ]
    assert isinstance(results[4], DuplicateKeyError)


async def test_an_outage_fails_every_member_without_retrying_them_alone() -> None:
    """A database that is unreachable fails the whole batch; nobody retries it alone here."""
    recorder = Recorder(outage=True)
    group = GroupCommit(recorder.commit, recorder.one)
    results = await submit_all(group, recorder, 3)
    assert all(isinstance(r, AutoReconnect) for r in results)
    assert recorder.alone == []


async def test_a_caller_that_goes_away_does_not_cancel_the_batch() -> None:
    """Cancelling one waiting request leaves the transaction the others wait on running."""
    recorder = Recorder()
    group = GroupCommit(recorder.commit, recorder.one)
    first = asyncio.ensure_future(group.submit(0))
    await asyncio.wait_for(recorder.started.wait(), timeout=5)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    second = asyncio.ensure_future(group.submit(1))
    recorder.release.set()
    assert await second == "stored 1"
    assert recorder.batches == [[0], [1]]
