"""The Team page (/team), its fragments and its CSV export, against figures computed independently from the raw
`usage_records` rows of the seed (today = 2026-03-10)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import text

from tests import dom, seed
from tests.integration import people_truth as truth
from tests.integration.pages_support import card_value_title, sql_rows, stat_card
from tests.integration.people_truth import tokens_title

TODAY = seed.TODAY
START_30D = TODAY - timedelta(days=29)
ALL_COLS = (
    "email,totalTokens,totalCost,split,claudeCodeTokens,cursorTokens,tool_codex,daysActive,avgTokensPerDay,lastActive"
)


def money_title(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


class TableParser(HTMLParser):
    """Cells of the table inside #team-table: header labels, body rows and the footer, as (text, title)."""

    def __init__(self) -> None:
        super().__init__()
        self.section: str | None = None
        self.head: list[str] = []
        self.rows: list[list[tuple[str, str | None]]] = []
        self.foot: list[tuple[str, str | None]] = []
        self._cell: list[str] | None = None
        self._title: str | None = None
        self._svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "tr" and self.section == "tbody":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._title = [], dict(attrs).get("title")
        elif tag == "svg":
            self._svg += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg -= 1
        elif tag in ("td", "th") and self._cell is not None:
            cell = (" ".join("".join(self._cell).split()), self._title)
            if self.section == "thead":
                self.head.append(cell[0])
            elif self.section == "tbody":
                self.rows[-1].append(cell)
            elif self.section == "tfoot":
                self.foot.append(cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._svg:
            self._cell.append(data.replace("ⓘ", ""))  # a header's definition link is not part of its label


def parse_table(html: str) -> TableParser:
    parser = TableParser()
    parser.feed(html)
    return parser


def active_users_card(html: str) -> int:
    value = dom.first(stat_card(html, "Active Users ("), ".stat-value")
    assert dom.text(dom.one(value, "small")) == "users"
    return int(card_value_title(stat_card(html, "Active Users ("))[0].replace(",", ""))


# --- numbers --------------------------------------------------------------------------------------------------


def test_default_table_matches_the_raw_rows(page_client, records):
    page = page_client.get("/team")
    assert page.status_code == 200
    people = truth.team(records, START_30D, TODAY, TODAY)
    assert active_users_card(page.text) == len(people)
    table = parse_table(page.text)
    assert table.head == ["User", "Total Tokens ↓", "Cost", "Tools", "Last Active"]
    assert [row[0][0] for row in table.rows] == truth.sorted_emails(people, "totalTokens", True)
    for row in table.rows:
        p = people[row[0][0]]
        assert row[1][1] == tokens_title(p["total_tokens"])
        assert row[2][1] == money_title(p["total_cost"])
        assert row[4][0] == p["last_active"].isoformat()
    assert table.foot[0][0] == f"Total ({len(people)})"
    assert table.foot[1][1] == tokens_title(sum(p["total_tokens"] for p in people.values()))
    assert table.foot[2][1] == money_title(sum((p["total_cost"] for p in people.values()), Decimal(0)))
    assert table.foot[3][0] == "-" and table.foot[4][0] == "-"
    # unmapped usage (the CI deploy key) is spend but not a person
    assert not any(row[0][0].startswith("unmapped:") for row in table.rows)


def test_every_column_including_other_tools(page_client, records):
    page = page_client.get("/team", params={"cols": ALL_COLS, "range": "90d"})
    people = truth.team(records, TODAY - timedelta(days=89), TODAY, TODAY)
    table = parse_table(page.text)
    assert table.head[:7] == ["User", "Total Tokens ↓", "Cost", "Tools", "Claude Code", "Cursor", "Codex"]
    assert table.head[7:] == ["Days Active", "Avg/Day", "Last Active"]
    for row in table.rows:
        p = people[row[0][0]]
        assert [row[4][1], row[5][1], row[6][1]] == [
            tokens_title(p["claude_code_tokens"]),
            tokens_title(p["cursor_tokens"]),
            tokens_title(p["tools"].get("codex", 0)),
        ]
        assert row[7][0] == str(p["days_active"])
        assert row[8][1] == tokens_title(p["avg_tokens_per_day"]) + " per active day"
    foot = table.foot
    for index, tool in ((4, "claude_code"), (5, "cursor"), (6, "codex")):
        assert foot[index][1] == tokens_title(sum(p["tools"].get(tool, 0) for p in people.values()))
    assert [foot[7][0], foot[8][0], foot[9][0]] == ["-", "-", "-"]
    assert "Codex" in page.text and re.search(r'aria-pressed="true"[^>]*>Codex</button>', page.text)


@pytest.mark.parametrize(
    "sort",
    ["email", "totalCost", "cursorTokens", "firstActive", "lastActive", "daysActive", "avgTokensPerDay", "tool_codex"],
)
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_breaks_ties_by_email(page_client, records, sort, direction):
    page = page_client.get("/team", params={"sort": sort, "dir": direction, "range": "7d"})
    assert page.status_code == 200
    people = truth.team(records, TODAY - timedelta(days=6), TODAY, TODAY)
    assert [row[0][0] for row in parse_table(page.text).rows] == truth.sorted_emails(people, sort, direction == "desc")


def test_sort_header_flips_the_active_column_and_starts_new_ones_desc(page_client):
    html = page_client.get("/team", params={"sort": "totalCost", "dir": "desc"}).text
    assert 'href="/team?sort=totalCost&amp;dir=asc"' in html
    assert 'href="/team?sort=totalTokens&amp;dir=desc"' in html
    assert 'aria-sort="descending"' in html


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("ADA", ["ada@example.com"]),
        ("n_", ["alan_x@example.com"]),  # "_" is literal: "linus@" or "ken@" would match a wildcard
        ("%", []),
        ("\\", []),
        ("example.COM", None),  # everybody
    ],
)
def test_search_is_case_insensitive_and_literal(page_client, records, search, expected):
    page = page_client.get("/team", params={"search": search})
    assert page.status_code == 200
    people = truth.team(records, START_30D, TODAY, TODAY, search=search)
    if expected is not None:
        assert sorted(people) == expected
    assert active_users_card(page.text) == len(people)
    table = parse_table(page.text)
    assert sorted(row[0][0] for row in table.rows) == sorted(people)
    if people:
        assert table.foot[1][1] == tokens_title(sum(p["total_tokens"] for p in people.values()))
    else:
        assert "No users found" in page.text


