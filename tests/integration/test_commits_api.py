"""Commit JSON routes (pages.md §13) and the commits CSV export (§12) over the seed data plus edge rows: every
value equals an independent SQL computation (tests/integration/commits_truth.py); today = seed.TODAY."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, timedelta

import httpx
import pytest

from tests import seed
from tests.integration import commits_truth as truth
from tests.integration.pages_support import sql_rows

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
CSV_HEADER = [
    "repository",
    "source",
    "total_commits",
    "ai_assisted_commits",
    "ai_assistance_rate",
    "total_additions",
    "total_deletions",
    "unique_authors",
    "first_commit",
    "last_commit",
    "claude_code_commits",
    "cursor_commits",
    "copilot_commits",
]


@pytest.fixture(scope="module")
def client(page_client, edge_rows):
    return page_client


def get_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def iso(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def sorted_repos(db: str, repos: dict[str, truth.Figures]) -> list[str]:
    ranks = truth.name_ranks(db)
    return sorted(repos, key=lambda n: (-repos[n].commits, ranks[n]))


# --- /api/v1/stats/commits ---------------------------------------------------------------------------------------


def expected_totals(db: str, s: date, e: date) -> dict:
    f = truth.figures(db, s, e)
    return {
        "start": s.isoformat(),
        "end": e.isoformat(),
        "total_commits": f.commits,
        "ai_assisted_commits": f.ai,
        "ai_assistance_rate": f.rate,
        "total_additions": f.additions,
        "total_deletions": f.deletions,
        "ai_additions": f.ai_additions,
        "ai_deletions": f.ai_deletions,
        "commits_without_line_stats": f.no_stats,
        "unique_authors": f.authors,
        "repository_count": f.repos,
    }


def expected_tools(db: str, s: date, e: date) -> list[dict]:
    rows = sql_rows(
        db,
        f"""SELECT c.ai_tool, COUNT(*), COALESCE(SUM(c.additions), 0), COALESCE(SUM(c.deletions), 0)
        FROM commits c WHERE c.ai_tool IS NOT NULL AND {truth.IN_RANGE} GROUP BY 1""",
        s=s,
        e=e,
    )
    rows.sort(key=lambda r: (-r[1], r[0]))
    return [{"tool": t, "commits": n, "additions": a, "deletions": d} for t, n, a, d in rows]


@pytest.mark.parametrize(
    "query, span",
    [
        ("", D30),
        ("?start=2026-03-01&end=2026-03-05", (date(2026, 3, 1), date(2026, 3, 5))),
        ("?range=1y", (TODAY - timedelta(days=364), TODAY)),
    ],
)
def test_commit_stats(client, database_url, query, span):
    body = get_json(client, "/api/v1/stats/commits" + query)
    breakdown, previous = body.pop("tool_breakdown"), body.pop("previous_period")
    assert body == expected_totals(database_url, *span)
    assert breakdown == expected_tools(database_url, *span)
    assert previous is None


def test_commit_stats_comparison(client, database_url):
    body = get_json(client, "/api/v1/stats/commits?comparison=true&start=2026-03-01&end=2026-03-10")
    prev = truth.figures(database_url, date(2026, 2, 19), date(2026, 2, 28))
    assert body["previous_period"] == {
        "start": "2026-02-19",
        "end": "2026-02-28",
        "total_commits": prev.commits,
        "ai_assisted_commits": prev.ai,
        "ai_assistance_rate": prev.rate,
        "total_additions": prev.additions,
        "total_deletions": prev.deletions,
        "unique_authors": prev.authors,
        "repository_count": prev.repos,
    }


def test_day_edges(client, database_url):
    day = truth.EDGE_DAY
    for d in (day, day + timedelta(days=1)):
        body = get_json(client, f"/api/v1/stats/commits?start={d}&end={d}")
        assert body["total_commits"] == truth.figures(database_url, d, d).commits
    edge = get_json(client, f"/api/v1/repositories/acme/edge?start={day}&end={day}")
    assert [c["committed_at"] for c in edge["commits"]] == ["2026-03-04T23:59:59Z"]
    edge = get_json(
        client, f"/api/v1/repositories/acme/edge?start={day + timedelta(days=1)}&end={day + timedelta(days=1)}"
    )
    assert [c["committed_at"] for c in edge["commits"]] == ["2026-03-05T00:00:00Z"]


def test_empty_range_and_leap_day(client):
    for query in ("start=2021-01-01&end=2021-01-31", "start=2024-02-29&end=2024-02-29"):
        body = get_json(client, f"/api/v1/stats/commits?{query}&comparison=true")
        assert body["total_commits"] == 0 and body["ai_assistance_rate"] == 0 and body["tool_breakdown"] == []
        trends = get_json(client, f"/api/v1/commits/trends?{query}")
        assert all(d["total_commits"] == 0 for d in trends["daily"])
    leap = get_json(client, "/api/v1/commits/trends?start=2024-02-29&end=2024-02-29")
    assert [d["date"] for d in leap["daily"]] == ["2024-02-29"]


# --- /api/v1/commits/trends --------------------------------------------------------------------------------------


def test_trends_are_zero_filled_daily(client, database_url):
    body = get_json(client, "/api/v1/commits/trends?range=7d&comparison=true")
    s = TODAY - timedelta(days=6)
    assert [d["date"] for d in body["daily"]] == [(s + timedelta(days=i)).isoformat() for i in range(7)]
    for point in body["daily"]:
        day = date.fromisoformat(point["date"])
        f = truth.figures(database_url, day, day)
        assert point == {
            "date": point["date"],
            "total_commits": f.commits,
            "ai_assisted_commits": f.ai,
            "human_commits": f.commits - f.ai,
            "additions": f.additions,
            "deletions": f.deletions,
            "tools": f.tools,
        }
    overall = body["overall"]
    assert overall["total_commits"] == sum(d["total_commits"] for d in body["daily"])
    assert overall["previous_period"]["start"] == (s - timedelta(days=7)).isoformat()


# --- /api/v1/commits/pivot ---------------------------------------------------------------------------------------


def test_pivot_rows_match_sql(client, database_url):
    body = get_json(client, "/api/v1/commits/pivot")
    repos = truth.per_repo(database_url, *D30)
    order = sorted_repos(database_url, repos)
    assert body["total_count"] == len(repos)
    assert [r["full_name"] for r in body["repositories"]] == order
    assert body["total_commits"] == sum(f.commits for f in repos.values())
    assert body["ai_assisted_commits"] == sum(f.ai for f in repos.values())
    ids = dict(sql_rows(database_url, "SELECT full_name, id FROM repositories"))
    for row in body["repositories"]:
        f = repos[row["full_name"]]
        assert row == {
            "id": ids[row["full_name"]],
            "source": "github",
            "full_name": row["full_name"],
            "total_commits": f.commits,
            "ai_assisted_commits": f.ai,
            "ai_assistance_rate": f.rate,
            "total_additions": f.additions,
            "total_deletions": f.deletions,
            "ai_additions": f.ai_additions,
            "ai_deletions": f.ai_deletions,
            "unique_authors": f.authors,
            "first_commit": iso(f.first),
            "last_commit": iso(f.last),
            "claude_code_commits": f.tools.get("claude_code", 0),
            "cursor_commits": f.tools.get("cursor", 0),
            "copilot_commits": f.tools.get("github_copilot", 0),
            "tool_commits": f.tools,
        }


def test_pivot_slices_sorts_and_search(client, database_url):
    repos = truth.per_repo(database_url, *D30)
    ranks = truth.name_ranks(database_url)
    body = get_json(client, "/api/v1/commits/pivot?sort_by=unique_authors&sort_dir=asc&limit=2&offset=1")
    expected = sorted(repos, key=lambda n: (repos[n].authors, ranks[n]))
    assert [r["full_name"] for r in body["repositories"]] == expected[1:3]
    assert body["total_count"] == len(repos)
    camel = get_json(client, "/api/v1/commits/pivot?sort_by=uniqueAuthors&sort_dir=asc&limit=2&offset=1")
    assert camel == body
    beyond = get_json(client, "/api/v1/commits/pivot?offset=50")
    assert beyond["repositories"] == [] and beyond["total_count"] == len(repos)
    assert [r["full_name"] for r in get_json(client, "/api/v1/commits/pivot?search=_")["repositories"]] == [
        "acme/infra_tools"
    ]
    assert get_json(client, "/api/v1/commits/pivot?search=%25")["total_count"] == 0


# --- /api/v1/repositories/{owner}/{repo} --------------------------------------------------------------------------


def test_repository_detail_json(client, database_url):
    body = get_json(client, "/api/v1/repositories/acme/web?comparison=true&commits_limit=5&commits_offset=3")
    cur = truth.figures(database_url, *D30, "acme/web")
    prev = truth.figures(database_url, *truth.previous(*D30), "acme/web")
    details = body["details"]
    assert details["full_name"] == "acme/web"
    assert (details["total_commits"], details["ai_assisted_commits"], details["ai_assistance_rate"]) == (
        cur.commits,
        cur.ai,
        cur.rate,
    )
    assert (details["total_additions"], details["total_deletions"], details["unique_authors"]) == (
        cur.additions,
        cur.deletions,
        cur.authors,
    )
    assert details["commits_without_line_stats"] == cur.no_stats
    assert (details["first_commit"], details["last_commit"]) == (iso(cur.first), iso(cur.last))
    assert details["claude_code_commits"] == cur.tools.get("claude_code", 0)
    assert details["windsurf_commits"] == 0
    assert {t["tool"]: t["commits"] for t in details["tool_breakdown"]} == cur.tools
    assert details["previous_period"]["total_commits"] == prev.commits
    assert details["previous_period"]["unique_authors"] == prev.authors

    listed = truth.repo_commits(database_url, "acme/web", *D30)
    assert body["total_commits"] == len(listed)
    attributions = truth.attributions(database_url, [r[0] for r in listed[3:8]])
    assert [c["commit_id"] for c in body["commits"]] == [r[1] for r in listed[3:8]]
    for commit, row in zip(body["commits"], listed[3:8], strict=True):
        assert commit["committed_at"] == iso(row[2]) and commit["message"] == row[3] and commit["ai_tool"] == row[4]
        assert {(a["ai_tool"], a["ai_model"]) for a in commit["attributions"]} == attributions[row[0]]
        assert commit["mapped_email"] == (truth.MAPPED_EMAIL if row[8] == truth.MAPPED_AUTHOR_ID else None)

    assert len(body["daily_stats"]) == 30
    assert sum(d["total_commits"] for d in body["daily_stats"]) == cur.commits
    assert sum(d["human_commits"] for d in body["daily_stats"]) == cur.commits - cur.ai
    first, last, total = sql_rows(
        database_url,
        """SELECT MIN(committed_at), MAX(committed_at), COUNT(*) FROM commits c
        JOIN repositories r ON r.id = c.repo_id WHERE r.full_name = 'acme/web'""",
    )[0]
    assert body["data_range"] == {"first_commit": iso(first), "last_commit": iso(last), "total_commits": total}
    assert [a["commits"] for a in body["authors"]] == sorted((a["commits"] for a in body["authors"]), reverse=True)
    assert sum(a["commits"] for a in body["authors"]) == cur.commits  # fewer than 20 authors: all listed


def test_repository_filter_and_defaults(client, database_url):
    body = get_json(client, "/api/v1/repositories/acme/web?ai_filter=human")
    human = truth.repo_commits(database_url, "acme/web", *D30, ai=False)
    assert body["total_commits"] == len(human)
    assert [c["commit_id"] for c in body["commits"]] == [r[1] for r in human[:50]]
    assert all(c["ai_tool"] is None and c["attributions"] == [] for c in body["commits"])
    assert body["details"]["previous_period"] is None


def test_repository_not_found_json(client):
    response = client.get("/api/v1/repositories/acme/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "Repository not found"}


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/stats/commits?start=2026-01-01", "end"),
        ("/api/v1/stats/commits?comparison=yes", "comparison"),
        ("/api/v1/commits/trends?start=2026-02-30&end=2026-03-01", "start"),
        ("/api/v1/commits/pivot?sort_by=bogus", "sort_by"),
        ("/api/v1/commits/pivot?sort_dir=up", "sort_dir"),
        ("/api/v1/commits/pivot?limit=1001", "limit"),
        ("/api/v1/commits/pivot?offset=-1", "offset"),
        ("/api/v1/repositories/acme/web?ai_filter=bots", "ai_filter"),
        ("/api/v1/repositories/acme/web?commits_limit=0", "commits_limit"),
        ("/api/v1/repositories/acme/web?commits_offset=x", "commits_offset"),
        ("/api/v1/export/commits.csv?range=2w", "range"),
    ],
)
def test_bad_parameters_are_json_400(client, url, param):
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["parameter"] == param
    assert f"'{param}'" in response.json()["error"]


def test_routes_need_a_session(client):
    signed_in = client.cookies
    client.cookies = httpx.Cookies()
    try:
        for url in (
            "/api/v1/stats/commits",
            "/api/v1/commits/trends",
            "/api/v1/commits/pivot",
            "/api/v1/repositories/acme/web",
            "/api/v1/export/commits.csv",
        ):
            response = client.get(url)
            assert response.status_code == 401 and response.json() == {"error": "Unauthorized"}
        for url in ("/export/commits.csv", "/commits", "/repositories/acme/web"):
            assert client.get(url, follow_redirects=False).status_code == 303
    finally:
        client.cookies = signed_in


def test_openapi_documents_the_commit_routes(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    for path in (
        "/api/v1/stats/commits",
        "/api/v1/commits/trends",
        "/api/v1/commits/pivot",
        "/api/v1/repositories/{owner}/{repo}",
    ):
        assert "get" in schema["paths"][path], path
    ok = schema["paths"]["/api/v1/stats/commits"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    ref = ok["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert {"total_commits", "ai_assisted_commits", "ai_assistance_rate", "tool_breakdown"} <= set(properties)
    params = {p["name"] for p in schema["paths"]["/api/v1/commits/pivot"]["get"]["parameters"]}
    assert {"start", "end", "search", "sort_by", "sort_dir", "limit", "offset"} <= params


# --- /export/commits.csv -----------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.text)))


def test_export_rows_match_sql(client, database_url):
    response = client.get("/export/commits.csv")
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="commits_{D30[0].isoformat()}_to_{D30[1].isoformat()}.csv"'
    )
    rows = read_csv(response)
    repos = truth.per_repo(database_url, *D30)
    others = sorted({t for f in repos.values() for t in f.tools} - {"claude_code", "cursor", "github_copilot"})
    assert others == ["codex", "windsurf"]  # every other tool present gets its own column
    assert rows[0] == [*CSV_HEADER, "codex_commits", "windsurf_commits"]
    assert "\r\n" not in response.text
    order = sorted_repos(database_url, repos)
    assert [r[0].lstrip("'") for r in rows[1:]] == order
    for row in rows[1:]:
        f = repos[row[0].lstrip("'")]
        assert row[1:] == [
            "github",
            str(f.commits),
            str(f.ai),
            str(f.rate),
            str(f.additions),
            str(f.deletions),
            str(f.authors),
            iso(f.first),
            iso(f.last),
            str(f.tools.get("claude_code", 0)),
            str(f.tools.get("cursor", 0)),
            str(f.tools.get("github_copilot", 0)),
            str(f.tools.get("codex", 0)),
            str(f.tools.get("windsurf", 0)),
        ]
        assert sum(int(n) for n in row[10:]) == f.ai  # every AI commit is in exactly one tool column


def test_export_quoting_and_formula_guard(client):
    response = client.get("/export/commits.csv?search=ird")
    assert response.text.splitlines()[1].startswith('"\'=acme/we""ird,name",github,1,0,0,1,1,1,')
    rows = read_csv(response)
    assert rows[1][0] == "'" + truth.WEIRD_REPO


def test_export_search_range_empty_and_alias(client, database_url):
    rows = read_csv(client.get("/export/commits.csv?range=7d&search=INFRA"))
    assert [r[0] for r in rows[1:]] == ["acme/infra_tools"]
    empty = client.get("/export/commits.csv?start=2021-01-01&end=2021-01-31")
    assert read_csv(empty) == [CSV_HEADER]
    assert 'filename="commits_2021-01-01_to_2021-01-31.csv"' in empty.headers["content-disposition"]
    assert client.get("/api/v1/export/commits.csv").text == client.get("/export/commits.csv").text
    bad = client.get("/export/commits.csv?start=2026-03-01")
    assert bad.status_code == 400 and "Invalid parameter &#39;end&#39;" in bad.text
