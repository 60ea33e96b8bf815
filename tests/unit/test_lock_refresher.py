"""A lock or lease refresher outlives any failed refresh: only cancellation (the job ended) stops it."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from abacus.worker.locks import _refresh_every


@pytest.mark.parametrize(
    "failure",
    [RedisConnectionError("Connection reset by peer"), OSError("Broken pipe"), TimeoutError(), ValueError("bad reply")],
    ids=["redis", "os", "timeout", "other"],
)
def test_a_failed_refresh_is_logged_and_the_next_round_still_runs(failure: Exception) -> None:
    calls: list[int] = []
    fourth = asyncio.Event()

    async def refresh() -> None:
        calls.append(len(calls))
        if len(calls) == 4:
            fourth.set()
        if len(calls) <= 2:
            raise failure

    async def run() -> None:
        refresher = asyncio.create_task(_refresh_every(0.001, refresh, "job lease"))
        await asyncio.wait_for(fourth.wait(), 5)
        assert not refresher.done(), "two failures in a row did not end the refresher"
        refresher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await refresher

    asyncio.run(run())
    assert len(calls) >= 4
