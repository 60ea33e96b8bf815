"""The window loops read one window ahead (`sync.windows.read_ahead`): window i + 1 is being read while window i is
stored, a failed read surfaces in order and starts nothing after it, and a read nobody asked for is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from abacus.records import ProviderError, UsageRow
from abacus.sync.windows import WindowRead, read_ahead


class Provider:
    """Reads that log when they start and finish, and fail for the windows in `failing`."""

    def __init__(self, failing: frozenset[int] = frozenset()) -> None:
        self.log: list[str] = []
        self.failing = failing
        self.cancelled: list[int] = []

    async def read(self, window: int) -> tuple[list[UsageRow], int]:
        self.log.append(f"read {window}")
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled.append(window)
            raise
        if window in self.failing:
            raise ProviderError(f"window {window} failed")
        self.log.append(f"read {window} done")
        return [], window


async def store(provider: Provider, window: int, got: WindowRead) -> None:
    provider.log.append(f"store {window}")
    await asyncio.sleep(0.02)  # the next read runs meanwhile
    provider.log.append(f"stored {window} ({got.raw_records})")


async def test_the_next_window_is_read_while_one_is_stored() -> None:
    provider = Provider()
    async with read_ahead([0, 1, 2], provider.read) as reads:
        for index in range(3):
            await store(provider, index, await reads.next(index))
    assert provider.log == [
        "read 0",
        "read 0 done",
        "store 0",
        "read 1",
        "read 1 done",
        "stored 0 (0)",
        "store 1",
        "read 2",
        "read 2 done",
        "stored 1 (1)",
        "store 2",
        "stored 2 (2)",
    ]


async def test_a_failed_read_surfaces_at_its_turn_and_nothing_after_it_starts() -> None:
    provider = Provider(failing=frozenset({1}))
    stored = []
    with pytest.raises(ProviderError, match="window 1 failed"):
        async with read_ahead([0, 1, 2, 3], provider.read) as reads:
            for index in range(4):
                got = await reads.next(index)
                await store(provider, index, got)
                stored.append(index)
    assert stored == [0]  # window 0 stored whole before window 1's failure is seen
    assert "read 2" not in provider.log


async def test_a_run_that_stops_cancels_the_read_ahead() -> None:
    provider = Provider()
    async with read_ahead([0, 1, 2], provider.read) as reads:
        await reads.next(0)  # starts window 1
        await asyncio.sleep(0)  # window 1's read is under way
    assert provider.cancelled == [1]
    assert "read 1 done" not in provider.log


async def test_a_read_ahead_that_fails_after_the_run_stopped_is_not_reported() -> None:
    provider = Provider(failing=frozenset({1}))
    async with read_ahead([0, 1], provider.read) as reads:
        await reads.next(0)
        await asyncio.sleep(0.05)  # window 1 failed meanwhile; the run stops without asking for it
    assert provider.log == ["read 0", "read 0 done", "read 1"]


async def test_a_run_cancelled_while_its_read_ahead_winds_down_stays_cancelled() -> None:
    """Closing waits for the cancelled read, but a cancellation of the run itself is never swallowed there."""
    winding_down = asyncio.Event()

    async def read(window: int) -> tuple[list[UsageRow], int]:
        if window == 0:
            return [], 0
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            winding_down.set()
            await asyncio.shield(asyncio.sleep(0.2))  # a read whose cleanup takes a while
            raise
        return [], window

    async def run() -> None:
        async with read_ahead([0, 1], read) as reads:
            await reads.next(0)
            await asyncio.sleep(0)  # window 1's read under way; the run then stops

    task = asyncio.create_task(run())
    await winding_down.wait()  # the run is closing its read-ahead
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
