"""The user detail page (/users/{email}): Overview and Raw Usage tabs, lookups by local part, fragments, bad input —
figures computed independently from the raw `usage_records` / `commits` rows (today = 2026-03-10)."""

from __future__ import annotations

import asyncio
import math
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from sqlalchemy import text

from tests import dom, seed
from tests.integration import people_truth as truth
from tests.integration.pages_support import card_titled, card_value_title, stat_card, svg_titles
from tests.integration.people_truth import tokens_title

TODAY = seed.TODAY
ADA = "ada@example.com"
ADA_PATH = "/users/ada%40example.com"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def money_title(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def short_day(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}"


def pct1(part: int, whole: int) -> str:
    tenths = math.floor(Fraction(part * 1000, whole) + Fraction(1, 2))
    return f"{tenths // 10}.{tenths % 10}%"


def delta_text(cur: Decimal | int, prev: Decimal | int) -> str | None:
    if prev == 0:
        return None
    change = (Fraction(cur) - Fraction(prev)) / Fraction(prev) * 100
    if abs(change) < 3:
        return None
    tenths = math.floor(abs(change) * 10 + Fraction(1, 2))
    number = f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}"
    return f"{'↑' if change >= 0 else '↓'} {number}%"


def card(page: str, label: str) -> dict[str, str | None]:
    """The stat card whose label starts with `label`: value, title, delta and sub texts ({} when there is none)."""
    try:
        found = stat_card(page, label)
    except AssertionError:
        return {}
    value, title = card_value_title(found)
    delta = dom.select(found, ".stat-sub span.delta")
    subs = [span for span in dom.select(found, ".stat-sub span") if not span.attrib]
    return {
        "title": title or "",
        "value": value,
        "delta": delta[0].text_content() if delta else None,
        "sub": subs[0].text_content() if subs else None,
    }


def mine(records, email, start, end):
    return [r for r in records if r.email == email and start <= r.date <= end]


# --- overview ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"range": "7d"}, {"start": "2026-01-15", "end": "2026-02-14"}])
def test_overview_cards_match_the_raw_rows(page_client, records, commits, params):
    page = page_client.get(ADA_PATH, params=params)
    assert page.status_code == 200
    if "start" in params:
        start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    else:
        start = TODAY - timedelta(days=(7 if params else 30) - 1)
        end = TODAY
    n = (end - start).days + 1
    rows = mine(records, ADA, start, end)
    previous = mine(records, ADA, start - timedelta(days=n), start - timedelta(days=1))
    tokens, cost = sum(r.tok for r in rows), sum((r.cost for r in rows), Decimal(0))
    prev_tokens, prev_cost = sum(r.tok for r in previous), sum((r.cost for r in previous), Decimal(0))
    days = len({r.date for r in rows})

    total = card(page.text, f"Total Tokens ({n}d)")
    assert total["title"] == tokens_title(tokens)
    assert total["delta"] == delta_text(tokens, prev_tokens)
    assert total["sub"] == f"across {days} days"
    cost_card = card(page.text, f"Total Cost ({n}d)")
    assert cost_card["title"] == money_title(cost)
    assert cost_card["delta"] == delta_text(cost, prev_cost)
    assert cost_card["sub"] == money_title(cost / max(days, 1)) + "/day avg"
    avg = card(page.text, f"Avg per Day ({n}d)")
    assert avg["title"] == tokens_title(math.floor(Fraction(tokens, days) + Fraction(1, 2))) + " per active day"
    total_commits, ai_commits = truth.user_commits(commits, ADA, start, end)
    ai_card = card(page.text, f"AI Attributed ({n}d)")
    if total_commits:
        assert ai_card["value"] == f"{math.floor(Fraction(ai_commits * 100, total_commits) + Fraction(1, 2))}%"
        assert ai_card["sub"] == f"{ai_commits} of {total_commits} commits"
    else:
        assert ai_card == {}


