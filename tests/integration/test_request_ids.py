"""Request ids: every log line of a request carries its id (ours and libraries'), the response returns it in
X-Request-ID, a sane incoming X-Request-ID is kept and a hostile one replaced; worker log lines carry the job id."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import httpx
import pytest

from abacus.logging_setup import configure_logging, get_logger
from tests.support import captured_log_lines, run_async

GENERATED = re.compile(r"[0-9a-f]{32}")


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def _request_lines(lines: list[dict], path: str) -> list[dict]:
    return [line for line in lines if line.get("event") == "request" and line.get("path") == path]


def test_a_sane_incoming_id_is_kept_and_returned(live_app):
    with captured_log_lines() as lines:
        response = httpx.get(f"{live_app.url}/healthz", headers={"X-Request-ID": "lb-7f3a.42:x"})
        _wait_for(lambda: any(line.get("request_id") == "lb-7f3a.42:x" for line in lines))
    assert response.headers["X-Request-ID"] == "lb-7f3a.42:x"
    assert len([line for line in _request_lines(lines, "/healthz") if line["request_id"] == "lb-7f3a.42:x"]) == 1


@pytest.mark.parametrize("hostile", ["a" * 65, "has space", 'quote"d', "-leading-dash", "", "ünicode"])
def test_a_hostile_or_missing_incoming_id_is_replaced(live_app, hostile):
    headers = {"X-Request-ID": hostile.encode("utf-8")} if hostile else {}
    response = httpx.get(f"{live_app.url}/healthz", headers=headers)
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_every_log_line_of_a_request_carries_its_id(live_app):
    """Sign-in (login, the emulator, the callback that logs "signed in"), a page, a 404 and a refused POST: each
    request gets its own id, and every line logged while it ran names that id."""
    client = httpx.Client(base_url=live_app.url, timeout=20)  # only the app's requests: the emulator is called apart
    ids: dict[str, str] = {}

    def tag(request: httpx.Request) -> None:
        request.headers["X-Request-ID"] = ids.setdefault(request.url.path, uuid.uuid4().hex[:12] + "-t")

    client.event_hooks["request"] = [tag]
    with captured_log_lines() as lines:
        login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
        to_callback = httpx.get(login.headers["location"], timeout=20)
        client.get(to_callback.headers["location"])
        client.get("/team")
        client.get("/no-such-page")
        client.post("/mappings", data={"source": "x"})  # no CSRF token: refused
        # the request line is written after the response went out: wait for the last one
        _wait_for(lambda: {line.get("request_id") for line in lines} >= set(ids.values()))
    client.close()
    ours = [line for line in lines if line.get("request_id") in set(ids.values())]
    assert {line["request_id"] for line in ours} == set(ids.values())
    signed_in = [line for line in lines if line.get("event") == "signed in"]
    assert signed_in and all(line.get("request_id") == ids["/auth/callback"] for line in signed_in)
    for path, request_id in ids.items():
        logged = _request_lines(lines, path)
        assert logged and all(line["request_id"] == request_id for line in logged), (path, logged)
    # nothing of these requests was logged without an id (the emulator's own app is another server)
    untagged = [line for line in lines if "request_id" not in line and line.get("path") in ids]
    assert untagged == []


def test_worker_log_lines_carry_the_job_id(services):
    """A real arq worker (burst mode) with the app's job hooks: lines logged inside a job name its id."""
    from arq import Worker, create_pool
    from arq.connections import RedisSettings
    from arq.worker import func

    from abacus.worker.settings import on_job_end, on_job_start

    configure_logging("dev")  # as the worker's on_startup does
    queue = f"abacus:test:jobids:{uuid.uuid4().hex[:8]}"
    log = get_logger("abacus.test.job")

    async def noisy_job(ctx: dict, n: int) -> int:
        log.info("inside job", n=n)
        await asyncio.sleep(0.01)
        log.info("still inside", n=n)
        return n

    async def run() -> None:
        redis_settings = RedisSettings.from_dsn(services.redis_url)
        pool = await create_pool(redis_settings, default_queue_name=queue)
        for n in range(3):
            assert await pool.enqueue_job("noisy_job", n, _job_id=f"{queue}:job-{n}") is not None
        worker = Worker(
            functions=[func(noisy_job, name="noisy_job")],
            redis_settings=redis_settings,
            queue_name=queue,
            burst=True,
            on_job_start=on_job_start,
            on_job_end=on_job_end,
            handle_signals=False,
            max_jobs=3,
            keep_result=0,
        )
        await worker.async_run()
        await worker.close()
        await pool.delete(queue)
        await pool.aclose()

    with captured_log_lines() as lines:
        run_async(run())
    inside = [line for line in lines if line.get("event") in ("inside job", "still inside")]
    assert len(inside) == 6
    assert all(line["job_id"] == f"{queue}:job-{line['n']}" for line in inside)