def test_custom_range_is_inclusive_and_the_leap_day_counts(page_client, records):
    day = date(2026, 3, 1)
    page = page_client.get("/team", params={"start": day.isoformat(), "end": day.isoformat()})
    people = truth.team(records, day, day, TODAY)
    assert active_users_card(page.text) == len(people) > 0
    assert "Active Users (1d)" in page.text
    leap = page_client.get("/team", params={"start": "2024-02-29", "end": "2024-02-29", "cols": ALL_COLS})
    rows = parse_table(leap.text).rows
    assert [r[0][0] for r in rows] == ["ada@example.com"]
    assert rows[0][1][1] == tokens_title(31)
    assert rows[0][9][0] == "2026-03-10"  # Last Active is all time, not range-bound


def test_empty_range_says_what_to_do(page_client):
    page = page_client.get("/team", params={"start": "2021-01-01", "end": "2021-01-31"})
    assert page.status_code == 200
    assert active_users_card(page.text) == 0
    assert "No users found" in page.text and "pick a longer range" in page.text


def test_page_totals_cover_the_whole_population(page_app, seeded_module, records, database_url):
    """100 rows per page on the page; with a small page size the footer still sums every matching person."""
    from abacus.db import create_engine, session_factory
    from abacus.domain.periods import DateRange
    from abacus.queries.team import TeamQuery, team_page

    async def run():
        engine = create_engine(database_url)
        async with session_factory(engine)() as db:
            query = TeamQuery(rng=DateRange(START_30D, TODAY), today=TODAY)
            second = await team_page(db, query, 2, page_size=4)
            past_end = await team_page(db, query, 9, page_size=4)
        await engine.dispose()
        return second, past_end

    second, past_end = asyncio.run(run())
    people = truth.team(records, START_30D, TODAY, TODAY)
    ordered = truth.sorted_emails(people, "totalTokens", True)
    assert (second.page, second.pages) == (2, 2)
    assert [m.email for m in second.members] == ordered[4:]
    assert second.totals.count == len(people)
    assert second.totals.total_tokens == sum(p["total_tokens"] for p in people.values())
    assert second.totals.tool_tokens["cursor"] == sum(p["cursor_tokens"] for p in people.values())
    assert past_end.page == 2


