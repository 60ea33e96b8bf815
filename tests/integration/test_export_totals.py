"""Every export and the Team pivot API add up (issue 11, "Exports complete"), over the seed data set (three tools,
cache reads and writes, unmapped identities, AI commits of four tools): per line, the token kinds add up to the line's
total and the tool columns to its total (or its AI commits); over the file, the lines add up to the range's totals as
the JSON API states them."""

from __future__ import annotations

import csv
import io

import pytest

from tests import seed

RANGES = ["7d", "90d", "1y"]
TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


@pytest.fixture(scope="module")
def client(page_client, edge_rows):
    return page_client


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text[:300]
    return list(csv.DictReader(io.StringIO(response.text)))


def header(response) -> list[str]:
    return next(csv.reader(io.StringIO(response.text)))


@pytest.mark.parametrize("range_", RANGES)
def test_team_csv_token_kinds_and_tool_columns_add_up_to_the_total(client, range_):
    response = client.get("/export/team.csv", params={"range": range_})
    rows = read_csv(response)
    assert rows, "the seed has people in every range"
    tool_columns = [c for c in header(response) if c.endswith("_tokens") and c not in (*TOKEN_KINDS, "total_tokens")]
    assert tool_columns[:2] == ["claude_code_tokens", "cursor_tokens"] and "codex_tokens" in tool_columns
    for row in rows:
        total = int(row["total_tokens"])
        assert sum(int(row[k]) for k in TOKEN_KINDS) == total, row["email"]
        assert sum(int(row[c]) for c in tool_columns) == total, row["email"]
    assert any(int(row["cache_write_tokens"]) > 0 for row in rows)
    pivot = client.get("/api/v1/users/pivot", params={"range": range_, "limit": 1000}).json()
    assert sum(int(row["total_tokens"]) for row in rows) == pivot["totals"]["total_tokens"]
    assert len(rows) == pivot["total_count"]


@pytest.mark.parametrize("range_", RANGES)
def test_users_pivot_components_add_up(client, range_):
    body = client.get("/api/v1/users/pivot", params={"range": range_, "limit": 1000}).json()
    users = body["users"]
    assert len(users) == body["total_count"] > 0
    for u in users:
        assert sum(u[k] for k in TOKEN_KINDS) == u["total_tokens"], u["email"]
        assert sum(u["tool_tokens"].values()) == u["total_tokens"], u["email"]
    totals = body["totals"]
    assert sum(u["total_tokens"] for u in users) == totals["total_tokens"]
    assert sum(totals["tool_tokens"].values()) == totals["total_tokens"]
    for tool, tokens in totals["tool_tokens"].items():
        assert sum(u["tool_tokens"].get(tool, 0) for u in users) == tokens, tool


@pytest.mark.parametrize("range_", RANGES)
def test_commits_csv_has_a_column_per_tool_and_adds_up(client, range_):
    response = client.get("/export/commits.csv", params={"range": range_})
    rows = read_csv(response)
    tool_columns = [c for c in header(response) if c.endswith("_commits") and c not in ("total_commits",)]
    tool_columns.remove("ai_assisted_commits")
    stats = client.get("/api/v1/stats/commits", params={"range": range_}).json()
    present = {t["tool"] for t in stats["tool_breakdown"]}
    assert tool_columns[:3] == ["claude_code_commits", "cursor_commits", "copilot_commits"]
    assert {f"{'copilot' if t == 'github_copilot' else t}_commits" for t in present} <= set(tool_columns)
    for row in rows:
        assert sum(int(row[c]) for c in tool_columns) == int(row["ai_assisted_commits"]), row["repository"]
    assert sum(int(r["total_commits"]) for r in rows) == stats["total_commits"]
    assert sum(int(r["ai_assisted_commits"]) for r in rows) == stats["ai_assisted_commits"]
    for t in stats["tool_breakdown"]:
        column = f"{'copilot' if t['tool'] == 'github_copilot' else t['tool']}_commits"
        assert sum(int(r[column]) for r in rows) == t["commits"], column


def test_commits_csv_includes_codex_when_the_range_has_codex_commits(client):
    response = client.get("/export/commits.csv", params={"range": "90d"})
    assert "codex_commits" in header(response)
    rows = read_csv(response)
    assert sum(int(r["codex_commits"]) for r in rows) > 0


@pytest.mark.parametrize("range_", RANGES)
def test_usage_csv_token_kinds_add_up_and_both_views_match_the_stats(client, range_):
    models = read_csv(client.get("/export/usage.csv", params={"range": range_}))
    tools = read_csv(client.get("/export/usage.csv", params={"range": range_, "view": "tools"}))
    stats = client.get("/api/v1/stats", params={"range": range_}).json()
    assert models and tools
    for row in models:
        assert sum(int(row[k]) for k in TOKEN_KINDS) == int(row["tokens"]), row
    assert sum(int(r["tokens"]) for r in models) == sum(int(r["tokens"]) for r in tools) == stats["total_tokens"]
    assert sum(int(r["input_tokens"]) for r in models) == stats["total_input_tokens"]
    assert sum(int(r["output_tokens"]) for r in models) == stats["total_output_tokens"]
    assert sum(int(r["cache_read_tokens"]) for r in models) == stats["total_cache_read_tokens"]
    assert sum(int(r["cache_write_tokens"]) for r in models) == stats["total_cache_write_tokens"]
    assert sum(stats[f"total_{k}"] for k in TOKEN_KINDS) == stats["total_tokens"]
    per_tool = {t["tool"]: t["tokens"] for t in stats["tools"]}
    for tool, tokens in per_tool.items():
        assert sum(int(r["tokens"]) for r in tools if r["tool"] == tool) == tokens, tool


def test_seed_has_the_cases_these_sums_need():
    assert "codex" in seed.MODELS
