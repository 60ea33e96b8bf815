"""Redis restarted while jobs are queued and people are signed in, on a private redis-server (append-only file on, so a
restart is a restart and not a wipe): while it is down every page is a clear "temporarily unavailable" page (no
stack), /api answers a JSON 503 and /healthz says redis is unreachable; once it is back the same session still works,
the queued jobs are all still there, two workers run them without one job ever running twice at once, and the
database ends equal to the emulator's ground truth."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis import Redis

from abacus.emulators.dataset import DEMO_ANTHROPIC_KEYS, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.queue_keys import lock_prefix
from abacus.settings import load_settings
from tests.integration.attack_support import page_forms
from tests.integration.worker_support import ROOT
from tests.support import ThreadedServer, dev_env, free_port, run_async, sign_in

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


class PrivateRedis:
    """redis-server on a free loopback port with its own directory; stop() and start() again = a restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="abacus-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if Redis.from_url(self.url).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(20)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture()
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


def _env(database_url: str, redis_url: str, queue: str, emulator: EmulatorServer) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ABACUS_QUEUE": queue,
        "ABACUS_JOB_LOCK_SECONDS": "4",  # short, with slack for a busy machine
        "ANTHROPIC_ADMIN_KEYS": f"acme={DEMO_ANTHROPIC_KEYS['acme']}",
        "ANTHROPIC_API_URL": f"{emulator.base_url}/anthropic",
        "ABACUS_PROVIDER_PACING_MS": "0",
    }
    return env


def _forward_runs(log_path: str, queued: list[bytes]) -> int:
    """How many of the queued jobs logged their run (a forward sync logs "sync run", a skipped one nothing after
    its mappings refresh) — counted per job id that appears in the worker log."""
    ids = {job.decode() for job in queued}
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            seen = {line.split('"job_id": "')[1].split('"')[0] for line in handle if '"job_id": "' in line}
    except FileNotFoundError:
        return 0
    return len(ids & seen)


def _tail(log_path: str) -> str:
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-20:])
    except FileNotFoundError:
        return "(no worker log)"


def _overlapping_usage_runs(emulator: EmulatorServer) -> int:
    """Requests for one day's first usage page that arrived while another request for that day was in flight —
    what two forward syncs of the same key running at once would produce (each request is logged when answered,
    the slow fault holds each for 0.2 s)."""
    seen: dict[str, list[datetime]] = {}
    for request in emulator.state.requests("anthropic", "usage_report"):
        if request["query"].get("page"):
            continue
        day = str(request["query"].get("starting_at", ""))[:10]
        seen.setdefault(day, []).append(datetime.fromisoformat(request["at"].replace("Z", "+00:00")))
    overlaps = 0
    for times in seen.values():
        times.sort()
        overlaps += sum(1 for a, b in itertools.pairwise(times) if (b - a).total_seconds() < 0.15)
    return overlaps


def _worker(env: dict[str, str], log_path: str) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env}
    for name in (
        "CURSOR_ADMIN_KEYS",
        "CURSOR_ADMIN_KEY",
        "GITHUB_TOKEN",
        "GITHUB_APP_ID",
        "ANTHROPIC_ADMIN_KEY",
        "COPILOT_API_URL",
    ):
        full.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "abacus", "worker"],
        env=full,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(log_path, "ab"),
        start_new_session=True,
    )


async def _enqueue(redis_url: str, queue: str, function: str, job_id: str) -> bool:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue)
    try:
        return await pool.enqueue_job(function, _job_id=job_id) is not None
    finally:
        await pool.aclose()


