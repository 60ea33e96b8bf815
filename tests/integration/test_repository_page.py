"""Repository detail (pages.md §7) over the seed data plus edge rows: every figure equals an independent SQL
computation (tests/integration/commits_truth.py); today = seed.TODAY."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from lxml.html import HtmlElement
from sqlalchemy import event

from abacus.domain.formatting import fmt_day, fmt_status_date, format_commit_count, format_count
from abacus.domain.modelnames import display_model_name
from abacus.domain.tools import tool_name
from tests import dom, seed
from tests.integration import commits_truth as truth
from tests.integration.pages_support import (
    card_delta,
    card_titled,
    card_value_title,
    get_ok,
    hrefs,
    sql_rows,
    sql_value,
    stat_card,
    svg_titles,
)

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
Y1 = (TODAY - timedelta(days=364), TODAY)
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.fixture(scope="module")
def client(page_client, edge_rows):
    return page_client


def commit_items(page: str) -> list[HtmlElement]:
    """Each commit row of the list, in order."""
    return dom.select(page, "#repo-commits li.commit-row")


def shas(page: str) -> list[str]:
    return [dom.one(item, "a.sha").get("href").rsplit("/commit/", 1)[1] for item in commit_items(page)]


def test_header_data_from_is_all_time(client, database_url):
    page = get_ok(client, "/repositories/acme/web?range=7d")
    first, last = sql_rows(
        database_url,
        """SELECT MIN(committed_at), MAX(committed_at) FROM commits c
        JOIN repositories r ON r.id = c.repo_id WHERE r.full_name = 'acme/web'""",
    )[0]
    data_from = dom.one(page, f'[title="Data synced from {fmt_status_date(first)} to {fmt_status_date(last)}"]')
    assert dom.text(data_from) == f"Data from {MONTHS[first.month - 1]} {first.year}"
    assert dom.texts(page, "h1") == ["acme/web"]
    assert "github" in [dom.text(badge) for badge in dom.select(page, "span.badge") if badge.get("class") == "badge"]
    assert "https://github.com/acme/web" in hrefs(page)
    assert dom.attr(page, "a.back-link", "href") == "/commits?range=7d"


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
    assert f"{format_count(cur.ai)} commits" in dom.text(card)
    assert card_delta(card) == truth.expected_rate_delta(cur.ai, cur.commits, prev.ai, prev.commits)

    card = stat_card(page, f"Contributors {tag}")
    assert card_value_title(card)[0] == format_count(cur.authors)
    assert card_delta(card) == truth.expected_delta(cur.authors, prev.authors)

    card = stat_card(page, f"Lines Changed {tag}")
    value, title = card_value_title(card)
    assert value == format_commit_count(cur.additions + cur.deletions)
    assert f"+{format_commit_count(cur.additions)} / -{format_commit_count(cur.deletions)}" in dom.text(card)
    assert card_delta(card) == truth.expected_delta(cur.additions + cur.deletions, prev.additions + prev.deletions)
    if cur.no_stats:
        assert title == f"{cur.no_stats} {'commit' if cur.no_stats == 1 else 'commits'} without line stats"


def test_tool_attribution_lists_every_tool(client, database_url):
    page = get_ok(client, "/repositories/acme/web")
    cur = truth.figures(database_url, *D30, "acme/web")
    legend = dom.texts(card_titled(page, "AI Tool Attribution (30d)"), ".legend > span")
    ordered = sorted(cur.tools.items(), key=lambda kv: (-kv[1], kv[0]))
    assert legend == [f"{tool_name(t)}: {n} ({truth.rate(n, cur.ai)}%)" for t, n in ordered]
    assert "codex" in cur.tools  # a tool the reference would have drawn as human


def test_daily_chart_is_zero_filled_with_human_and_tools(client, database_url):
    card = card_titled(get_ok(client, "/repositories/acme/web"), "Daily Commits (30 days)")
    chart = dom.one(card, "svg.chart")
    bars = [re.fullmatch(r"([A-Z][a-z]{2} \d+): (\d+) commits?(.*)", t, re.S) for t in svg_titles(chart)]
    titles = [bar.groups() for bar in bars if bar]
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
    legend = dom.text(dom.one(card, ".legend"))
    assert f"Human: {cur.commits - cur.ai:,}" in legend
    for tool, n in cur.tools.items():
        assert f"{tool_name(tool)}: {n:,}" in legend


def test_long_ranges_are_weekly(client, database_url):
    card = card_titled(get_ok(client, "/repositories/acme/web?range=1y"), "Weekly Commits (365 days)")
    chart = dom.one(card, "svg.chart")
    weeks = [re.match(r"Week of ([A-Z][a-z]{2} \d+): (\d+) commits?", t) for t in svg_titles(chart)]
    titles = [week.groups() for week in weeks if week]
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
    assert dom.attr(page, 'select[name="filter"] option[selected]', "value") == filter_key
    # the range picker keeps the filter; pagination too
    assert f"/repositories/acme/web?filter={filter_key}&range=7d" in hrefs(page)


def test_commit_rows_content(client, database_url):
    expected = truth.repo_commits(database_url, "acme/web", *D30)[:50]
    by_commit = truth.attributions(database_url, [r[0] for r in expected])
    items = commit_items(get_ok(client, "/repositories/acme/web"))
    saw_mapped = saw_unmapped = saw_multi = saw_body = saw_plain = False
    for (cid, sha, at, message, _tool, adds, dels, email, author_id), item in zip(expected, items, strict=True):
        lines = (message or "").split("\n", 1)
        title = lines[0].strip() or "No commit message"
        body = lines[1].strip() if len(lines) > 1 else ""
        assert dom.one(item, "span.commit-title").text_content() == title
        sha_link = dom.one(item, "a.sha")
        assert sha_link.get("href") == f"https://github.com/acme/web/commit/{sha}" and dom.text(sha_link) == sha[:7]
        assert dom.text(dom.one(item, ".when")) == f"{fmt_day(at)}, {at.hour:02d}:{at.minute:02d}"
        local = email.split("@")[0]
        if author_id == truth.MAPPED_AUTHOR_ID:
            assert [(a.get("href"), dom.text(a)) for a in dom.select(item, 'a[href^="/users/"]')] == [
                (f"/users/{quote(truth.MAPPED_EMAIL)}", local)
            ]
            saw_mapped = True
        else:
            assert not dom.select(item, 'a[href*="/users/"]') and local in dom.texts(item, "span")
            saw_unmapped = True
        if adds is not None:
            assert (dom.text(dom.one(item, ".lines-add")), dom.text(dom.one(item, ".lines-del"))) == (
                f"+{adds}",
                f"-{dels}",
            )
        else:
            assert not dom.select(item, ".lines-add")
        badges = dom.texts(item, ".badge.tool-badge")
        want = sorted(f"{tool_name(t)} / {display_model_name(m)}" if m else tool_name(t) for t, m in by_commit[cid])
        assert sorted(badges) == want
        saw_multi |= len(badges) > 1
        if body:
            assert dom.one(item, "pre.message").text_content() == body
            saw_body = True
        else:
            assert not dom.select(item, "details")
            saw_plain = True
    assert saw_mapped and saw_unmapped and saw_multi and saw_body and saw_plain


def test_edge_commits_without_message_or_stats(client):
    page = get_ok(client, f"/repositories/acme/edge?start={truth.EDGE_DAY}&end={truth.EDGE_DAY}")
    assert "Commits (1)" in dom.text(page)
    (item,) = commit_items(page)
    assert dom.one(item, "span.commit-title").text_content() == "No commit message"
    assert "Mar 4, 23:59" in dom.text(item)
    assert not dom.select(item, ".lines-add") and not dom.select(item, "details")
    assert "github:9999" in dom.texts(item, "span")  # no email: the GitHub id stands in
    lines = stat_card(page, "Lines Changed (1d)")
    assert card_value_title(lines) == ("0", "1 commit without line stats")
    next_day = get_ok(
        client,
        f"/repositories/acme/edge?start={truth.EDGE_DAY + timedelta(days=1)}&end={truth.EDGE_DAY + timedelta(days=1)}",
    )
    (item,) = commit_items(next_day)
    assert "Mar 5, 00:00" in dom.text(item) and "Edge of day" in dom.text(item)
    assert "Windsurf / swe-1" in dom.texts(item, ".badge.tool-badge")
    assert f"/users/{quote(truth.MAPPED_EMAIL)}?start=2026-03-05&end=2026-03-05" in hrefs(item)


def test_contributors_table(client, database_url):
    page = get_ok(client, "/repositories/acme/web")
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
    shown = [tuple(dom.texts(row, "td")) for row in dom.select(page, "table.contributors tbody tr")]
    assert all(row.get("title") for row in dom.select(page, "table.contributors tbody td:last-child"))
    assert shown == [
        (who, format_count(n), format_count(ai), f"{truth.rate(ai, n)}%", fmt_day(last))
        for who, n, ai, last in rows[:20]
    ]


def test_footer_first_and_last_in_range(client, database_url):
    page = get_ok(client, "/repositories/acme/web?range=7d")
    cur = truth.figures(database_url, TODAY - timedelta(days=6), TODAY, "acme/web")
    footer = dom.text(dom.one(page, ".repo-footer"))
    assert f"First: {fmt_status_date(cur.first)}" in footer and f"Last: {fmt_status_date(cur.last)}" in footer


def test_empty_range(client):
    page = get_ok(client, "/repositories/acme/web?start=2021-01-01&end=2021-01-31")
    assert card_value_title(stat_card(page, "Total Commits (31d)"))[0] == "0"
    assert card_value_title(stat_card(page, "AI Attributed (31d)"))[0] == "0%"
    assert "No commits found" in page and "Try adjusting your filters" in page
    assert "AI Tool Attribution" not in page and not dom.select(page, ".repo-footer")
    assert "Daily Commits (31 days)" in page
    leap = get_ok(client, "/repositories/acme/web?start=2024-02-29&end=2024-02-29")
    assert "Daily Commits (1 days)" in leap and "Feb 29" in leap


def test_names_needing_escapes_round_trip(client):
    listing = get_ok(client, "/commits?range=30d&search=ird")
    href = dom.first(listing, "td.repo-name > a").get("href")
    assert href.startswith("/repositories/%3Dacme/we%22ird%2Cname")
    assert dom.texts(get_ok(client, href), "h1") == [truth.WEIRD_REPO]


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
    oob = dom.one(commits, "#repo-range")
    assert oob.get("hx-swap-oob") == "true"
    assert "/repositories/acme/web?range=90d&filter=ai" in hrefs(oob)
    body = get_ok(client, "/repositories/acme/web?range=7d", headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert body.lstrip().startswith('<div id="page-body">') and "Total Commits (7d)" in body
    assert dom.select(body, "#repo-commits") and not dom.select(body, "#repo-range[hx-swap-oob]")
    # the nav comes along out of band so its links keep the new range
    nav = dom.one(body, "nav#mainnav")
    assert nav.get("hx-swap-oob") == "true"
    assert "/commits?range=7d" in hrefs(nav)
    assert dom.attr(body, "a.back-link", "href") == "/commits?range=7d"  # the header follows the range


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


@pytest.mark.parametrize("query", ["", "?range=7d&filter=ai", "?range=90d&page=2"])
def test_a_repeated_request_takes_the_rendered_body(client, query):
    """The second full-page request renders only the shell around the body the first one rendered: the same HTML
    (but for the random tip)."""

    def without_tip(html: str) -> str:
        return "\n".join(line for line in html.splitlines() if 'class="tipbar"' not in line)

    first, second = get_ok(client, f"/repositories/acme/web{query}"), get_ok(client, f"/repositories/acme/web{query}")
    assert any(name == "pages/repository.html" for name, _ in client.app.state.rendered_bodies.items)
    assert without_tip(first) == without_tip(second)