def test_tools_models_pattern_and_activity(page_client, records):
    start = TODAY - timedelta(days=89)
    page = page_client.get(ADA_PATH, params={"range": "90d"}).text
    rows = mine(records, ADA, start, TODAY)
    total = sum(r.tok for r in rows)
    by_tool: dict[str, int] = defaultdict(int)
    tool_cost: dict[str, Decimal] = defaultdict(Decimal)
    by_model: dict[tuple[str, str], int] = defaultdict(int)
    by_weekday = [0] * 7
    for r in rows:
        by_tool[r.tool] += r.tok
        tool_cost[r.tool] += r.cost
        by_model[(r.model, r.tool)] += r.tok
        by_weekday[(r.date.weekday() + 1) % 7] += r.tok
    names = {"claude_code": "Claude Code", "cursor": "Cursor", "codex": "Codex"}
    tool_rows = []
    for line in dom.select(page, ".user-tools .row-line"):
        label, share = dom.first(line, "span"), dom.one(line, "small")
        figures = dom.select(line, "span.num > span[title]")
        tool_rows.append(
            (
                dom.text(label).removesuffix(dom.text(share)).strip(),
                dom.text(share).removesuffix(" of usage"),
                figures[0].get("title"),
                figures[1].get("title"),
            )
        )
    expected_tools = sorted(by_tool, key=lambda t: (-by_tool[t], t))
    assert [(name, share, tok, money) for name, share, tok, money in tool_rows] == [
        (names[t], pct1(by_tool[t], total), tokens_title(by_tool[t]), money_title(tool_cost[t])) for t in expected_tools
    ]
    # legend of the daily chart: actual per-tool totals
    for t in expected_tools:
        assert dom.select(page, f'span[title="{tokens_title(by_tool[t])}"]')
    model_rows = [
        (
            *dom.first(line, "span[title]").get("title").split(" · "),
            dom.text(dom.one(line, "span.num > small")),
            dom.first(line, "span.num > span[title]").get("title"),
        )
        for line in dom.select(page, ".model-row .row-line")
    ]
    expected_models = sorted(by_model, key=lambda k: (-by_model[k], k[0], k[1]))[:9]
    assert model_rows == [
        (m, names[t], pct1(by_model[(m, t)], total), tokens_title(by_model[(m, t)])) for m, t in expected_models
    ]
    weekly = card_titled(page, "Weekly Pattern")
    days = [re.fullmatch(r"(Sun|Mon|Tue|Wed|Thu|Fri|Sat): ([\d,]+) tokens?", t) for t in svg_titles(weekly)]
    pattern = [day.groups() for day in days if day]
    assert pattern == [
        (day, f"{value:,}")
        for day, value in zip(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"], by_weekday, strict=True)
    ]
    assert dom.select(weekly, ".weekend")
    first, last = min(r.date for r in rows), max(r.date for r in rows)
    activity = dict(zip(dom.texts(page, "dl.kv dt"), dom.select(page, "dl.kv dd"), strict=True))
    first_active = activity["First Active"]
    assert (first_active.get("title"), dom.text(first_active)) == (
        f"{MONTHS[first.month - 1]} {first.day}, {first.year}",
        short_day(first),
    )
    assert dom.text(activity["Last Active"]) == short_day(last)
    assert dom.text(activity["Days Active"]) == str(len({r.date for r in rows}))
    assert "Weekly Usage" not in page and "Daily Usage (90d)" in page
    assert "Weekly Usage (365d)" in page_client.get(ADA_PATH, params={"range": "1y"}).text


def test_lifetime_header(page_client, records):
    rows = [r for r in records if r.email == ADA]
    per_tool: dict[str, int] = defaultdict(int)
    per_day: dict[date, int] = defaultdict(int)
    for r in rows:
        per_tool[r.tool] += r.tok
        per_day[r.date] += r.tok
    favorite = min(per_tool, key=lambda t: (-per_tool[t], t))
    record = min(per_day, key=lambda d: (-per_day[d], d))
    page = page_client.get(ADA_PATH, params={"range": "7d"}).text
    assert f'<span title="{tokens_title(sum(r.tok for r in rows))}">Lifetime Tokens' in page
    assert f'<span title="{money_title(sum((r.cost for r in rows), Decimal(0)))}">Lifetime Spend' in page
    assert (
        f"Preferred Tool <b>{ {'codex': 'Codex', 'cursor': 'Cursor', 'claude_code': 'Claude Code'}[favorite] }</b>"
        in page
    )
    record_title = f"{MONTHS[record.month - 1]} {record.day}, {record.year}: {tokens_title(per_day[record])}"
    assert f'<span title="{record_title}">Record Day' in page
    assert "Tracking <b>since Feb &#39;24</b>" in page  # the 2024-02-29 leap-day row
    assert '<a class="back-link" href="/team?range=7d">← Team</a>' in page


def test_leap_day_and_no_usage_in_range(page_client):
    leap = page_client.get(ADA_PATH, params={"start": "2024-02-29", "end": "2024-02-29"}).text
    assert card(leap, "Total Tokens (1d)")["title"] == "31 tokens"
    assert card(leap, "Total Tokens (1d)")["sub"] == "across 1 day"
    quiet = page_client.get(ADA_PATH, params={"start": "2025-01-01", "end": "2025-01-31"})
    assert quiet.status_code == 200
    assert "No usage in this range" in quiet.text and "Last usage was on Mar 10, 2026" in quiet.text
    assert card(quiet.text, "Total Tokens (31d)")["value"] == "0"
    assert card(quiet.text, "Total Cost (31d)")["value"] == "$0.00"
    assert "Lifetime Tokens" in quiet.text


@pytest.fixture()
def extra_rows(seeded_module, database_url):
    """A person with 11 (model, tool) pairs, and one with only commits at the UTC day edges; removed afterwards."""
    from abacus.db import create_engine, session_factory
    from abacus.records import UsageRow
    from abacus.rollups import rebuild_commit_rollup
    from abacus.sync.usage_store import store_usage

    many = "many@example.com"
    edge = "edge@example.com"

    async def add() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await store_usage(
                db,
                [
                    UsageRow(
                        date=TODAY - timedelta(days=1),
                        identity=f"cursor:{many}",
                        tool="cursor",
                        model=f"model-{i:02d}",
                        raw_model=f"model-{i:02d}",
                        input_tokens=100 + i,
                        output_tokens=0,
                        cost=Decimal("0.01"),
                        timestamp_ms=i,
                        organization_id="cursor:default",
                    )
                    for i in range(11)
                ],
            )
            for sha, when, tool in (
                ("edge1", datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC), "cursor"),
                ("edge2", datetime(2026, 3, 5, 0, 0, 0, tzinfo=UTC), None),
                ("edge3", datetime(2026, 3, 4, 0, 0, 0, tzinfo=UTC), None),
            ):
                await db.execute(
                    text(
                        "INSERT INTO commits (repo_id, commit_id, author_email, committed_at, ai_tool) "
                        "SELECT id, :sha, :email, :at, :tool FROM repositories WHERE full_name = 'acme/web'"
                    ),
                    {"sha": sha, "email": edge, "at": when, "tool": tool},
                )
            await rebuild_commit_rollup(db)
        await engine.dispose()

    async def remove() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            for table in ("usage_records", "usage_daily", "usage_user_daily"):
                await conn.execute(text(f"DELETE FROM {table} WHERE email = :e"), {"e": many})
            await conn.execute(text("DELETE FROM commits WHERE author_email = :e"), {"e": edge})
            await rebuild_commit_rollup(conn)
        await engine.dispose()

    asyncio.run(add())
    yield many, edge
    asyncio.run(remove())


