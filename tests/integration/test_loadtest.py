"""abacus loadtest on an app of its own (emulators, web and worker processes, its own database and queue): a tiny
load (5 clients, one starting on each route; 2 s) has no errors, and every webhook delivery is stored and processed
exactly once (replays answered "duplicate", each push's follow-up job finished once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_tiny_loadtest_has_no_errors_and_processes_webhooks_exactly_once(services, tmp_path):
    figures_file = tmp_path / "load.json"
    env = {**os.environ, "DATABASE_URL": services.database_url, "REDIS_URL": services.redis_url, "COLUMNS": "160"}
    command = [
        sys.executable, "-m", "abacus", "loadtest", "--target", "own", "--clients", "5", "--seconds", "2",
        "--users", "3", "--days", "3", "--web-workers", "1", "--drain-seconds", "60", "--json", str(figures_file),
        "--warmup-seconds", "0.5", "--sync-every", "1",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(figures_file.read_text())
    routes = {route["route"]: route for route in figures["routes"]}
    assert set(routes) == {"Overview", "Team", "Status", "Person", "GitHub webhook"}
    assert all(route["requests"] >= 1 and route["errors"] == 0 for route in routes.values()), routes
    assert figures["errors"] == 0
    assert figures["warmup_seconds"] == 0.5 and figures["sync_rounds"] >= 2  # the worker ingests during the load
    webhooks = figures["webhooks"]
    assert webhooks["sent"] >= 1 and webhooks["pushes"] >= 1
    assert webhooks["stored"] == webhooks["sent"] and webhooks["pending"] == 0 and webhooks["failed"] == 0
    assert webhooks["followup_jobs_done"] == webhooks["pushes"]
    assert webhooks["replays_answered_duplicate"] == webhooks["replays"]
    assert webhooks["exactly_once"] is True
    assert "p99 ms" in done.stdout and "exactly once" in done.stdout
