"""Repository detail (pages.md §7) over the seed data plus edge rows: every figure equals an independent SQL
computation (tests/integration/commits_truth.py); today = seed.TODAY."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import event

from abacus.domain.formatting import fmt_day, fmt_status_date, format_commit_count, format_count
from abacus.domain.modelnames import display_model_name
from abacus.domain.tools import tool_name
from tests import seed
from tests.integration import commits_truth as truth
from tests.integration.commits_truth import edge_rows  # noqa: F401
from tests.integration.pages_fixtures import *  # noqa: F403
from tests.integration.pages_fixtures import get_ok, sql_rows, sql_value
from tests.integration.usage_truth import card_delta, card_value_title, stat_card, text_of

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
Y1 = (TODAY - timedelta(days=364), TODAY)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.fixture(scope="module")
def client(page_client, edge_rows):  # noqa: F811
    return page_client


def commit_items(page: str) -> list[str]:
    """The markup of each commit row of the list, in order."""
    section = page.split('id="repo-commits"')[1].split("</ul>")[0]
    return section.split('<li class="commit-row">')[1:]


def shas(page: str) -> list[str]:
    return [re.search(r'/commit/([0-9a-z]+)"', item).group(1) for item in commit_items(page)]


def test_header_data_from_is_all_time(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web?range=7d"))
    first, last = sql_rows(
        database_url,
        """SELECT MIN(committed_at), MAX(committed_at) FROM commits c
        JOIN repositories r ON r.id = c.repo_id WHERE r.full_name = 'acme/web'""",
    )[0]
    assert f"Data from {MONTHS[first.month - 1]} {first.year}" in page
    assert f'title="Data synced from {fmt_status_date(first)} to {fmt_status_date(last)}"' in page
    assert "<h1>acme/web</h1>" in page and '<span class="badge">github</span>' in page
    assert 'href="https://github.com/acme/web"' in page
    assert '<a class="back-link" href="/commits?range=7d">' in page


@pytest.mark.parametrize(
    "repo, query, span",
    [
        ("acme/web", "", D30),
        ("acme/api", "?range=7d", (TODAY - timedelta(days=6), TODAY)),
        ("acme/infra_tools", "?start=2026-02-01&end=2026-02-28", (date(2026, 2, 1), date(2026, 2, 28))),
    ],
)
def test_stat_cards_match_sql(client, database_url, repo, query, span):
    page = get_ok(client, f"/repositories/{repo}{query}")
    cur = truth.figures(database_url, *span, repo)
    prev = truth.figures(database_url, *truth.previous(*span), repo)
    tag = f"({(span[1] - span[0]).days + 1}d)"

    card = stat_card(page, f"Total Commits {tag}")
    assert card_value_title(card)[0] == format_commit_count(cur.commits)
    assert card_delta(card) == truth.expected_delta(cur.commits, prev.commits)

    card = stat_card(page, f"AI Attributed {tag}")
    assert card_value_title(card)[0] == f"{cur.rate}%"
    assert f"{format_count(cur.ai)} commits" in card
    assert card_delta(card) == truth.expected_rate_delta(cur.ai, cur.commits, prev.ai, prev.commits)

    card = stat_card(page, f"Contributors {tag}")
    assert card_value_title(card)[0] == format_count(cur.authors)
    assert card_delta(card) == truth.expected_delta(cur.authors, prev.authors)

    card = stat_card(page, f"Lines Changed {tag}")
    value, title = card_value_title(card)
    assert value == format_commit_count(cur.additions + cur.deletions)
    assert f"+{format_commit_count(cur.additions)} / -{format_commit_count(cur.deletions)}" in card
    assert card_delta(card) == truth.expected_delta(cur.additions + cur.deletions, prev.additions + prev.deletions)
    if cur.no_stats:
        assert title == f"{cur.no_stats} {'commit' if cur.no_stats == 1 else 'commits'} without line stats"


def test_tool_attribution_lists_every_tool(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web"))
    cur = truth.figures(database_url, *D30, "acme/web")
    section = page.split("AI Tool Attribution (30d)")[1].split('<div class="card">')[0]
    legend = re.findall(r"</svg> ([^<:]+): (\d+) \((\d+%)\)</span>", section)
    ordered = sorted(cur.tools.items(), key=lambda kv: (-kv[1], kv[0]))
    assert legend == [(tool_name(t), str(n), f"{truth.rate(n, cur.ai)}%") for t, n in ordered]
    assert "codex" in cur.tools  # a tool the reference would have drawn as human


def test_daily_chart_is_zero_filled_with_human_and_tools(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web"))
    chart = page.split("Daily Commits (30 days)")[1].split("</svg>")[0]
    titles = re.findall(r"<title>([A-Z][a-z]{2} \d+): (\d+) commits?(.*?)</title>", chart, re.S)
    days = [D30[0] + timedelta(days=i) for i in range(30)]
    assert [t[0] for t in titles] == [fmt_day(d) for d in days]
    for day, (_, total, detail) in zip(days, titles, strict=True):
        expected = truth.figures(database_url, day, day, "acme/web")
        assert int(total) == expected.commits
        parts = dict(re.findall(r"\n([^:\n]+): ([\d,]+)", detail))
        human = expected.commits - expected.ai
        assert parts.get("Human", "0") == str(human)
        for tool, n in expected.tools.items():
            assert parts[tool_name(tool)] == str(n)
    cur = truth.figures(database_url, *D30, "acme/web")
    legend = page.split("Daily Commits (30 days)")[1].split('<div class="legend">')[1].split("</div>")[0]
    assert f"Human: {cur.commits - cur.ai:,}" in legend
    for tool, n in cur.tools.items():
        assert f"{tool_name(tool)}: {n:,}" in legend


def test_long_ranges_are_weekly(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web?range=1y"))
    assert "Weekly Commits (365 days)" in page
    chart = page.split("Weekly Commits (365 days)")[1].split("</svg>")[0]
    titles = re.findall(r"<title>Week of ([A-Z][a-z]{2} \d+): (\d+) commits?", chart)
    mondays = sorted({d - timedelta(days=d.weekday()) for d in (Y1[0] + timedelta(days=i) for i in range(365))})
    assert [t[0] for t in titles] == [fmt_day(m) for m in mondays]
    assert sum(int(t[1]) for t in titles) == truth.figures(database_url, *Y1, "acme/web").commits
    for monday, (_, total) in zip(mondays, titles, strict=True):
        start, end = max(monday, Y1[0]), min(monday + timedelta(days=6), Y1[1])
        assert int(total) == truth.figures(database_url, start, end, "acme/web").commits


def test_commit_list_order_pages_and_count(client, database_url):
    expected = truth.repo_commits(database_url, "acme/web", *D30)
    assert len(expected) > 50
    first = get_ok(client, "/repositories/acme/web")
    assert f"Commits ({len(expected)})" in first
    assert shas(first) == [r[1] for r in expected[:50]]
    assert "Page 1 of 2" in first
    second = get_ok(client, "/repositories/acme/web?page=2")
    assert shas(second) == [r[1] for r in expected[50:100]]
    assert "Page 2 of 2" in second
    past = get_ok(client, "/repositories/acme/web?page=9")
    assert shas(past) == shas(second)


@pytest.mark.parametrize("filter_key, ai", [("ai", True), ("human", False)])
def test_commit_filter(client, database_url, filter_key, ai):
    expected = truth.repo_commits(database_url, "acme/web", *D30, ai=ai)
    page = get_ok(client, f"/repositories/acme/web?filter={filter_key}")
    assert f"Commits ({len(expected)})" in page
    assert shas(page) == [r[1] for r in expected[:50]]
    assert f'<option value="{filter_key}" selected>' in page
    # the range picker keeps the filter; pagination too
    assert f'href="/repositories/acme/web?filter={filter_key}&amp;range=7d"' in page


def test_commit_rows_content(client, database_url):
    expected = truth.repo_commits(database_url, "acme/web", *D30)[:50]
    by_commit = truth.attributions(database_url, [r[0] for r in expected])
    page = text_of(get_ok(client, "/repositories/acme/web"))
    items = commit_items(page)
    saw_mapped = saw_unmapped = saw_multi = saw_body = saw_plain = False
    for (cid, sha, at, message, _tool, adds, dels, email, author_id), item in zip(expected, items, strict=True):
        lines = (message or "").split("\n", 1)
        title = lines[0].strip() or "No commit message"
        body = lines[1].strip() if len(lines) > 1 else ""
        assert f'<span class="commit-title">{title}</span>' in item
        assert f'href="https://github.com/acme/web/commit/{sha}"' in item and f">{sha[:7]}</a>" in item
        assert f"{fmt_day(at)}, {at.hour:02d}:{at.minute:02d}" in item
        local = email.split("@")[0]
        if author_id == truth.MAPPED_AUTHOR_ID:
            assert f'href="/users/{quote(truth.MAPPED_EMAIL)}"' in item and f">{local}</a>" in item
            saw_mapped = True
        else:
            assert "/users/" not in item and f">{local}</span>" in item
            saw_unmapped = True
        if adds is not None:
            assert f'+{adds}</span> / <span class="lines-del">-{dels}' in item
        else:
            assert "lines-add" not in item
        badges = re.findall(r'class="badge tool-badge[^"]*">.*?</svg> ([^<]+)</span>', item)
        want = sorted(f"{tool_name(t)} / {display_model_name(m)}" if m else tool_name(t) for t, m in by_commit[cid])
        assert sorted(badges) == want
        saw_multi |= len(badges) > 1
        if body:
            assert f'<pre class="message">{body}</pre>' in item
            saw_body = True
        else:
            assert "<details" not in item
            saw_plain = True
    assert saw_mapped and saw_unmapped and saw_multi and saw_body and saw_plain


def test_edge_commits_without_message_or_stats(client):
    page = text_of(get_ok(client, f"/repositories/acme/edge?start={truth.EDGE_DAY}&end={truth.EDGE_DAY}"))
    assert "Commits (1)" in page
    item = commit_items(page)[0]
    assert '<span class="commit-title">No commit message</span>' in item
    assert "Mar 4, 23:59" in item and "lines-add" not in item and "<details" not in item
    assert ">github:9999</span>" in item  # no email: the GitHub id stands in
    lines = stat_card(page, "Lines Changed (1d)")
    assert card_value_title(lines) == ("0", "1 commit without line stats")
    next_day = text_of(
        get_ok(
            client,
            f"/repositories/acme/edge?start={truth.EDGE_DAY + timedelta(days=1)}"
            f"&end={truth.EDGE_DAY + timedelta(days=1)}",
        )
    )
    item = commit_items(next_day)[0]
    assert "Mar 5, 00:00" in item and "Edge of day" in item and "Windsurf / swe-1" in item
    assert f'href="/users/{quote(truth.MAPPED_EMAIL)}?start=2026-03-05&end=2026-03-05"' in item


def test_contributors_table(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web"))
    rows = sql_rows(
        database_url,
        f"""
        SELECT COALESCE(c.author_email, 'github:' || c.author_id) AS who, COUNT(*),
               COUNT(*) FILTER (WHERE c.ai_tool IS NOT NULL), MAX(c.committed_at)
        FROM commits c JOIN repositories r ON r.id = c.repo_id
        WHERE r.full_name = 'acme/web' AND {truth.IN_RANGE} GROUP BY 1""",
        s=D30[0],
        e=D30[1],
    )
    rows.sort(key=lambda r: (-r[1], r[0]))
    table = page.split('<table class="contributors">')[1].split("</tbody>")[0]
    shown = re.findall(
        r'<td class="email">([^<]+)</td>\s*<td class="num">([\d,]+)</td>\s*<td class="num">([\d,]+)</td>'
        r'\s*<td class="num">(\d+%)</td>\s*<td class="num" title="[^"]*">([^<]+)</td>',
        table,
    )
    assert shown == [
        (who, format_count(n), format_count(ai), f"{truth.rate(ai, n)}%", fmt_day(last))
        for who, n, ai, last in rows[:20]
    ]


def test_footer_first_and_last_in_range(client, database_url):
    page = text_of(get_ok(client, "/repositories/acme/web?range=7d"))
    cur = truth.figures(database_url, TODAY - timedelta(days=6), TODAY, "acme/web")
    footer = page.split('class="repo-footer muted"')[1]
    assert f"First: {fmt_status_date(cur.first)}" in footer and f"Last: {fmt_status_date(cur.last)}" in footer


def test_empty_range(client):
    page = text_of(get_ok(client, "/repositories/acme/web?start=2021-01-01&end=2021-01-31"))
    assert card_value_title(stat_card(page, "Total Commits (31d)"))[0] == "0"
    assert card_value_title(stat_card(page, "AI Attributed (31d)"))[0] == "0%"
    assert "No commits found" in page and "Try adjusting your filters" in page
    assert "AI Tool Attribution" not in page and "repo-footer" not in page
    assert "Daily Commits (31 days)" in page
    leap = get_ok(client, "/repositories/acme/web?start=2024-02-29&end=2024-02-29")
    assert "Daily Commits (1 days)" in leap and "Feb 29" in leap


def test_names_needing_escapes_round_trip(client):
    listing = get_ok(client, "/commits?range=30d&search=ird")
    href = re.search(r'<td class="repo-name">\s*<a href="([^"]*)">', listing).group(1)
    assert href.startswith("/repositories/%3Dacme/we%22ird%2Cname")
    page = text_of(get_ok(client, href.replace("&amp;", "&")))
    assert f"<h1>{truth.WEIRD_REPO}</h1>" in page


def test_unknown_repository_is_404(client):
    response = client.get("/repositories/acme/nope")
    assert response.status_code == 404
    assert "Repository not found" in response.text
    assert client.get("/repositories/acme/empty").status_code == 200  # known, just no commits


def test_reference_path_redirects_permanently(client):
    response = client.get("/repositories/github/acme/web?range=7d&filter=ai", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/repositories/acme/web?range=7d&filter=ai"


@pytest.mark.parametrize(
    "query, param",
    [
        ("filter=bots", "filter"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("end=2026-03-01", "start"),
        ("start=2026-13-01&end=2026-12-01", "start"),
        ("days=0", "days"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, query, param):
    response = client.get(f"/repositories/acme/web?{query}")
    assert response.status_code == 400
    assert f"Invalid parameter &#39;{param}&#39;" in response.text


def test_htmx_fragments(client):
    commits = get_ok(
        client, "/repositories/acme/web?filter=ai&range=7d", headers={"HX-Request": "true", "HX-Target": "repo-commits"}
    )
    assert commits.lstrip().startswith('<section id="repo-commits"') and "<html" not in commits
    assert "Total Commits" not in commits
    oob = commits.split('<div id="repo-range" hx-swap-oob="true">')[1]
    assert 'href="/repositories/acme/web?range=90d&amp;filter=ai"' in oob
    body = get_ok(client, "/repositories/acme/web?range=7d", headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert body.lstrip().startswith('<div id="page-body">') and "Total Commits (7d)" in body
    assert 'id="repo-commits"' in body and 'id="repo-range" hx-swap-oob' not in body
    # the nav comes along out of band so its links keep the new range
    nav = body.split('<nav class="mainnav" id="mainnav" aria-label="Main" hx-swap-oob="true">')[1]
    assert '<a href="/commits?range=7d"' in nav
    assert '<a class="back-link" href="/commits?range=7d">' in body  # the header follows the range


def test_page_issues_a_fixed_handful_of_statements(client, page_app):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = page_app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        get_ok(client, "/repositories/acme/web?range=1y")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    queries = [s for s in statements if "commit" in s.lower() or "repositor" in s.lower()]
    assert len(queries) <= 8, queries  # 50 commits listed, their attributions in one statement


def test_all_time_data_from_uses_every_commit(client, database_url):
    first = sql_value(
        database_url,
        """SELECT MIN(committed_at) FROM commits c JOIN repositories r ON r.id = c.repo_id
        WHERE r.full_name = 'acme/api'""",
    )
    page = get_ok(client, "/repositories/acme/api?range=7d")
    assert f"Data from {MONTHS[first.month - 1]} {first.year}" in page
