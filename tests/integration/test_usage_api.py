"""JSON usage API under /api/v1 (pages.md §13) over the seed data, against independent SQL over `usage_records`,
`commits` and `repositories`; plus the M-PROJ markers when the providers are configured."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from litestar.testing import TestClient

from abacus.domain.periods import round_half_up
from abacus.settings import ProviderKey
from tests import dom, seed
from tests.integration import usage_truth as truth
from tests.integration.pages_support import sign_in_test_client, sql_rows, sql_value, svg_titles
from tests.support import app_settings

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)


def _money(value: Decimal) -> float:
    return float(value)


def test_stats_default_30_days_with_comparison(page_client, database_url):
    s, e = D30
    body = page_client.get("/api/v1/stats", params={"comparison": "true"}).json()
    cur = truth.totals(database_url, s, e)
    tools = truth.tool_totals(database_url, s, e)
    ps, pe = truth.previous(s, e)
    prev = truth.totals(database_url, ps, pe)
    prev_tools = truth.tool_totals(database_url, ps, pe)
    assert body["start"] == s.isoformat() and body["end"] == e.isoformat()
    assert body["total_tokens"] == cur.tokens
    assert body["total_cost"] == pytest.approx(_money(cur.cost), abs=1e-9)
    assert body["total_input_tokens"] == cur.input_tokens
    assert body["total_output_tokens"] == cur.output_tokens
    assert body["total_cache_read_tokens"] == cur.cache_read_tokens
    cache_write = truth.sql_value(
        database_url,
        "SELECT COALESCE(SUM(cache_write_tokens), 0) FROM usage_records WHERE date BETWEEN :s AND :e",
        s=s,
        e=e,
    )
    assert body["total_cache_write_tokens"] == cache_write
    assert body["active_users"] == cur.users
    assert body["claude_code_tokens"] == tools["claude_code"][0] and body["cursor_tokens"] == tools["cursor"][0]
    assert body["claude_code_users"] == tools["claude_code"][2] and body["cursor_users"] == tools["cursor"][2]
    assert body["unattributed"] == {
        "total_tokens": cur.tokens - cur.mapped_tokens,
        "total_cost": pytest.approx(_money(cur.cost - cur.mapped_cost), abs=1e-9),
    }
    assert body["unattributed"]["total_tokens"] > 0  # the seed's CI deploy key is unmapped
    assert [t["tool"] for t in body["tools"]] == sorted(tools, key=lambda k: (-tools[k][0], k))
    for item in body["tools"]:
        tokens, cost, users, _ = tools[item["tool"]]
        assert (item["tokens"], item["users"]) == (tokens, users)
        assert item["cost"] == pytest.approx(_money(cost), abs=1e-9)
    previous = body["previous_period"]
    assert (previous["start"], previous["end"]) == (ps.isoformat(), pe.isoformat())
    assert previous["total_tokens"] == prev.tokens and previous["active_users"] == prev.users
    assert previous["total_cost"] == pytest.approx(_money(prev.cost), abs=1e-9)
    assert previous["claude_code_tokens"] == prev_tools["claude_code"][0]
    assert previous["cursor_users"] == prev_tools["cursor"][2]
    assert page_client.get("/api/v1/stats").json()["previous_period"] is None


def test_stats_leap_day_and_clamped_end(page_client):
    body = page_client.get("/api/v1/stats", params={"start": "2024-02-29", "end": "2024-02-29"}).json()
    assert (body["total_tokens"], body["active_users"], body["cursor_tokens"]) == (31, 1, 31)
    assert body["total_cost"] == pytest.approx(0.01)
    clamped = page_client.get("/api/v1/stats", params={"start": "2026-03-01", "end": "2026-12-31"}).json()
    assert clamped["end"] == TODAY.isoformat()
    empty = page_client.get("/api/v1/stats", params={"start": "2025-01-01", "end": "2025-01-31"}).json()
    assert (empty["total_tokens"], empty["active_users"], empty["tools"]) == (0, 0, [])


def test_lifetime(page_client, database_url):
    body = page_client.get("/api/v1/stats/lifetime").json()
    assert body == {
        "total_tokens": truth.lifetime_tokens(database_url),
        "total_cost": pytest.approx(float(sql_value(database_url, "SELECT SUM(cost) FROM usage_records")), abs=1e-9),
        "total_users": sql_value(database_url, f"SELECT COUNT(DISTINCT email) FROM usage_records WHERE {truth.MAPPED}"),
        "first_record_date": "2024-02-29",
        "total_commits": sql_value(database_url, "SELECT COUNT(*) FROM commits"),
        "ai_attributed_commits": sql_value(database_url, "SELECT COUNT(*) FROM commits WHERE ai_tool IS NOT NULL"),
        "total_repos": sql_value(database_url, "SELECT COUNT(*) FROM repositories"),
    }


def test_trends_zero_filled_daily_series(page_client, database_url):
    s, e = date(2026, 2, 20), date(2026, 3, 10)
    body = page_client.get("/api/v1/trends", params={"start": s.isoformat(), "end": e.isoformat()}).json()
    per_day, cost = truth.daily_tool_tokens(database_url, s, e), truth.daily_cost(database_url, s, e)
    assert [p["date"] for p in body["data"]] == [(s + timedelta(days=i)).isoformat() for i in range((e - s).days + 1)]
    for point in body["data"]:
        day = date.fromisoformat(point["date"])
        assert point["claude_code"] == per_day.get((day, "claude_code"), 0)
        assert point["cursor"] == per_day.get((day, "cursor"), 0)
        assert point["tools"] == {t: per_day.get((day, t), 0) for t in ("claude_code", "cursor", "codex")}
        assert point["cost"] == pytest.approx(float(cost.get(day, 0)), abs=1e-9)
        assert point["is_incomplete"] == (day == TODAY)  # no provider configured: only today is incomplete
        assert point["projected"] == {} and point["projected_claude_code"] is None
    last = dict(sql_rows(database_url, "SELECT tool, MAX(date)::text FROM usage_records GROUP BY tool"))
    assert {k: v["last_data_date"] for k, v in body["completeness"].items()} == last


def test_models_top_20_with_share_of_all_tokens(page_client, database_url):
    s, e = D30
    body = page_client.get("/api/v1/models").json()
    pairs = truth.model_tool_tokens(database_url, s, e)
    total = truth.totals(database_url, s, e).tokens
    expected = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))[:20]
    assert [(m["model"], m["tool"], m["tokens"]) for m in body] == [(m, t, v) for (m, t), v in expected]
    for item in body:
        assert item["percentage"] == pytest.approx(round(item["tokens"] * 100 / total, 2))


def test_model_trends_views(page_client, database_url):
    params = {"start": "2026-03-08", "end": "2026-03-10"}
    models = page_client.get("/api/v1/models/trends", params=params).json()
    assert models["view"] == "models"
    expected = sql_rows(
        database_url,
        f"""
        SELECT date::text, model, tool, SUM({truth.TOK}), SUM(input_tokens), SUM(output_tokens), SUM(cost)
        FROM usage_records WHERE date BETWEEN '2026-03-08' AND '2026-03-10' GROUP BY date, model, tool""",
    )
    got = {
        (r["date"], r["model"], r["tool"]): (r["tokens"], r["input_tokens"], r["output_tokens"], r["cost"])
        for r in models["trends"]
    }
    assert len(got) == len(models["trends"]) == len(expected)
    for d, m, t, tok, i, o, c in expected:
        assert got[(d, m, t)][:3] == (tok, i, o) and got[(d, m, t)][3] == pytest.approx(float(c), abs=1e-9)
    tools = page_client.get("/api/v1/models/trends", params={**params, "view": "tools"}).json()
    expected = sql_rows(
        database_url,
        f"""
        SELECT date::text, tool, SUM({truth.TOK}), COUNT(DISTINCT email) FILTER (WHERE {truth.MAPPED})
        FROM usage_records WHERE date BETWEEN '2026-03-08' AND '2026-03-10' GROUP BY date, tool""",
    )
    assert sorted((r["date"], r["tool"], r["tokens"], r["users"]) for r in tools["trends"]) == sorted(
        tuple(r) for r in expected
    )


@pytest.mark.parametrize(
    ("path", "query", "param"),
    [
        ("/api/v1/stats", {"start": "2026-01-01"}, "end"),
        ("/api/v1/stats", {"start": "01/02/2026", "end": "2026-01-05"}, "start"),
        ("/api/v1/stats", {"comparison": "maybe"}, "comparison"),
        ("/api/v1/trends", {"range": "2d"}, "range"),
        ("/api/v1/models", {"days": "99999"}, "days"),
        ("/api/v1/models/trends", {"view": "users"}, "view"),
        ("/api/v1/models/trends", {"start": "2026-03-05", "end": "2026-03-01"}, "start"),
    ],
)
def test_bad_parameters_are_json_400(page_client, path, query, param):
    response = page_client.get(path, params=query)
    assert response.status_code == 400
    assert response.json()["parameter"] == param and param in response.json()["error"]


def test_read_only_and_signed_in_only(page_client):
    assert page_client.post("/api/v1/stats").status_code in (403, 405)  # no write surface (CSRF or method)
    saved = dict(page_client.cookies)
    page_client.cookies.clear()
    try:
        response = page_client.get("/api/v1/stats", follow_redirects=False)
        assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    finally:
        page_client.cookies.update(saved)


def test_openapi_documents_the_routes(page_client):
    paths = page_client.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/v1/stats",
        "/api/v1/stats/lifetime",
        "/api/v1/trends",
        "/api/v1/models",
        "/api/v1/models/trends",
    ):
        assert list(paths[path]) == ["get"]
        assert "200" in paths[path]["get"]["responses"]
    assert {p["name"] for p in paths["/api/v1/trends"]["get"]["parameters"]} >= {"start", "end"}


# --- projection (M-PROJ) with configured providers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def configured_client(services: Any, oidc_server: Any, seeded_module: None) -> Iterator[TestClient]:
    from abacus.app import create_app

    settings = app_settings(
        services,
        f"{oidc_server.url}/oidc",
        anthropic={"keys": (ProviderKey("org", "sk-test"),)},
        cursor={"keys": (ProviderKey("team", "ck"),)},
    )
    app = create_app(settings)
    app.state.now = lambda: seed.NOW
    with TestClient(app, base_url="http://testserver.local") as client:
        sign_in_test_client(client, "grace@example.com")
        yield client


def test_today_is_extrapolated_for_configured_tools(configured_client, database_url):
    body = configured_client.get("/api/v1/trends", params={"range": "7d"}).json()
    today = body["data"][-1]
    assert today["date"] == TODAY.isoformat() and today["is_incomplete"]
    for tool in ("claude_code", "cursor"):
        actual = truth.daily_tool_tokens(database_url, TODAY, TODAY).get((TODAY, tool), 0)
        assert today[tool] == actual  # the series itself stays actual
        if actual:
            assert today[f"projected_{tool}"] == round_half_up(Fraction(actual * 4, 3))  # 18:00 → f = 0.75
    assert "codex" not in today["projected"]  # no provider configured for it
    assert all(not p["projected"] for p in body["data"][:-1])


def test_dashboard_chart_shows_projection(configured_client, database_url):
    page = configured_client.get("/", params={"range": "7d"}).text
    chart = dom.one(page, "#usage-chart")
    assert "Projected" in dom.texts(chart, ".legend > span")
    today_title = [t for t in svg_titles(chart) if not t.startswith("Trend")][-1]
    actual = truth.daily_tool_tokens(database_url, TODAY, TODAY)[(TODAY, "claude_code")]
    extra = round_half_up(Fraction(actual * 4, 3)) - actual
    from abacus.domain.formatting import format_tokens

    assert f"Claude Code: {format_tokens(actual)} +{format_tokens(extra)} projected" in today_title.split("\n")
    # legend totals stay the actual sums
    week = sum(
        v
        for (_, t), v in truth.daily_tool_tokens(database_url, TODAY - timedelta(days=6), TODAY).items()
        if t == "claude_code"
    )
    from abacus.domain.formatting import format_tokens_exact

    assert dom.select(chart, f'[title="Claude Code: {format_tokens_exact(week)}"]')
    weekly = configured_client.get("/", params={"range": "1y"}).text
    assert "Projected" not in dom.texts(dom.one(weekly, "#usage-chart"), ".legend > span")
