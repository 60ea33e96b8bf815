"""Server-Timing: `app` is the request's wall time, `db` the wall time spent waiting on PostgreSQL (concurrent
queries counted once, so never more than `app`) with the number of statements; a streamed CSV reports the time to
its first byte and the log line has the full time."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

TIMING = re.compile(r'app;dur=(?P<app>[\d.]+), db;dur=(?P<db>[\d.]+);desc="(?P<queries>\d+) quer(y|ies)"')
RANGE = {"start": "2025-11-01", "end": "2026-03-10"}  # the seed's data, whatever today is


def timing(response: Any) -> dict[str, float]:
    found = TIMING.fullmatch(response.headers["server-timing"])
    assert found, response.headers["server-timing"]
    return {name: float(found.group(name)) for name in ("app", "db", "queries")}


class Statements:
    """Counts the statements every engine of this process sends (the live app runs in this process)."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, *args: object) -> None:
        with self.lock:
            self.count += 1


@pytest.fixture()
def statements() -> Iterator[Statements]:
    counter = Statements()
    event.listen(Engine, "before_cursor_execute", counter)
    yield counter
    event.remove(Engine, "before_cursor_execute", counter)


class RequestLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, dict):
            self.events.append(record.msg)


@pytest.fixture()
def request_log() -> Iterator[RequestLog]:
    handler = RequestLog()
    logger = logging.getLogger("abacus.request")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_page_with_concurrent_queries_reports_db_within_app_and_its_query_count(seeded, signed_in, statements):
    client = signed_in()
    client.get("/", params=RANGE)  # warm the pool: connecting is not a query
    before = statements.count
    response = client.get("/", params=RANGE)  # the Overview runs its aggregates concurrently
    ran = statements.count - before
    assert response.status_code == 200
    figures = timing(response)
    assert figures["queries"] == ran > 1
    assert 0 < figures["db"] <= figures["app"]


def test_a_streamed_csv_reports_time_to_first_byte_and_logs_the_full_time(seeded, signed_in, request_log):
    client = signed_in()
    with client.stream("GET", "/export/usage.csv", params=RANGE) as response:
        assert response.status_code == 200
        first_byte = timing(response)["app"]
        body = b"".join(response.iter_bytes())
    assert body.count(b"\n") > 100
    deadline = time.monotonic() + 10  # the server logs once the body is sent: maybe after the client has it all
    while not (logged := [e for e in request_log.events if e.get("path") == "/export/usage.csv"]):
        assert time.monotonic() < deadline, "no log line for the export"
        time.sleep(0.02)
    assert len(logged) == 1
    line = logged[0]
    assert line["streamed"] is True
    assert line["first_byte_ms"] == pytest.approx(first_byte, abs=0.11)
    assert line["app_ms"] >= line["first_byte_ms"]
