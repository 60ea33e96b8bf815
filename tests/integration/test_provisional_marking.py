"""M-PROVISIONAL wherever a figure sums live OTel rows (beyond.md §7, issue 14): the Usage page and a person's page
say so in words, `/api/v1/stats` and each `/api/v1/trends` day carry `provisional`, and the usage CSV has a
`provisional` column per row — true exactly for the figures that sum a provisional row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.domain.tools import CLAUDE_CODE
from abacus.emulators.otel import Sample, build_export, encode, ns
from abacus.provisional import rebuild_dirty_days
from abacus.records import UsageRow
from abacus.sync import windows
from abacus.sync.otel_store import store_points
from abacus.sync.usage_store import store_usage
from tests import dom
from tests.support import run_async

NOW = datetime.now(UTC)
TODAY = NOW.date()
YESTERDAY = TODAY - timedelta(days=1)
MODEL = "claude-sonnet-4-5-20250929"
NOTE = "includes live Claude Code telemetry"


async def _seed(database_url: str) -> None:
    """Yesterday: the Admin API's day for ada, and a Cursor row for bo. Today: ada on OTel only (provisional), bo's
    Cursor row again (never provisional)."""
    admin = UsageRow(YESTERDAY, "claude_code:ada@example.com", CLAUDE_CODE, "claude-sonnet-4-5", MODEL, 5_000, 0, 0, 0,
                     Decimal("5.000000"), organization_id="org-1")  # fmt: skip
    cursor = [
        UsageRow(day, "cursor:bo@example.com", "cursor", "gpt-5", "gpt-5", 1_000, 0, 0, 0, Decimal("1.000000"),
                 tool_record_id=f"c-{day}", organization_id="cursor:default")
        for day in (YESTERDAY, TODAY)
    ]  # fmt: skip
    midnight = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC)
    at = ns(max(NOW - timedelta(minutes=5), midnight + timedelta(minutes=2)))  # on TODAY, even just after midnight
    attrs = {"user.email": "ada@example.com", "model": MODEL}
    samples = [
        Sample(otlp.COST, 2.0, at - 60_000_000_000, at, attrs),
        Sample(otlp.TOKENS, 2_000, at - 60_000_000_000, at, {**attrs, "type": "input"}),
    ]
    body, _ = encode(build_export(samples))
    points = otlp.parse_export(body, json_body=False, now=NOW).points
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            await windows._store(db, windows.WindowRead(usage=[admin], raw_records=1))
            await store_usage(db, cursor)
            await store_points(db, "acme", points)
        async with session_factory(engine)() as db, db.begin():
            await rebuild_dirty_days(db)
    finally:
        await engine.dispose()


async def _otel_model(database_url: str) -> str:
    from sqlalchemy import text

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            sql = "SELECT model FROM usage_records WHERE tool_record_id = 'otel'"
            return str((await conn.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


def _days(start: object, end: object) -> dict[str, str]:
    return {"start": str(start), "end": str(end)}


def test_provisional_figures_are_marked_on_pages_api_and_export(
    signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None
) -> None:
    run_async(_seed(database_url))
    client = signed_in("ada@example.com")

    assert client.get("/api/v1/stats", params=_days(YESTERDAY, YESTERDAY)).json()["provisional"] is False
    both = client.get("/api/v1/stats", params=_days(YESTERDAY, TODAY)).json()
    assert both["provisional"] is True and both["total_cost"] == 9.0  # 5 + 1 yesterday, 2 + 1 today
    trends = client.get("/api/v1/trends", params=_days(YESTERDAY, TODAY)).json()["data"]
    assert {p["date"]: p["provisional"] for p in trends} == {str(YESTERDAY): False, str(TODAY): True}

    models = client.get("/api/v1/models", params=_days(YESTERDAY, TODAY)).json()
    otel_model = run_async(_otel_model(database_url))
    assert {(m["tool"], m["model"]): m["provisional"] for m in models} == {
        (m["tool"], m["model"]): m["model"] == otel_model and m["tool"] == "claude_code" for m in models
    }
    assert sum(m["provisional"] for m in models) == 1
    model_rows = client.get("/api/v1/models/trends", params=_days(YESTERDAY, TODAY)).json()["trends"]
    assert {(r["date"], r["tool"]): r["provisional"] for r in model_rows} == {
        (str(YESTERDAY), "claude_code"): False,
        (str(YESTERDAY), "cursor"): False,
        (str(TODAY), "claude_code"): True,
        (str(TODAY), "cursor"): False,
    }

    export = client.get("/export/usage.csv", params=_days(YESTERDAY, TODAY))
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {(r["date"], r["tool"], r["provisional"]) for r in rows} == {
        (str(YESTERDAY), "claude_code", "false"),
        (str(YESTERDAY), "cursor", "false"),
        (str(TODAY), "claude_code", "true"),
        (str(TODAY), "cursor", "false"),
    }
    tools = client.get("/export/usage.csv", params={**_days(YESTERDAY, TODAY), "view": "tools"})
    marked = {(r["date"], r["tool"]): r["provisional"] for r in csv.DictReader(io.StringIO(tools.text))}
    assert marked[(str(TODAY), "claude_code")] == "true" and marked[(str(YESTERDAY), "claude_code")] == "false"

    usage_today = client.get("/usage", params=_days(TODAY, TODAY)).text
    assert "Provisional" in usage_today and NOTE in usage_today
    assert NOTE not in client.get("/usage", params=_days(YESTERDAY, YESTERDAY)).text
    assert NOTE in client.get("/users/ada@example.com", params=_days(YESTERDAY, TODAY)).text
    assert NOTE not in client.get("/users/bo@example.com", params=_days(YESTERDAY, TODAY)).text  # Cursor only
    assert NOTE in client.get("/", params=_days(YESTERDAY, TODAY)).text  # the Overview
    assert NOTE not in client.get("/", params=_days(YESTERDAY, YESTERDAY)).text
    team_rows = dom.texts(dom.parse(client.get("/team", params=_days(YESTERDAY, TODAY)).text), "tbody tr")
    assert {row.split()[0]: "provisional" in row for row in team_rows} == {
        "ada@example.com": True,
        "bo@example.com": False,
    }
    users = client.get("/api/v1/users", params=_days(YESTERDAY, TODAY)).json()
    assert {u["email"]: u["provisional"] for u in users} == {"ada@example.com": True, "bo@example.com": False}
    pivot = client.get("/api/v1/users/pivot", params=_days(YESTERDAY, TODAY)).json()["users"]
    assert {u["email"]: u["provisional"] for u in pivot} == {"ada@example.com": True, "bo@example.com": False}
    team_csv = client.get("/export/team.csv", params=_days(YESTERDAY, TODAY))
    assert {r["email"]: r["provisional"] for r in csv.DictReader(io.StringIO(team_csv.text))} == {
        "ada@example.com": "true",
        "bo@example.com": "false",
    }
    raw = client.get("/users/ada@example.com", params={**_days(YESTERDAY, TODAY), "tab": "raw"}).text
    assert NOTE in raw
    rows = dom.texts(dom.parse(raw), "tbody tr")
    assert len(rows) == 2 and sum("provisional" in row for row in rows) == 1  # today's OTel row, not the Admin API's