def test_page_number_past_the_end_shows_the_last_page(page_client):
    page = page_client.get("/team", params={"page": "7"})
    assert page.status_code == 200
    assert len(parse_table(page.text).rows) == active_users_card(page.text)


# --- controls, fragments, redirects ------------------------------------------------------------------------------


def test_header_search_filters_in_place_and_chips_toggle_columns(page_client):
    html = page_client.get("/team", params={"range": "7d", "sort": "totalCost"}).text
    assert 'placeholder="Filter users..."' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html and 'hx-target="#team-table"' in html
    # the search form's hidden state lives inside #team-table so every swap refreshes it
    assert '<input type="hidden" name="range" value="7d" form="team-search">' in html
    assert '<input type="hidden" name="sort" value="totalCost" form="team-search">' in html
    assert '<span class="chip on disabled" aria-disabled="true" title="Always shown">User</span>' in html
    assert (
        'hx-get="/team?range=7d&amp;sort=totalCost&amp;cols=email%2CtotalTokens%2CtotalCost%2Csplit%2CcursorTokens'
        '%2ClastActive"' in html
    )
    assert 'href="/export/team.csv?range=7d"' in html
    without_cost = page_client.get("/team", params={"cols": "totalTokens,lastActive"}).text
    assert parse_table(without_cost).head == ["User", "Total Tokens ↓", "Last Active"]


def test_htmx_requests_get_only_their_fragment(page_client):
    table = page_client.get("/team?search=ada", headers={"HX-Request": "true", "HX-Target": "team-table"})
    assert table.status_code == 200
    assert table.text.lstrip().startswith('<div id="team-table">') and "<html" not in table.text
    body = page_client.get("/team?range=7d", headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert body.text.lstrip().startswith('<div id="page-body">') and "<html" not in body.text
    full = page_client.get("/team?range=7d", headers={"HX-Request": "true", "HX-Target": "elsewhere"})
    assert "<html" in full.text


def test_users_redirects_to_team_keeping_the_query(page_client):
    response = page_client.get("/users?range=7d&search=ada", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/team?range=7d&search=ada"
    assert page_client.get("/users", follow_redirects=False).headers["location"] == "/team"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("sort=bogus", "sort"),
        ("sort=split", "sort"),
        ("dir=up", "dir"),
        ("cols=email,nope", "cols"),
        ("cols=tool_windsurf", "cols"),
        ("page=0", "page"),
        ("page=two", "page"),
        ("search=" + "x" * 101, "search"),
        ("start=2026-01-01", "end"),
        ("start=2026-02-30&end=2026-03-01", "start"),
        ("range=2w", "range"),
    ],
)
def test_bad_parameters_are_400_naming_them(page_client, query, param):
    for url in (f"/team?{query}", f"/export/team.csv?{query}"):
        if url.startswith("/export") and param in ("sort", "dir", "cols", "page"):
            continue
        response = page_client.get(url)
        assert response.status_code == 400, url
        assert f"Invalid parameter &#39;{param}&#39;" in response.text


# --- CSV export ---------------------------------------------------------------------------------------------------

CSV_HEADER = [
    "email",
    "total_tokens",
    "total_cost",
    "claude_code_tokens",
    "cursor_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "first_active",
    "last_active",
    "days_active",
    "avg_tokens_per_day",
    "tool_count",
    "has_thinking_models",
    "lines_added",
    "acceptance_rate",
    "ai_active_days",
    "cost_per_1k_lines",
    "provisional",
]


