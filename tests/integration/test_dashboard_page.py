"""Overview dashboard (pages.md §2) over the seed data: every figure equals an independent SQL computation over
`usage_records` / `commits` (tests/integration/usage_truth.py), today = seed.TODAY at 18:00 UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from abacus.domain.formatting import (
    fmt_day,
    format_count,
    format_money,
    format_money_exact,
    format_percent_int,
    format_tokens,
    format_tokens_exact,
)
from abacus.domain.modelnames import display_model_name
from abacus.domain.periods import delta, rate_delta, round_half_up
from abacus.domain.tools import tool_color, tool_name
from tests import dom, seed
from tests.integration import usage_truth as truth
from tests.integration.pages_support import card_delta, card_value_title, get_ok, hrefs, stat_card, svg_titles

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
HTMX = {"HX-Request": "true", "HX-Target": "page-body"}


@pytest.fixture(scope="module")
def overview(page_client) -> str:
    return get_ok(page_client, "/")


def test_stat_cards_match_sql(overview, database_url):
    s, e = D30
    cur, prev = truth.totals(database_url, s, e), truth.totals(database_url, *truth.previous(s, e))

    card = stat_card(overview, "Total Tokens (30d)")
    assert card_value_title(card) == (format_tokens(cur.tokens), format_tokens_exact(cur.tokens))
    assert card_delta(card) == delta(cur.tokens, prev.tokens).text
    avg_user = round_half_up(Fraction(cur.mapped_tokens, cur.users))
    assert f"{format_tokens(avg_user)} tokens avg per user" in dom.text(card)

    card = stat_card(overview, "Estimated Cost (30d)")
    assert card_value_title(card) == (format_money(cur.cost), format_money_exact(cur.cost))
    assert card_delta(card) == delta(cur.cost, prev.cost).text
    assert f"{format_money(cur.mapped_cost / cur.users)} per user" in dom.text(card)

    card = stat_card(overview, "Active Users (30d)")
    assert card_value_title(card)[0] == format_count(cur.users)
    assert card_delta(card) == (d.text if (d := delta(cur.users, prev.users)) else None)

    card = stat_card(overview, "Avg per Day (30d)")
    avg_day, prev_avg = round_half_up(Fraction(cur.tokens, 30)), round_half_up(Fraction(prev.tokens, 30))
    assert card_value_title(card) == (format_tokens(avg_day), format_tokens_exact(avg_day))
    assert card_delta(card) == (d.text if (d := delta(avg_day, prev_avg)) else None)


def test_lifetime_strip(overview, database_url):
    life = truth.lifetime_tokens(database_url)
    ai = truth.sql_value(database_url, "SELECT COUNT(*) FROM commits WHERE ai_tool IS NOT NULL")
    strip = dom.one(overview, ".lifetime-strip")
    assert format_tokens_exact(life) in [span.get("title") for span in dom.select(strip, "span")]
    assert f"{format_count(ai)} commits attributed to AI" in dom.texts(strip, "span")
    assert format_count(ai) in dom.texts(strip, "b")
    assert "since Feb '24" in dom.text(strip)  # the leap-day row is the oldest


def test_tools_card_shares(overview, database_url):
    s, e = D30
    cur = truth.totals(database_url, s, e)
    tools = truth.tool_totals(database_url, s, e)
    _total, ai, per_tool = truth.commit_counts(database_url, s, e)
    card = dom.one(overview, ".tools-card")
    bars = svg_titles(card)
    for tool, (tokens, _cost, users, _mapped) in tools.items():
        token_share = format_percent_int(Fraction(tokens * 100, cur.tokens))
        user_share = format_percent_int(Fraction(users * 100, cur.users))
        assert f"{tool_name(tool)}: {format_tokens(tokens)} tokens ({token_share})" in bars
        assert f"{tool_name(tool)}: {format_count(users)} of {format_count(cur.users)} people ({user_share})" in bars
    for tool, commits in per_tool.items():
        assert f"{tool_name(tool)}: {commits} commits ({format_percent_int(Fraction(commits * 100, ai))})" in bars
    # the tools appear by tokens desc
    tokens_bar = dom.first(card, ".share-bar", has_text="Tokens")
    order = [legend.rsplit(" ", 1)[0] for legend in dom.texts(tokens_bar, ".legend > span")]
    assert order == [tool_name(t) for t, _ in sorted(tools.items(), key=lambda kv: (-kv[1][0], kv[0]))]


def test_tools_card_counts_people_per_tool_not_as_one_split(overview, database_url):
    """Shares of people overlap (one person, two tools), so each tool has its own "x of N people" row and bar
    filled to x / N, never one 100 % bar split between tools."""
    s, e = D30
    cur = truth.totals(database_url, s, e)
    tools = truth.tool_totals(database_url, s, e)
    people = dom.first(dom.one(overview, ".tools-card"), ".share-bar", has_text="People")
    rows = dom.select(people, ".people-row")
    assert len(rows) == len([t for t, v in tools.items() if v[2] > 0])
    assert sum(v[2] for v in tools.values()) > cur.users  # the seed's people use several tools
    for row in rows:
        name, text = dom.texts(row, ".row-line > span")
        tool = next(t for t in tools if tool_name(t) == name)
        users = tools[tool][2]
        assert text == f"{format_count(users)} of {format_count(cur.users)} people"
        fill = [r for r in dom.select(row, "svg.hbar rect") if r.get("class") != "bar-track"]
        assert len(fill) == 1 and float(fill[0].get("width")) == pytest.approx(100 * users / cur.users, abs=0.01)
        assert fill[0].get("fill") == tool_color(tool)
    assert dom.attr(people, "a.info", "href") == "/definitions#M-USERS-TOOL"


def test_commits_card_rate_and_delta(overview, database_url):
    s, e = D30
    total, ai, _ = truth.commit_counts(database_url, s, e)
    prev_total, prev_ai, _ = truth.commit_counts(database_url, *truth.previous(s, e))
    card = dom.one(overview, ".commits-card")
    assert dom.text(dom.one(card, ".stat-value")) == f"{round_half_up(Fraction(ai * 100, total))}%"
    assert f"{ai} of {total} commits" in dom.text(card)
    expected = rate_delta(ai, total, prev_ai, prev_total)
    assert (card_delta(card) or None) == (expected.text if expected else None)
    assert card.get("href") == "/commits"


def test_commit_day_edges(page_client, database_url):
    """A commit at 23:59:59Z belongs to its own UTC day and not to the next one."""
    edge = truth.sql_value(
        database_url,
        "SELECT committed_at FROM commits WHERE committed_at::time = '23:59:59' ORDER BY committed_at LIMIT 1",
    )
    day = edge.date()
    for d in (day, day + timedelta(days=1)):
        total, ai, _ = truth.commit_counts(database_url, d, d)
        lower = datetime(d.year, d.month, d.day, tzinfo=UTC)
        assert total == truth.sql_value(
            database_url,
            "SELECT COUNT(*) FROM commits WHERE committed_at >= :a AND committed_at < :b",
            a=lower,
            b=lower + timedelta(days=1),
        )
        edge_in = truth.sql_value(
            database_url,
            "SELECT COUNT(*) FROM commits WHERE committed_at = :t AND (committed_at AT TIME ZONE 'UTC')::date = :d",
            t=edge,
            d=d,
        )
        assert edge_in == (1 if d == day else 0)
        page = page_client.get("/", params={"start": d.isoformat(), "end": d.isoformat()}).text
        if total:
            assert f"{ai} of {total} commits" in dom.text(dom.one(page, ".commits-card"))
        else:
            assert not dom.select(page, ".commits-card")


def test_usage_chart_legend_and_bars(overview, database_url):
    s, e = D30
    chart = dom.one(overview, "#usage-chart")
    tools = truth.tool_totals(database_url, s, e)
    for tool, (tokens, *_rest) in tools.items():
        assert dom.select(chart, f'[title="{tool_name(tool)}: {format_tokens_exact(tokens)}"]')
        assert f"{tool_name(tool)}: {format_tokens(tokens)}" in dom.texts(chart, "span")
    assert "Daily Usage (30d)" in dom.text(chart)
    assert "Projected" not in dom.markup(chart)  # no provider configured in this app → no projection
    titles = [t for t in svg_titles(chart) if not t.startswith("Trend")]
    assert len(titles) == 30
    per_day, cost = truth.daily_tool_tokens(database_url, s, e), truth.daily_cost(database_url, s, e)
    for offset, title in enumerate(titles):
        day = s + timedelta(days=offset)
        lines = title.split("\n")
        assert lines[0].startswith(fmt_day(day))
        expected = [
            f"{tool_name(t)}: {format_tokens(per_day[(day, t)])}"
            for t in sorted(tools, key=lambda k: (-tools[k][0], k))
            if per_day.get((day, t))
        ]
        assert lines[1:-1] == expected
        assert lines[-1] == f"Cost: {format_money_exact(cost.get(day, 0))}"
    assert "(incomplete)" in titles[-1]  # today
    assert dom.select(chart, ".trend")


def test_trend_toggle_fragment(page_client):
    response = page_client.get("/", params={"trend": "0"}, headers={"HX-Request": "true", "HX-Target": "usage-chart"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="usage-chart"')
    assert "<html" not in response.text and not dom.select(response.text, ".trend")
    assert "/" in hrefs(response.text)  # the toggle links back to trend on (the default, omitted)


def test_weekly_chart_over_90_days(page_client, database_url):
    page = page_client.get("/", params={"range": "1y"}).text
    chart = dom.one(page, "#usage-chart")
    assert "Weekly Usage (365d)" in dom.text(chart)
    s, e = TODAY - timedelta(days=364), TODAY
    titles = [t for t in svg_titles(chart) if t.startswith("Week of")]
    first_monday = s - timedelta(days=s.weekday())
    assert len(titles) == (e - first_monday).days // 7 + 1
    per_day = truth.daily_tool_tokens(database_url, s, e)
    monday = e - timedelta(days=e.weekday())  # the last (partial) week: actual values only, no projection
    week = {t: sum(v for (d, tt), v in per_day.items() if tt == t and monday <= d <= e) for t in ("claude_code",)}
    assert f"Claude Code: {format_tokens(week['claude_code'])}" in titles[-1]
    assert titles[-1].startswith(f"Week of {fmt_day(monday)}")
    assert "Projected" not in dom.markup(chart)


def test_model_distribution(overview, database_url):
    s, e = D30
    models = truth.model_tokens(database_url, s, e)[:6]
    card = dom.one(overview, ".model-dist")
    names = [
        (dom.text(dom.select(line, "span")[0]), dom.attr(line, "span.mono", "title"))
        for line in dom.select(card, ".model-row .row-line")
    ]
    assert names == [(display_model_name(m), format_tokens_exact(t)) for m, t, _ in models]


def test_top_users_table(overview, database_url):
    s, e = D30
    users = truth.user_totals(database_url, s, e)[:10]
    table = dom.one(overview, "table.top-users")
    rows = [
        (
            dom.text(dom.one(row, 'td.email a[href^="/users/"]')),
            *(td.get("title") for td in dom.select(row, "td.num")),
            dom.text(dom.select(row, "td")[-1]),
        )
        for row in dom.select(table, "tbody tr")
    ]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (m, format_tokens_exact(t), format_money_exact(c)) for m, t, c in users
    ]
    assert [r[3] for r in rows] == [
        display_model_name(truth.favorite_model(database_url, m, s, e)) for m, _, _ in users
    ]
    assert "unmapped:" not in dom.markup(table)


def test_custom_range_is_inclusive_and_leap_day(page_client, database_url):
    page = page_client.get("/", params={"start": "2024-02-29", "end": "2024-02-29"}).text
    card = stat_card(page, "Total Tokens (1d)")
    assert card_value_title(card)[1] == format_tokens_exact(31)
    assert "ada@example.com" in dom.texts(page, "table.top-users td.email")
    start, end = date(2026, 3, 1), date(2026, 3, 3)
    page = page_client.get("/", params={"start": start.isoformat(), "end": end.isoformat()}).text
    cur = truth.totals(database_url, start, end)
    assert card_value_title(stat_card(page, "Total Tokens (3d)"))[1] == format_tokens_exact(cur.tokens)
    assert "Mar 1 – 3" in page


def test_no_usage_in_range_shows_zeroed_sections(page_client):
    page = page_client.get("/", params={"start": "2025-01-01", "end": "2025-01-31"}).text
    assert "No usage in this range" in page
    assert card_value_title(stat_card(page, "Total Tokens (31d)"))[0] == "0"
    assert "No users in this range" in page
    assert "No usage data yet" not in page
    assert dom.select(page, ".lifetime-strip")


def test_htmx_range_swap_gets_only_the_body(page_client):
    response = page_client.get("/", params={"range": "7d"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="page-body">')
    assert "<html" not in response.text and "lifetime-strip" not in response.text
    assert "Total Tokens (7d)" in response.text
    full = page_client.get("/", params={"range": "7d"})
    assert "<html" in full.text and 'id="page-body"' in full.text


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"range": "2w"}, "range"),
        ({"start": "2026-01-01"}, "end"),
        ({"end": "2026-01-01"}, "start"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "start"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "start"),
        ({"days": "0"}, "days"),
        ({"trend": "2"}, "trend"),
    ],
)
def test_bad_parameters_are_400_naming_them(page_client, query, param):
    response = page_client.get("/", params=query)
    assert response.status_code == 400
    assert f"'{param}'" in dom.text(response.text)


def test_empty_database_shows_the_empty_state(page_client, clean_db):
    """Runs last in this module: truncates the seed (the next module re-seeds)."""
    page = page_client.get("/").text
    assert "No usage data yet" in page
    assert "Usage data will appear here once synced from Anthropic and Cursor APIs" in page
    assert not dom.select(page, ".lifetime-strip")
    assert "Total Tokens" not in page