def test_models_used_shows_nine_and_counts_the_rest(page_client, extra_rows):
    page = page_client.get("/users/many%40example.com").text
    titles = [span.get("title") for span in dom.select(page, ".model-row .row-line > span[title]")]
    shown = [title.removesuffix(" · Cursor") for title in titles if re.fullmatch(r"model-\d\d · Cursor", title)]
    assert shown == [f"model-{i:02d}" for i in range(10, 1, -1)]  # tokens desc: 110 … 102
    assert "+2 more models" in page


def test_commit_window_is_utc_and_inclusive(page_client, extra_rows):
    page = page_client.get("/users/edge%40example.com", params={"start": "2026-03-04", "end": "2026-03-04"})
    assert page.status_code == 200  # known through commits only: zeroed cards, no usage
    ai = card(page.text, "AI Attributed (1d)")
    assert ai["value"] == "50%" and ai["sub"] == "1 of 2 commits"  # 00:00:00 and 23:59:59 in, next 00:00:00 out
    assert "No usage in this range" in page.text and "Lifetime Tokens" not in page.text


# --- lookups ------------------------------------------------------------------------------------------------------


def test_local_part_and_case_redirect_to_the_full_email(page_client):
    response = page_client.get("/users/ada?range=7d", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/users/ada%40example.com?range=7d"
    upper = page_client.get("/users/Ada%40Example.COM", follow_redirects=False)
    assert upper.status_code == 301 and upper.headers["location"] == ADA_PATH


@pytest.mark.parametrize("path", ["/users/nobody", "/users/nobody%40example.com", "/users/unmapped:claude_code:x"])
def test_unknown_users_are_404(page_client, path):
    response = page_client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert "User not found" in response.text


@pytest.fixture()
def second_ada(seeded_module, database_url):
    async def run(statement: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(statement))
        await engine.dispose()

    asyncio.run(
        run(
            "INSERT INTO identity_mappings (source, external_id, email) VALUES ('cursor', 'ada-x', 'ada@other.example')"
        )
    )
    yield
    asyncio.run(run("DELETE FROM identity_mappings WHERE external_id = 'ada-x'"))


def test_ambiguous_local_part_lists_the_candidates(page_client, second_ada):
    response = page_client.get("/users/ada?range=7d", follow_redirects=False)
    assert response.status_code == 404
    assert "Ambiguous user name — use the full email" in response.text
    assert '<a class="mono" href="/users/ada%40example.com?range=7d">ada@example.com</a>' in response.text
    assert '<a class="mono" href="/users/ada%40other.example?range=7d">ada@other.example</a>' in response.text


# --- raw usage ----------------------------------------------------------------------------------------------------


def raw_rows(page: str) -> list[tuple[str, str, str, str, str]]:
    """(date, shown day, tool, model, exact tokens) of each row of the raw usage table."""
    return [
        (when.get("title"), dom.text(when), dom.text(tool), model.get("title"), tokens.get("title"))
        for when, tool, model, tokens, _cost in (
            dom.select(row, "td") for row in dom.select(page, "#raw-usage tbody tr")
        )
    ]


def option_values(page: str, name: str) -> list[str]:
    """The non-empty values of the raw usage filter <select name=…>, in order."""
    return [o.get("value") for o in dom.select(page, f'#raw-usage select[name="{name}"] option') if o.get("value")]


def test_raw_usage_lists_rows_newest_first(page_client, records):
    start = TODAY - timedelta(days=29)
    page = page_client.get(ADA_PATH, params={"tab": "raw"})
    expected = sorted(mine(records, ADA, start, TODAY), key=lambda r: (r.date, r.id), reverse=True)
    assert f"{len(expected)} records" in page.text
    names = {"claude_code": "Claude Code", "cursor": "Cursor", "codex": "Codex"}
    assert raw_rows(page.text) == [
        (r.date.isoformat(), short_day(r.date), names[r.tool], r.model, tokens_title(r.tok)) for r in expected[:50]
    ]
    assert "Page 1 of 2" in page.text
    second = page_client.get(ADA_PATH, params={"tab": "raw", "page": "2"})
    assert [row[4] for row in raw_rows(second.text)] == [tokens_title(r.tok) for r in expected[50:100]]
    tools = sorted({r.tool for r in expected})
    models = sorted({r.model for r in expected})
    assert option_values(page.text, "tool") == tools
    assert option_values(page.text, "model") == models


def test_raw_usage_filters_and_old_dates(page_client, records):
    page = page_client.get(
        ADA_PATH,
        params={"tab": "raw", "start": "2020-01-01", "end": TODAY.isoformat(), "tool": "cursor", "model": "gpt-5"},
    )
    expected = sorted(
        (r for r in records if r.email == ADA and r.tool == "cursor" and r.model == "gpt-5"),
        key=lambda r: (r.date, r.id),
        reverse=True,
    )
    assert f"{len(expected)} records" in page.text
    assert 'option value="cursor" selected' in page.text and 'option value="gpt-5" selected' in page.text
    rows = raw_rows(page.text)
    assert rows[-1][:2] == ("2024-02-29", "Feb 29, 2024")  # outside the current year: with the year
    assert rows[0][1] == short_day(expected[0].date)
    past_end = page_client.get(ADA_PATH, params={"tab": "raw", "page": "99"})
    assert past_end.status_code == 200 and raw_rows(past_end.text)


def test_raw_usage_empty_state(page_client):
    page = page_client.get(ADA_PATH, params={"tab": "raw", "start": "2025-01-01", "end": "2025-01-02"})
    assert "No usage records found" in page.text and "0 records" in page.text


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("tab=stats", "tab"),
        ("tab=raw&tool=windsurf", "tool"),
        ("tab=raw&model=nope", "model"),
        ("tab=raw&page=0", "page"),
        ("tab=raw&page=x", "page"),
        ("start=2026-03-01", "end"),
        ("end=2026-03-01", "start"),
        ("start=2026-03-05&end=2026-03-01", "start"),
    ],
)
def test_bad_parameters_are_400_naming_them(page_client, query, param):
    response = page_client.get(f"{ADA_PATH}?{query}")
    assert response.status_code == 400
    assert f"Invalid parameter &#39;{param}&#39;" in response.text


