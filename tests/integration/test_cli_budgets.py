"""`abacus budgets list|set|delete` and `abacus alerts test CHANNEL` on the real database and the emulator's hooks:
changes audited as cli:<user>, refused values change nothing, the test alert reaches the receiver (signed)."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from abacus.cli import app, common
from abacus.domain.budgets import encode_body, signature
from abacus.emulators.server import EmulatorServer
from abacus.services.audit import cli_actor
from tests.integration.pages_support import sql_rows, sql_value

SECRET = "cli-test-secret"


@pytest.fixture()
def env(clean_db: None, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(common.console, "width", 200)
    return {
        "DATABASE_URL": database_url,
        "ABACUS_ENV": "dev",
        "CURSOR_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEY": "",
        "GITHUB_TOKEN": "",
    }


def cli(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, list(args), env=env)


def test_set_list_delete_audited(env: dict[str, str], database_url: str) -> None:
    made = cli(env, "budgets", "set", "team", "Platform", "--amount", "1500", "--tool", "cursor", "--channel", "slack")
    assert made.exit_code == 0, made.output
    assert "budget 1: team platform cursor $1500.00 a month, thresholds 50,80,100, alerts to slack" in made.output
    again = cli(env, "budgets", "set", "team", "platform", "--amount", "2000", "--tool", "cursor", "--thresholds", "90")
    assert again.exit_code == 0 and "budget 1:" in again.output  # the same scope and tool: updated in place
    refused = cli(env, "budgets", "set", "person", "nobody", "--amount", "10")
    assert refused.exit_code == 1 and "scope_id: 'nobody' is not an email address" in refused.output
    listed = cli(env, "budgets", "list", "--json")
    body = json.loads(listed.output)
    assert [(b["id"], b["scope_id"], b["amount_usd"], b["thresholds"], b["status"]) for b in body["budgets"]] == [
        (1, "platform", "2000.00", [90], "on_track")
    ]
    table = cli(env, "budgets", "list")
    assert "Team platform · Cursor" in table.output and "On track" in table.output
    assert cli(env, "budgets", "list", "--month", "2026-13").exit_code == 1
    gone = cli(env, "budgets", "delete", "1")
    assert gone.exit_code == 0 and "deleted budget 1" in gone.output
    assert cli(env, "budgets", "delete", "1").exit_code == 1
    audit = sql_rows(database_url, "SELECT actor, action FROM audit_events WHERE action LIKE 'budget.%' ORDER BY id")
    assert [tuple(r) for r in audit] == [
        (cli_actor(), "budget.create"),
        (cli_actor(), "budget.update"),
        (cli_actor(), "budget.delete"),
    ]
    assert sql_value(database_url, "SELECT COUNT(*) FROM budgets") == 0


def test_alerts_test_reaches_each_channel(env: dict[str, str], emulator: EmulatorServer) -> None:
    base = emulator.base_url
    httpx.delete(f"{base}/hooks/deliveries")
    httpx.post(f"{base}/hooks/secret", json={"secret": SECRET})
    env = {
        **env,
        "ABACUS_ALERT_SLACK_URL": f"{base}/hooks/slack",
        "ABACUS_ALERT_WEBHOOK_URL": f"{base}/hooks/generic",
        "ABACUS_ALERT_WEBHOOK_SECRET": SECRET,
    }
    for channel in ("slack", "webhook"):
        sent = cli(env, "alerts", "test", channel)
        assert sent.exit_code == 0 and f"{channel}: delivered (HTTP 200)" in sent.output, sent.output
    got = httpx.get(f"{base}/hooks/deliveries").json()
    assert [r["hook"] for r in got] == ["slack", "generic"] and all(r["accepted"] for r in got)
    assert "a test message" in got[0]["body"]["text"]
    assert got[1]["signature"] == signature(SECRET, encode_body(got[1]["body"]))
    httpx.post(f"{base}/hooks/fail", json={"hook": "slack", "count": 1, "status": 500})
    failed = cli(env, "alerts", "test", "slack")
    assert failed.exit_code == 1 and "the receiver answered HTTP 500" in failed.output
    unset = cli({**env, "ABACUS_ALERT_WEBHOOK_SECRET": ""}, "alerts", "test", "webhook")
    assert unset.exit_code == 1 and "ABACUS_ALERT_WEBHOOK_SECRET is not set" in unset.output
    assert cli(env, "alerts", "test", "pager").exit_code == 1
    httpx.delete(f"{base}/hooks/deliveries")
