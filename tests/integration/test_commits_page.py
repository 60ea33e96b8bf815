"""Commits page (pages.md §6) over the seed data plus a few edge rows: every figure equals an independent SQL
computation (tests/integration/commits_truth.py); today = seed.TODAY."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from abacus.domain.formatting import fmt_day, format_commit_count, format_count
from abacus.domain.tools import tool_name
from tests import dom, seed
from tests.integration import commits_truth as truth
from tests.integration.pages_support import card_delta, card_value_title, get_ok, stat_card

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
PAGE_BODY = {"HX-Request": "true", "HX-Target": "page-body"}
REPO_TABLE = {"HX-Request": "true", "HX-Target": "repo-table"}


@pytest.fixture(scope="module")
def client(page_client, edge_rows):
    return page_client


@pytest.mark.parametrize(
    "query, span",
    [
        ("", D30),
        ("?range=7d", (TODAY - timedelta(days=6), TODAY)),
        ("?range=1y", (TODAY - timedelta(days=364), TODAY)),
        ("?start=2026-02-10&end=2026-02-20", (date(2026, 2, 10), date(2026, 2, 20))),
    ],
)
def test_stat_cards_match_sql(client, database_url, query, span):
    page = get_ok(client, "/commits" + query)
    cur = truth.figures(database_url, *span)
    prev = truth.figures(database_url, *truth.previous(*span))
    tag = f"({(span[1] - span[0]).days + 1}d)"

    card = stat_card(page, f"Total Commits {tag}")
    noun = "commit" if cur.commits == 1 else "commits"
    assert card_value_title(card) == (format_commit_count(cur.commits), f"{format_count(cur.commits)} {noun}")
    assert card_delta(card) == truth.expected_delta(cur.commits, prev.commits)
    assert f"across {cur.repos} repos" in dom.text(card)

    card = stat_card(page, f"AI Attributed {tag}")
    assert card_value_title(card)[0] == f"{truth.rate(cur.ai, cur.commits)}%"
    assert card_delta(card) == truth.expected_rate_delta(cur.ai, cur.commits, prev.ai, prev.commits)
    assert f"{format_count(cur.ai)} commits" in dom.text(card)

    card = stat_card(page, f"Repositories {tag}")
    assert card_value_title(card)[0] == str(cur.repos)
    assert card_delta(card) is None
    assert "with commits in period" in dom.text(card)


def test_rate_delta_is_in_percentage_points(client, database_url):
    """The AI-rate badge is the difference of the two periods' unrounded rates in percentage points, not a relative
    change in %: over 30d the seed moves the rate by more than 1 pp, so the badge must be there with that value."""
    cur = truth.figures(database_url, *D30)
    prev = truth.figures(database_url, *truth.previous(*D30))
    expected = truth.expected_rate_delta(cur.ai, cur.commits, prev.ai, prev.commits)
    assert expected is not None, "the seed no longer moves the 30d AI rate by 1 pp or more: pick another range"
    assert expected.endswith(" pp")
    relative = truth.expected_delta(truth.rate(cur.ai, cur.commits), truth.rate(prev.ai, prev.commits))
    assert expected.removesuffix(" pp") != (relative or "").removesuffix("%")  # the two readings differ here

    shown = card_delta(stat_card(get_ok(client, "/commits"), "AI Attributed (30d)"))
    assert shown == expected


def test_tool_split_section(client, database_url):
    section = dom.one(get_ok(client, "/commits"), "div.card.commit-tools")
    cur = truth.figures(database_url, *D30)
    ordered = sorted(cur.tools.items(), key=lambda kv: (-kv[1], kv[0]))
    assert dom.texts(section, ".legend > span") == [f"{tool_name(t)} {truth.rate(n, cur.ai)}%" for t, n in ordered]
    parts = [f"{tool_name(t)}: {n:,} ({truth.rate(n, cur.ai)}%)" for t, n in ordered]
    bars = [title.text_content() for title in dom.select(section, "svg.hbar rect title")]
    assert bars == parts
    assert dom.attr(section, "svg.hbar", "aria-label") == "AI commits by tool: " + "; ".join(parts)


def test_tool_section_hidden_without_ai_commits(client):
    page = get_ok(client, "/commits?start=2021-01-01&end=2021-01-31")
    assert "Attributed Commits by Tool" not in page


def test_table_rows_and_footer_match_sql(client, database_url):
    page = get_ok(
        client,
        "/commits?cols=fullName,totalCommits,aiAssistedCommits,aiAssistanceRate,"
        "uniqueAuthors,lastCommit,totalAdditions,totalDeletions",
    )
    repos = truth.per_repo(database_url, *D30)
    ranks = truth.name_ranks(database_url)
    names = truth.table_rows(page)
    assert names == sorted(repos, key=lambda n: (-repos[n].commits, ranks[n]))
    assert "acme/empty" not in names  # no commits: never in the table
    assert f"{len(repos)} repositories" in dom.text(page)
    table = dom.one(page, "table.repo-pivot")
    rows = dom.select(table, "tbody > tr")
    assert len(rows) == len(names)
    for row in rows:
        figures = repos[dom.text(dom.first(row, "td.repo-name > a"))]
        cells = dom.texts(row, "td.num")
        assert cells[0] == format_commit_count(figures.commits)
        assert cells[1] == format_commit_count(figures.ai)
        assert cells[2] == f"{figures.rate}%"
        assert cells[3] == f"+{format_count(figures.additions)}"
        assert cells[4] == f"-{format_count(figures.deletions)}"
        assert cells[5] == format_count(figures.authors)
        assert cells[6] == fmt_day(figures.last)
        if figures.no_stats:
            noun = "commit" if figures.no_stats == 1 else "commits"
            assert dom.select(row, f'[title="{figures.no_stats} {noun} without line stats"]')
    footer = dom.one(table, "tfoot")
    total_commits = sum(f.commits for f in repos.values())
    total_ai = sum(f.ai for f in repos.values())
    assert f"Total ({len(repos)})" in dom.text(footer)
    cells = dom.texts(footer, "td.num")
    assert cells[:3] == [
        format_commit_count(total_commits),
        format_commit_count(total_ai),
        f"{truth.rate(total_ai, total_commits)}%",
    ]
    assert cells[3:] == ["-"] * 4  # lines and authors are not summed (distinct authors cannot be)


def test_repository_links_and_github_icon(client):
    page = get_ok(client, "/commits?range=7d")
    assert dom.texts(page, 'a[href="/repositories/acme/web?range=7d"]') == ["acme/web"]
    assert dom.select(page, 'a[href="https://github.com/acme/web"]')


@pytest.mark.parametrize(
    "sort",
    [
        "fullName",
        "totalCommits",
        "aiAssistedCommits",
        "aiAssistanceRate",
        "totalAdditions",
        "totalDeletions",
        "uniqueAuthors",
        "lastCommit",
    ],
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_with_ties_by_name(client, database_url, sort, direction):
    every_column = (
        "fullName,totalCommits,aiAssistedCommits,aiAssistanceRate,totalAdditions,totalDeletions,"
        "uniqueAuthors,lastCommit"
    )
    page = get_ok(client, f"/commits?sort={sort}&dir={direction}&cols={every_column}", headers=REPO_TABLE)
    repos = truth.per_repo(database_url, *D30)
    ranks = truth.name_ranks(database_url)
    value = {
        "fullName": lambda f, n: ranks[n],
        "totalCommits": lambda f, n: f.commits,
        "aiAssistedCommits": lambda f, n: f.ai,
        "aiAssistanceRate": lambda f, n: f.rate,
        "totalAdditions": lambda f, n: f.additions,
        "totalDeletions": lambda f, n: f.deletions,
        "uniqueAuthors": lambda f, n: f.authors,
        "lastCommit": lambda f, n: f.last.timestamp(),
    }[sort]
    sign = -1 if direction == "desc" else 1
    expected = sorted(repos, key=lambda n: (sign * value(repos[n], n), ranks[n]))
    assert truth.table_rows(page) == expected
    arrow = "↓" if direction == "desc" else "↑"
    assert dom.text(dom.one(page, "thead a.sorted")).endswith(f" {arrow}")


def test_search_is_case_insensitive_and_literal(client, database_url):
    page = get_ok(client, "/commits?search=INFRA")
    assert truth.table_rows(page) == ["acme/infra_tools"]
    assert "1 repository" in page
    underscore = get_ok(client, "/commits?search=_")
    assert truth.table_rows(underscore) == ["acme/infra_tools"]  # "_" is not a wildcard
    percent = get_ok(client, "/commits?search=%25")
    assert not dom.select(percent, ".repo-pivot")
    assert "No repositories found" in percent
    backslash = get_ok(client, "/commits?search=%5C")
    assert "No repositories found" in backslash
    # the cards are range totals, unaffected by the table filter
    cur = truth.figures(database_url, *D30)
    assert card_value_title(stat_card(page, "Total Commits (30d)"))[0] == format_commit_count(cur.commits)


def test_search_keeps_links_and_export(client):
    page = get_ok(client, "/commits?range=7d&search=acme")
    hrefs = [a.get("href") for a in dom.select(page, "a[href]")]
    assert "/export/commits.csv?range=7d&search=acme" in hrefs
    assert "/commits?range=7d&search=acme&sort=fullName&dir=desc" in hrefs
    # the header box filters repositories here, keeping the range and table state
    header = dom.one(page, "form.header-search")
    box = dom.one(header, 'input[name="search"]')
    assert box.get("placeholder") == "Filter repositories..."
    assert box.get("value") == "acme" and dom.attr(header, 'input[name="range"]', "value") == "7d"
    assert box.get("hx-target") == "#repo-table" and box.get("hx-include") == "#repo-state"
    assert "Search users..." not in page


def test_columns_toggle(client):
    page = get_ok(client, "/commits?cols=fullName,totalCommits")
    head = dom.one(page, "table.repo-pivot thead")
    assert dom.texts(head, "th a") == ["Repository", "Commits ↓"]
    for label in ("AI Attributed", "AI %", "Tool Split", "Authors", "Last Commit"):
        assert label not in dom.text(head)
    head = dom.one(get_ok(client, "/commits"), "table.repo-pivot thead")
    for label in ("AI Attributed", "AI %", "Tool Split", "Authors", "Last Commit"):
        assert label in dom.text(head)
    assert "Additions" not in dom.text(head)
    # a chip (a toggle button in a GET form) toggles its column; returning to the default drops the parameter
    chips = dom.select(page, "button.chip")
    assert "/commits?cols=fullName%2CtotalCommits%2CaiAssistedCommits" in [b.get("hx-get") for b in chips]
    assert [b.get("aria-pressed") for b in chips if dom.text(b) == "Commits"] == ["true"]
    every_default = get_ok(
        client, "/commits?cols=fullName,totalCommits,aiAssistedCommits,aiAssistanceRate,toolSplit,uniqueAuthors"
    )
    unpressed = [b for b in dom.select(every_default, "button.chip") if b.get("aria-pressed") == "false"]
    back_to_default = [b for b in unpressed if b.get("hx-get") == "/commits"]
    assert len(back_to_default) == 1
    # without JS the same chip submits its form to the same URL (no hidden fields: the default columns)
    form = back_to_default[0].getparent()
    assert (form.tag, form.get("method"), form.get("action")) == ("form", "get", "/commits")
    assert dom.select(form, "input") == []


def test_day_edges_are_utc(client, database_url):
    def total(day: date) -> str:
        page = get_ok(client, f"/commits?start={day}&end={day}")
        return card_value_title(stat_card(page, "Total Commits (1d)"))[0]

    for day in (truth.EDGE_DAY, truth.EDGE_DAY + timedelta(days=1)):
        assert total(day) == format_commit_count(truth.figures(database_url, day, day).commits)
    # acme/edge: 23:59:59Z is in its own day, 00:00:00Z is in the next
    for day in (truth.EDGE_DAY, truth.EDGE_DAY + timedelta(days=1)):
        page = get_ok(client, f"/commits?start={day}&end={day}&search=edge")
        assert truth.table_rows(page) == ["acme/edge"]
        commits_cell = dom.select(page, "table.repo-pivot tbody td.num")[0]
        assert (dom.text(commits_cell), commits_cell.get("title")) == ("1", "1 commit")


def test_custom_range_is_inclusive(client, database_url):
    s, e = date(2026, 3, 1), date(2026, 3, 5)
    page = get_ok(client, f"/commits?start={s}&end={e}")
    expected = truth.figures(database_url, s, e)
    assert card_value_title(stat_card(page, "Total Commits (5d)"))[0] == format_commit_count(expected.commits)
    assert "Mar 1 – 5" in page


def test_empty_range_and_leap_day(client):
    for query in ("start=2021-01-01&end=2021-01-31", "start=2024-02-29&end=2024-02-29"):
        page = get_ok(client, f"/commits?{query}")
        assert "No commit data found" in page
        assert "Configure GitHub webhooks to start tracking commits" in page
        assert card_value_title(stat_card(page, "Total Commits"))[0] == "0"
        assert card_value_title(stat_card(page, "AI Attributed"))[0] == "0%"
    assert "Feb 29" in get_ok(client, "/commits?start=2024-02-29&end=2024-02-29")


def test_future_end_is_clamped(client, database_url):
    page = get_ok(client, "/commits?start=2026-03-01&end=2030-01-01")
    expected = truth.figures(database_url, date(2026, 3, 1), TODAY)
    assert card_value_title(stat_card(page, "Total Commits (10d)"))[0] == format_commit_count(expected.commits)


def test_page_past_the_end_shows_the_last_page(client):
    page = get_ok(client, "/commits?page=5")
    assert "acme/web" in truth.table_rows(page)
    assert not dom.select(page, ".pagination")  # a single page of ≤ 100 repositories


@pytest.mark.parametrize(
    "query, param",
    [
        ("sort=bogus", "sort"),
        ("dir=up", "dir"),
        ("cols=fullName,nope", "cols"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("start=2026-01-01", "end"),
        ("start=2026-02-30&end=2026-03-01", "start"),
        ("start=2026-03-05&end=2026-03-01", "start"),
        ("range=2w", "range"),
        ("search=" + "x" * 101, "search"),
    ],
)
def test_bad_parameters_are_400_naming_them(client, query, param):
    response = client.get(f"/commits?{query}")
    assert response.status_code == 400
    assert f"Invalid parameter &#39;{param}&#39;" in response.text
    fragment = client.get(f"/commits?{query}", headers=REPO_TABLE)
    assert fragment.status_code == 400
    assert "<html" not in fragment.text


def test_htmx_gets_only_the_fragment(client):
    body = get_ok(client, "/commits?range=7d", headers=PAGE_BODY)
    assert body.lstrip().startswith('<div id="page-body">') and "<html" not in body
    assert "Total Commits (7d)" in body and 'id="repo-table"' in body

    table = get_ok(client, "/commits?range=7d&search=acme&sort=fullName", headers=REPO_TABLE)
    assert table.lstrip().startswith('<section id="repo-table"') and "<html" not in table
    assert "Total Commits" not in table
    # the range picker outside the table is refreshed out of band so its links keep the new search and sort
    oob = dom.one(table, "#commits-range")
    assert oob.get("hx-swap-oob") == "true"
    assert "/commits?range=90d&search=acme&sort=fullName" in [a.get("href") for a in dom.select(oob, "a")]
    # the table state the header search includes
    state = dom.one(table, "#repo-state")
    assert state.get("hidden") is not None
    fields = {field.get("name"): field.get("value") for field in dom.select(state, "input")}
    assert fields["range"] == "7d" and fields["sort"] == "fullName"
    assert "search" not in fields

    full = get_ok(client, "/commits?range=7d")
    assert full.startswith("<!doctype html>") and not dom.select(full, "[hx-swap-oob]")