def test_redis_restart_with_jobs_queued_and_people_signed_in(
    services, database_url, clean_db, oidc_server, redis_server
):
    from abacus.app import create_app
    from abacus.db import create_engine, session_factory
    from tests.integration.provider_support import stored_totals, truth_totals

    queue = f"abacus:test:redis:{uuid.uuid4().hex[:6]}"
    with EmulatorServer(EmulatorConfig(days=6, lag=False)) as emulator:
        env = _env(database_url, redis_server.url, queue, emulator)
        port = free_port()
        settings = load_settings({**dev_env(f"{oidc_server.url}/oidc"), **env}).replace(
            base_url=f"http://127.0.0.1:{port}"
        )
        with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as app:
            admin = sign_in(app.url, "ada@example.com")
            assert admin.get("/").status_code == 200
            member = sign_in(app.url, "grace@example.com")
            assert member.get("/team").status_code == 200

            # queue jobs the way an admin does: the "Sync now" forms the status page renders
            status_page = admin.get("/status").text
            sync_forms = [f for f in page_forms("/status", status_page) if f.action == "/status/sync"]
            assert sync_forms, "no Sync now form for the configured provider"
            token = admin.cookies.get("abacus_csrf") or ""
            for form in sync_forms:
                response = admin.post("/status/sync", data=form.fields, headers={"x-csrftoken": token})
                assert response.status_code == 200, response.text[:300]
            forward = "sync_anthropic"
            assert run_async(_enqueue(redis_server.url, queue, forward, f"{forward}:second"))
            raw = Redis.from_url(redis_server.url)
            queued = sorted(raw.zrange(queue, 0, -1))
            assert len(queued) >= 2
            raw.close()

            redis_server.stop()
            try:
                for client, path in (
                    (admin, "/"),
                    (admin, "/status"),
                    (member, "/team"),
                    (member, "/users/ada%40example.com"),
                ):
                    response = client.get(path)
                    assert response.status_code == 503, (path, response.status_code, response.text[:300])
                    assert "temporarily unavailable" in response.text
                    assert "Traceback" not in response.text and "ConnectionError" not in response.text
                fragment = admin.get("/team", headers={"HX-Request": "true"})
                assert fragment.status_code == 503 and "temporarily unavailable" in fragment.text
                api = member.get("/api/v1/stats")
                assert api.status_code == 503 and "temporarily unavailable" in api.json()["error"]
                health = httpx.get(f"{app.url}/healthz")
                assert health.status_code == 503 and health.json()["redis"] == "unreachable"
                write = admin.post("/status/sync", data=sync_forms[0].fields, headers={"x-csrftoken": token})
                assert write.status_code == 503
            finally:
                redis_server.start()

            # back: the same sessions work again and the queue is intact
            deadline = time.time() + 10
            while admin.get("/").status_code != 200 and time.time() < deadline:
                time.sleep(0.2)
            assert admin.get("/").status_code == 200
            assert member.get("/team").status_code == 200
            raw = Redis.from_url(redis_server.url)
            assert sorted(raw.zrange(queue, 0, -1)) == queued
            raw.close()
            admin.close()
            member.close()

        async def check() -> tuple[Any, Any]:
            engine = create_engine(database_url)
            maker = session_factory(engine)
            today = datetime.now(UTC).date()
            start = today - timedelta(days=2)
            stored = await stored_totals(maker, "claude_code", start, today - timedelta(days=1))
            await engine.dispose()
            return stored, truth_totals(emulator, "claude_code", start, today - timedelta(days=1), org="acme")

        # two workers pick the queued jobs up; the job lock lets one forward sync of the key run at a time
        emulator.state.add_fault("anthropic", "usage_report", "slow", count=10_000, delay=0.2)
        log_path = os.path.join(tempfile.gettempdir(), f"abacus-redis-worker-{uuid.uuid4().hex[:8]}.log")
        workers = [_worker(env, log_path), _worker(env, log_path)]
        raw = Redis.from_url(redis_server.url)
        try:
            deadline = time.time() + 90
            while time.time() < deadline:
                waiting = set(queued) & set(raw.zrange(queue, 0, -1))
                records = [raw.exists(f"arq:job:{job.decode()}") for job in queued]
                # no forward sync left either: a queued run may have been skipped because the start-up cron's run
                # held the lock, and stopping the workers then would cut that run short
                pending = [j for j in raw.zrange(queue, 0, -1) if j.decode().startswith((f"{forward}:", f"{forward}@"))]
                idle = not pending and not raw.exists(f"{lock_prefix(queue)}{forward}")
                # and the days stored: on a busy machine the signs above can all show between two runs' days
                if not waiting and not any(records) and idle and _forward_runs(log_path, queued) >= 2:
                    stored, truth = run_async(check())
                    if stored == truth or time.time() > deadline - 30:  # else the assertion below shows the difference
                        break
                time.sleep(0.5)
            else:
                pytest.fail(f"queued jobs were not all run: waiting {waiting}, log {_tail(log_path)}")
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(30)
            raw.close()
        assert _overlapping_usage_runs(emulator) == 0, "two forward syncs of one key read the same day at once"

        stored, truth = run_async(check())
        assert stored and stored == truth, f"stored days differ from the emulator; worker log: {_tail(log_path)}"