def test_htmx_requests_get_only_their_fragment(page_client):
    for target, query in (("page-body", "range=7d"), ("user-tab", "tab=raw"), ("raw-usage", "tab=raw&tool=cursor")):
        response = page_client.get(f"{ADA_PATH}?{query}", headers={"HX-Request": "true", "HX-Target": target})
        assert response.status_code == 200
        assert response.text.lstrip().startswith(f'<div id="{target}"'), target
        assert "<html" not in response.text
    tab = page_client.get(ADA_PATH, params={"tab": "raw"}).text
    assert 'hx-trigger="change"' in tab and 'hx-target="#raw-usage"' in tab
    assert 'href="/users/ada%40example.com" hx-get="/users/ada%40example.com" hx-target="#user-tab"' in tab


@pytest.mark.parametrize("params", [{}, {"range": "7d"}, {"tab": "raw", "range": "90d"}])
def test_a_repeated_request_takes_the_rendered_body(page_client, records, params):
    """The second full-page request renders only the shell around the body the first one rendered: the same HTML
    (but for the random tip)."""

    def without_tip(html: str) -> str:
        return "\n".join(line for line in html.splitlines() if 'class="tipbar"' not in line)

    first, second = page_client.get(ADA_PATH, params=params), page_client.get(ADA_PATH, params=params)
    assert first.status_code == second.status_code == 200
    assert any(name == "pages/user.html" for name, _ in page_client.app.state.rendered_bodies.items)
    assert without_tip(first.text) == without_tip(second.text)
