"""A job whose worker is SIGKILLed runs again about a minute later (a lock time plus a margin), not after arq's
30-minute in-progress marker: the marker is held on a short lease that only a living worker refreshes (issue 10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.jobs import Job

from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import push_payload
from abacus.worker.webhook_jobs import FOLLOWUP_JOB, followup_job_id, payload_key
from tests.integration.pages_support import sql_rows
from tests.support import run_async

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK_SECONDS = 2  # the lease is the lock time + 5 s


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "abacus", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


async def _redis_call(redis_url: str, queue: str, call: Callable[[Any], Any]) -> Any:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=queue)
    try:
        return await call(pool)
    finally:
        await pool.aclose()


def test_a_sigkilled_workers_job_runs_again_within_the_lease(services: Any, database_url: str, clean_db: None) -> None:
    queue = f"abacus:test:lease:{uuid.uuid4().hex[:6]}"
    delivery_id = f"lease-test-{uuid.uuid4().hex[:8]}"
    job_id = followup_job_id(queue, delivery_id)
    marker = in_progress_key_prefix + job_id

    def redis(call: Callable[[Any], Any]) -> Any:
        return run_async(_redis_call(services.redis_url, queue, call))

    with EmulatorServer(EmulatorConfig(days=5, lag=False)) as emulator:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": services.redis_url,
            "ABACUS_ENV": "dev",
            "ABACUS_QUEUE": queue,
            "ABACUS_JOB_LOCK_SECONDS": str(LOCK_SECONDS),
            "OIDC_CLIENT_ID": "abacus",
            "OIDC_CLIENT_SECRET": "dev",
            "GITHUB_API_URL": f"{emulator.base_url}/github",
            "GITHUB_TOKEN": DEMO_GITHUB_TOKEN,
            "GITHUB_ORG": DEMO_GITHUB_ORG,
            "ABACUS_PROVIDER_PACING_MS": "0",
        }
        for name in ("ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY", "CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY"):
            env.pop(name, None)
        emulator.state.add_fault("github", "*", "slow", count=100_000, delay=20.0)  # every GitHub call takes 20 s
        # a push follow-up (3 commits, so a minute of GitHub calls), queued as the webhook handler queues it
        payload = push_payload(emulator.state.dataset, "acme/api", count=3)
        redis(lambda pool: pool.set(payload_key(queue, delivery_id), json.dumps(payload)))
        assert redis(lambda pool: pool.enqueue_job(FOLLOWUP_JOB, delivery_id, _job_id=job_id)) is not None
        worker = _worker(env)
        try:
            _wait(lambda: redis(lambda pool: pool.exists(marker)), 60, "the job to start")
            # arq sets the marker for 30 minutes, then the job's start hook (milliseconds later) puts it on the lease
            lease_ms = (LOCK_SECONDS + 5) * 1000
            _wait(lambda: 0 < redis(lambda pool: pool.pttl(marker)) <= lease_ms, 5, "the marker's lease")
            time.sleep(LOCK_SECONDS + 6)  # longer than the lease: a living worker keeps refreshing it
            assert redis(lambda pool: pool.exists(marker)), "the running job's lease lapsed"
            assert redis(lambda pool: Job(job_id, pool, _queue_name=queue).result_info()) is None  # still running
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        killed_at = time.time()
        shas = [c["id"] for c in payload["commits"]]
        count_sql = "SELECT COUNT(*) AS n FROM commits WHERE commit_id = ANY(:shas)"
        before = sql_rows(database_url, count_sql, shas=shas)[0].n  # what the killed run stored before the kill
        _wait(lambda: not redis(lambda pool: pool.exists(marker)), LOCK_SECONDS + 7, "the dead worker's lease to end")

        emulator.state.clear_faults()
        worker = _worker(env)
        try:
            result = _wait(
                lambda: redis(lambda pool: Job(job_id, pool, _queue_name=queue).result_info()), 90, "the re-run"
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
    rerun_after = result.start_time.timestamp() - killed_at
    assert result.job_try == 2 and result.success, result
    assert result.result["errors"] == []
    # nothing twice and the re-run finishes what the killed run left (on a slow machine it may have stored a commit
    # before the kill); which of the 3 pushed commits count depends on the emulator's commits of the day (merges
    # through the API are skipped), so the stored ones are compared with what the two runs report
    after = sql_rows(database_url, count_sql, shas=shas)[0].n
    assert after == before + result.result["commits"] and 1 <= after <= len(shas) == 3
    assert rerun_after < 60, f"re-run {rerun_after:.0f} s after the kill"


def test_leases_follow_the_lock_time() -> None:
    from abacus.settings import JobSettings
    from abacus.worker.locks import lease_seconds

    assert lease_seconds(JobSettings.model_validate({"ABACUS_JOB_LOCK_SECONDS": 60})) == 65
