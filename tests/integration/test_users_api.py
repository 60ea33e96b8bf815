"""JSON under /api/v1/users…: list, pivot, detail, raw usage, percentile — against figures computed independently
from the raw `usage_records` / `commits` rows (today = 2026-03-10)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from tests import seed
from tests.integration import people_truth as truth

TODAY = seed.TODAY
START_30D = TODAY - timedelta(days=29)
ADA = "ada@example.com"


def money(value: Decimal) -> float:
    return float(value)


def favorite_model(records, email, start, end) -> str:
    per_model: dict[str, int] = defaultdict(int)
    for r in records:
        if r.email == email and start <= r.date <= end:
            per_model[r.model] += r.tok
    return min(per_model, key=lambda m: (-per_model[m], m)) if per_model else "unknown"


def test_users_list(page_client, records):
    body = page_client.get("/api/v1/users").json()
    people = truth.team(records, START_30D, TODAY, TODAY)
    assert [u["email"] for u in body] == truth.sorted_emails(people, "totalTokens", True)
    for u in body:
        p = people[u["email"]]
        assert u == {
            "email": p["email"],
            "total_tokens": p["total_tokens"],
            "total_cost": money(p["total_cost"]),
            "claude_code_tokens": p["claude_code_tokens"],
            "cursor_tokens": p["cursor_tokens"],
            "favorite_model": favorite_model(records, p["email"], START_30D, TODAY),
            "last_active": p["last_active"].isoformat(),
            "provisional": False,  # the seed has no OTel rows (M-PROVISIONAL)
        }
    sliced = page_client.get("/api/v1/users", params={"limit": "2", "offset": "1"}).json()
    assert [u["email"] for u in sliced] == [u["email"] for u in body[1:3]]
    assert [u["email"] for u in page_client.get("/api/v1/users", params={"search": "LINUS"}).json()] == [
        "linus@example.com"
    ]


def test_pivot_every_field(page_client, records):
    start = TODAY - timedelta(days=89)
    body = page_client.get("/api/v1/users/pivot", params={"range": "90d"}).json()
    people = truth.team(records, start, TODAY, TODAY)
    present = {r.tool for r in records if r.mapped and start <= r.date <= TODAY}
    assert body["total_count"] == len(people)
    assert body["totals"] == {
        "total_tokens": sum(p["total_tokens"] for p in people.values()),
        "total_cost": money(sum((p["total_cost"] for p in people.values()), Decimal(0))),
        "tool_tokens": {t: sum(p["tools"].get(t, 0) for p in people.values()) for t in present},
    }
    assert [u["email"] for u in body["users"]] == truth.sorted_emails(people, "totalTokens", True)
    for u in body["users"]:
        p = people[u["email"]]
        assert u == {
            "email": p["email"],
            "total_tokens": p["total_tokens"],
            "total_cost": money(p["total_cost"]),
            "claude_code_tokens": p["claude_code_tokens"],
            "cursor_tokens": p["cursor_tokens"],
            "tool_tokens": {t: p["tools"].get(t, 0) for t in present},
            "input_tokens": p["input_tokens"],
            "output_tokens": p["output_tokens"],
            "cache_read_tokens": p["cache_read_tokens"],
            "cache_write_tokens": p["cache_write_tokens"],
            "first_active": p["first_active"].isoformat(),
            "last_active": p["last_active"].isoformat(),
            "days_active": p["days_active"],
            "avg_tokens_per_day": p["avg_tokens_per_day"],
            "tool_count": p["tool_count"],
            "has_thinking_models": p["has_thinking_models"],
            "days_since_last_active": p["days_since_last_active"],
            "provisional": False,
        }


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [
        ("email", "email"),
        ("total_cost", "totalCost"),
        ("inputTokens", "inputTokens"),
        ("output_tokens", "outputTokens"),
        ("firstActive", "firstActive"),
        ("last_active", "lastActive"),
        ("avg_tokens_per_day", "avgTokensPerDay"),
        ("tool_codex", "tool_codex"),
        ("claudeCodeTokens", "claudeCodeTokens"),
    ],
)
@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_pivot_sorting(page_client, records, sort_by, key, sort_dir):
    params = {"sort_by": sort_by, "sort_dir": sort_dir, "range": "7d"}
    body = page_client.get("/api/v1/users/pivot", params=params).json()
    people = truth.team(records, TODAY - timedelta(days=6), TODAY, TODAY)
    assert [u["email"] for u in body["users"]] == truth.sorted_emails(people, key, sort_dir == "desc")


def test_pivot_limit_offset_and_search(page_client, records):
    everyone = page_client.get("/api/v1/users/pivot").json()
    sliced = page_client.get("/api/v1/users/pivot", params={"limit": "2", "offset": "2"}).json()
    assert sliced["users"] == everyone["users"][2:4]
    assert sliced["total_count"] == everyone["total_count"] and sliced["totals"] == everyone["totals"]
    found = page_client.get("/api/v1/users/pivot", params={"search": "a"}).json()
    people = truth.team(records, START_30D, TODAY, TODAY, search="a")
    assert found["total_count"] == len(people)
    beyond = page_client.get("/api/v1/users/pivot", params={"offset": "50"}).json()
    assert beyond["users"] == [] and beyond["total_count"] == everyone["total_count"]


def test_user_detail(page_client, records, commits):
    body = page_client.get(f"/api/v1/users/{ADA}", params={"comparison": "true"}).json()
    rows = [r for r in records if r.email == ADA and START_30D <= r.date <= TODAY]
    days = {r.date for r in rows}
    tokens = sum(r.tok for r in rows)
    assert (body["start"], body["end"]) == (START_30D.isoformat(), TODAY.isoformat())
    assert body["summary"] == {
        "email": ADA,
        "total_tokens": tokens,
        "total_cost": money(sum((r.cost for r in rows), Decimal(0))),
        "claude_code_tokens": sum(r.tok for r in rows if r.tool == "claude_code"),
        "cursor_tokens": sum(r.tok for r in rows if r.tool == "cursor"),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
        "cache_read_tokens": sum(r.cache_read_tokens for r in rows),
        "first_active": min(days).isoformat(),
        "last_active": max(days).isoformat(),
        "days_active": len(days),
        "avg_tokens_per_day": math.floor(Fraction(tokens, len(days)) + Fraction(1, 2)),
    }
    pairs: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        pairs[(r.model, r.tool)].append(r)
    expected_models = sorted(pairs, key=lambda k: (-sum(r.tok for r in pairs[k]), k))
    assert body["model_breakdown"] == [
        {
            "model": m,
            "tool": t,
            "tokens": sum(r.tok for r in pairs[(m, t)]),
            "input_tokens": sum(r.input_tokens for r in pairs[(m, t)]),
            "output_tokens": sum(r.output_tokens for r in pairs[(m, t)]),
            "cost": money(sum((r.cost for r in pairs[(m, t)]), Decimal(0))),
        }
        for m, t in expected_models
    ]
    assert len(body["daily_usage"]) == 30
    for point in body["daily_usage"]:
        day_rows = [r for r in rows if r.date.isoformat() == point["date"]]
        tools: dict[str, int] = defaultdict(int)
        for r in day_rows:
            tools[r.tool] += r.tok
        assert point == {
            "date": point["date"],
            "claude_code": tools.get("claude_code", 0),
            "cursor": tools.get("cursor", 0),
            "tools": dict(tools),
            "input_tokens": sum(r.input_tokens for r in day_rows),
            "output_tokens": sum(r.output_tokens for r in day_rows),
            "cost": money(sum((r.cost for r in day_rows), Decimal(0))),
        }
    every = [r for r in records if r.email == ADA]
    per_day: dict[date, int] = defaultdict(int)
    per_tool: dict[str, int] = defaultdict(int)
    for r in every:
        per_day[r.date] += r.tok
        per_tool[r.tool] += r.tok
    record = min(per_day, key=lambda d: (-per_day[d], d))
    assert body["lifetime"] == {
        "total_tokens": sum(r.tok for r in every),
        "total_cost": money(sum((r.cost for r in every), Decimal(0))),
        "first_record_date": "2024-02-29",
        "favorite_tool": min(per_tool, key=lambda t: (-per_tool[t], t)),
        "record_day": {"date": record.isoformat(), "tokens": per_day[record]},
    }
    total, ai = truth.user_commits(commits, ADA, START_30D, TODAY)
    stats = body["commit_stats"]
    assert (stats["total_commits"], stats["ai_assisted_commits"]) == (total, ai)
    assert stats["ai_assistance_rate"] == math.floor(Fraction(ai * 100, total) + Fraction(1, 2))
    assert sum(t["commits"] for t in stats["tool_breakdown"]) == ai
    previous = [r for r in records if r.email == ADA and START_30D - timedelta(days=30) <= r.date < START_30D]
    assert body["previous_period"] == {
        "start": (START_30D - timedelta(days=30)).isoformat(),
        "end": (START_30D - timedelta(days=1)).isoformat(),
        "total_tokens": sum(r.tok for r in previous),
        "total_cost": money(sum((r.cost for r in previous), Decimal(0))),
    }
    assert page_client.get(f"/api/v1/users/{ADA}").json()["previous_period"] is None


def test_user_detail_zero_range_local_part_and_404(page_client):
    quiet = page_client.get("/api/v1/users/ada", params={"start": "2025-01-01", "end": "2025-01-03"})
    assert quiet.status_code == 200
    body = quiet.json()
    assert body["summary"]["total_tokens"] == 0 and body["summary"]["days_active"] == 0
    assert body["summary"]["first_active"] is None
    assert [p["cost"] for p in body["daily_usage"]] == [0, 0, 0]
    missing = page_client.get("/api/v1/users/zed%40example.com")
    assert missing.status_code == 404 and missing.json() == {"error": "User not found"}


def test_raw_usage_pages_are_zero_based(page_client, records):
    expected = sorted(
        (r for r in records if r.email == ADA and START_30D <= r.date <= TODAY),
        key=lambda r: (r.date, r.id),
        reverse=True,
    )
    first = page_client.get(f"/api/v1/users/{ADA}/raw-usage", params={"limit": "20"}).json()
    second = page_client.get(f"/api/v1/users/{ADA}/raw-usage", params={"limit": "20", "page": "1"}).json()
    assert first["total_count"] == len(expected)
    assert [r["id"] for r in first["records"] + second["records"]] == [r.id for r in expected[:40]]
    assert first["records"][0] == {
        "id": expected[0].id,
        "date": expected[0].date.isoformat(),
        "tool": expected[0].tool,
        "model": expected[0].model,
        "total_tokens": expected[0].tok,
        "cost": money(expected[0].cost),
    }
    assert first["available_tools"] == sorted({r.tool for r in expected})
    assert first["available_models"] == sorted({r.model for r in expected})
    codex = page_client.get(f"/api/v1/users/{ADA}/raw-usage", params={"tool": "codex", "limit": "100"}).json()
    assert codex["total_count"] == len([r for r in expected if r.tool == "codex"])
    assert {r["tool"] for r in codex["records"]} == {"codex"}


def percentile_truth(records, email, start, end) -> int:
    tokens: dict[str, int] = defaultdict(int)
    days: dict[str, set] = defaultdict(set)
    for r in records:
        if r.mapped and start <= r.date <= end:
            tokens[r.email] += r.tok
            days[r.email].add(r.date)
    scores = {e: Fraction(tokens[e], len(days[e])) for e in tokens if len(days[e]) >= 2}
    if not scores:
        return 50
    if email not in scores:
        return 0
    if len(scores) == 1:
        return 100
    higher = sum(1 for s in scores.values() if s > scores[email])
    return math.floor(Fraction((len(scores) - 1 - higher) * 100, len(scores) - 1) + Fraction(1, 2))


@pytest.mark.parametrize(("start", "end"), [(START_30D, TODAY), (date(2026, 3, 6), date(2026, 3, 7)), (TODAY, TODAY)])
def test_percentile(page_client, records, start, end):
    people = sorted({r.email for r in records if r.mapped})
    results = {}
    for email in people:
        response = page_client.get(
            f"/api/v1/users/{email}/percentile", params={"start": start.isoformat(), "end": end.isoformat()}
        )
        assert response.status_code == 200
        results[email] = response.json()["percentile"]
        assert results[email] == percentile_truth(records, email, start, end), email
    if start == end:
        assert set(results.values()) == {50}


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("/api/v1/users?limit=101", "limit"),
        ("/api/v1/users?offset=-1", "offset"),
        ("/api/v1/users?start=2026-01-01", "end"),
        ("/api/v1/users/pivot?sort_by=split", "sort_by"),
        ("/api/v1/users/pivot?sort_dir=sideways", "sort_dir"),
        ("/api/v1/users/pivot?limit=1001", "limit"),
        ("/api/v1/users/ada%40example.com?comparison=maybe", "comparison"),
        ("/api/v1/users/ada%40example.com?range=3d", "range"),
        ("/api/v1/users/ada%40example.com/raw-usage?tool=windsurf", "tool"),
        ("/api/v1/users/ada%40example.com/raw-usage?model=nope", "model"),
        ("/api/v1/users/ada%40example.com/raw-usage?page=-1", "page"),
        ("/api/v1/users/ada%40example.com/raw-usage?limit=0", "limit"),
        ("/api/v1/users/ada%40example.com/percentile?end=2026-01-01", "start"),
    ],
)
def test_bad_parameters_are_400_json(page_client, url, param):
    response = page_client.get(url)
    assert response.status_code == 400
    assert response.json()["parameter"] == param


def test_needs_a_session_and_is_documented(page_client):
    saved = list(page_client.cookies.jar)
    page_client.cookies.clear()
    try:
        response = page_client.get("/api/v1/users/pivot")
        assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
    finally:
        for cookie in saved:
            page_client.cookies.jar.set_cookie(cookie)
    schema = page_client.get("/api/openapi.json").json()
    for path in (
        "/api/v1/users",
        "/api/v1/users/pivot",
        "/api/v1/users/{email}",
        "/api/v1/users/{email}/raw-usage",
        "/api/v1/users/{email}/percentile",
    ):
        assert "200" in schema["paths"][path]["get"]["responses"], path
    assert "/team" not in schema["paths"] and "/users/{email}" not in schema["paths"]
    pivot = schema["paths"]["/api/v1/users/pivot"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert pivot["$ref"].endswith("UserPivot")