def csv_cost(value: Decimal) -> str:
    text_value = f"{value.quantize(Decimal('0.000001')):f}".rstrip("0").rstrip(".")
    return text_value or "0"


def test_team_csv_matches_the_raw_rows(page_client, records):
    response = page_client.get("/export/team.csv", params={"range": "90d"})
    start = TODAY - timedelta(days=89)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="team_{start}_to_{TODAY}.csv"'
    assert "\r\n" not in response.text
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == [*CSV_HEADER[:5], "codex_tokens", *CSV_HEADER[5:]]  # a column per other tool present
    people = truth.team(records, start, TODAY, TODAY)
    assert [r[0] for r in rows[1:]] == truth.sorted_emails(people, "totalTokens", True)
    for r in rows[1:]:
        p = people[r[0]]
        assert r[1:] == [
            str(p["total_tokens"]),
            csv_cost(p["total_cost"]),
            str(p["claude_code_tokens"]),
            str(p["cursor_tokens"]),
            str(p["tools"].get("codex", 0)),
            str(p["input_tokens"]),
            str(p["output_tokens"]),
            str(p["cache_read_tokens"]),
            str(p["cache_write_tokens"]),
            p["first_active"].isoformat(),
            p["last_active"].isoformat(),
            str(p["days_active"]),
            str(p["avg_tokens_per_day"]),
            str(p["tool_count"]),
            "true" if p["has_thinking_models"] else "false",
            "0",  # the seed has no activity: no lines, no rate, no AI active days, no cost per 1k lines
            "",
            "0",
            "",
            "false",  # and no OTel rows: nothing provisional (M-PROVISIONAL)
        ]
    alias = page_client.get("/api/v1/export/team.csv", params={"range": "90d"})
    assert alias.status_code == 200 and alias.text == response.text


def test_team_csv_defaults_to_30_days_and_keeps_the_search(page_client, records):
    response = page_client.get("/export/team.csv", params={"search": "N_X"})
    assert f'filename="team_{START_30D}_to_{TODAY}.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert [r[0] for r in rows[1:]] == ["alan_x@example.com"]
    empty = page_client.get("/export/team.csv", params={"start": "2021-01-01", "end": "2021-01-02"})
    assert empty.text == ",".join(CSV_HEADER) + "\n"


@pytest.fixture()
def awkward_emails(seeded_module, database_url):
    """Two extra people whose emails need CSV quoting and the formula guard; removed afterwards."""
    from abacus.db import create_engine, session_factory
    from abacus.records import UsageRow
    from abacus.sync.usage_store import store_usage

    emails = ["-cmd@example.com", 'a,"b"@example.com']

    async def add() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await store_usage(
                db,
                [
                    UsageRow(
                        date=TODAY,
                        identity=f"cursor:{e}",
                        tool="cursor",
                        model="gpt-5",
                        raw_model="gpt-5",
                        input_tokens=5,
                        output_tokens=5,
                        cost=Decimal("0.5"),
                        timestamp_ms=i,
                        organization_id="cursor:default",
                    )
                    for i, e in enumerate(emails)
                ],
            )
        await engine.dispose()

    async def remove() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            for table in ("usage_records", "usage_daily", "usage_user_daily"):
                await conn.execute(text(f"DELETE FROM {table} WHERE email = ANY(:e)"), {"e": emails})
        await engine.dispose()

    asyncio.run(add())
    yield emails
    asyncio.run(remove())


def test_team_csv_quotes_and_guards_text_cells(page_client, awkward_emails, database_url):
    assert sql_rows(database_url, "SELECT email FROM usage_daily WHERE email = '-cmd@example.com'")
    response = page_client.get("/export/team.csv", params={"range": "7d", "search": "@example"})
    lines = response.text.splitlines()
    assert any(line.startswith("'-cmd@example.com,10,0.5,0,10,") for line in lines)
    assert any(line.startswith('"a,""b""@example.com",10,0.5,0,10,') for line in lines)
