"""SqlTimer: the database time of a request is the union of its queries' intervals, not their sum."""

from __future__ import annotations

import pytest

from abacus import db
from abacus.db import SqlTimer


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [0.0]
    monkeypatch.setattr(db.time, "perf_counter", lambda: now[0])
    return now


def test_sequential_queries_add_up(clock: list[float]) -> None:
    timer = SqlTimer()
    for start, end in ((0.0, 0.010), (0.020, 0.025)):
        clock[0] = start
        timer.started()
        clock[0] = end
        timer.finished()
    assert timer.busy_ms == pytest.approx(15.0)
    assert timer.queries == 2


def test_overlapping_queries_count_once(clock: list[float]) -> None:
    timer = SqlTimer()
    # three concurrent queries: [0, 10] ms, [2, 8] ms and [5, 14] ms → busy 14 ms, not 10 + 6 + 9
    events = [(0.000, "start"), (0.002, "start"), (0.005, "start"), (0.008, "stop"), (0.010, "stop"), (0.014, "stop")]
    for moment, kind in events:
        clock[0] = moment
        timer.started() if kind == "start" else timer.finished()
    assert timer.busy_ms == pytest.approx(14.0)
    assert timer.queries == 3


def test_a_running_query_counts_up_to_now_and_a_stray_finish_is_ignored(clock: list[float]) -> None:
    timer = SqlTimer()
    timer.finished()
    clock[0] = 1.0
    timer.started()
    clock[0] = 1.004
    assert timer.busy_ms == pytest.approx(4.0)
