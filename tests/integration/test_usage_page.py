"""Usage page (pages.md §3) and its CSV export (§12) over the seed data, against independent SQL over
`usage_records`; today = seed.TODAY."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
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
from abacus.domain.periods import delta, round_half_up
from abacus.domain.tools import tool_name
from tests import dom, seed
from tests.integration import usage_truth as truth
from tests.integration.pages_support import (
    card_delta,
    card_titled,
    card_value_title,
    get_ok,
    hrefs,
    sql_rows,
    stat_card,
    svg_titles,
)

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)


@pytest.fixture(scope="module")
def models_view(page_client) -> str:
    return get_ok(page_client, "/usage")


@pytest.fixture(scope="module")
def tools_view(page_client) -> str:
    return get_ok(page_client, "/usage", params={"view": "tools"})


def test_stat_cards(models_view, database_url):
    s, e = D30
    cur, prev = truth.totals(database_url, s, e), truth.totals(database_url, *truth.previous(s, e))
    card = stat_card(models_view, "Total Tokens (30d)")
    assert card_value_title(card) == (format_tokens(cur.tokens), format_tokens_exact(cur.tokens))
    assert card_delta(card) == (d.text if (d := delta(cur.tokens, prev.tokens)) else None)
    card = stat_card(models_view, "Estimated Cost (30d)")
    assert card_value_title(card) == (format_money(cur.cost), format_money_exact(cur.cost))
    assert card_delta(card) == (d.text if (d := delta(cur.cost, prev.cost)) else None)
    top_model, top_tokens, _ = truth.model_tokens(database_url, s, e)[0]
    card = stat_card(models_view, "Top Model (30d)")
    assert card_value_title(card) == (display_model_name(top_model), format_tokens_exact(top_tokens))
    assert f"{format_tokens(top_tokens)} tokens" in dom.text(card)


def test_model_breakdown_table(models_view, database_url):
    s, e = D30
    cur = truth.totals(database_url, s, e)
    models = truth.model_tokens(database_url, s, e)
    pairs = truth.model_tool_tokens(database_url, s, e)
    rows = [
        (dom.text(name), tokens.get("title"), cost.get("title"), dom.text(share), svg_titles(split))
        for name, tokens, cost, share, split in (
            dom.select(row, "td") for row in dom.select(models_view, "table.model-table tbody tr")
        )
    ]
    assert [r[:4] for r in rows] == [
        (
            display_model_name(m),
            format_tokens_exact(t),
            format_money_exact(c),
            format_percent_int(Fraction(t * 100, cur.tokens)),
        )
        for m, t, c in models
    ]
    for (model, tokens, _), row in zip(models, rows, strict=True):
        for (m, tool), value in pairs.items():
            if m == model:
                share = format_percent_int(Fraction(value * 100, tokens))
                assert f"{tool_name(tool)}: {format_tokens(value)} ({share})" in row[4]


def test_model_chart(models_view, database_url):
    s, e = D30
    models = truth.model_tokens(database_url, s, e)
    top = [m for m, _, _ in models[:6]]
    chart = dom.one(models_view, "#usage-chart")
    assert "Model Usage (30d)" in dom.text(chart)
    legend = [span.get("title") for span in dom.select(chart, ".legend > span") if dom.select(span, 'svg[width="9"]')]
    assert legend == [f"{display_model_name(m)}: {format_tokens_exact(t)}" for m, t, _ in models[:4]]
    more = [display_model_name(m) for m in top[4:]] + (["Other models"] if len(models) > 6 else [])
    more_label = dom.one(chart, ".legend-more")
    assert (more_label.get("title"), dom.text(more_label)) == (", ".join(more), f"+{len(more)} more")
    titles = [t for t in svg_titles(chart) if not t.startswith("Trend")]
    assert len(titles) == 30  # zero-filled, one bar per day
    day = TODAY - timedelta(days=3)
    per_model = {m: t for (d, m), t in _daily_models(database_url, s, e).items() if d == day}
    lines = titles[(day - s).days].split("\n")
    assert lines[0] == fmt_day(day)
    expected = [f"{display_model_name(m)}: {format_tokens(per_model[m])}" for m in top if per_model.get(m)]
    other = sum(v for m, v in per_model.items() if m not in top)
    assert lines[1:] == expected + ([f"Other models: {format_tokens(other)}"] if other else [])


def _daily_models(db, s, e):
    rows = sql_rows(
        db,
        f"SELECT date, model, SUM({truth.TOK}) FROM usage_records WHERE date BETWEEN :s AND :e GROUP BY date, model",
        s=s,
        e=e,
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def test_model_chart_weekly_over_90_days(page_client, database_url):
    page = page_client.get("/usage", params={"range": "1y"}).text
    chart = dom.one(page, "#usage-chart")
    titles = [t for t in svg_titles(chart) if t.startswith("Week of")]
    s = TODAY - timedelta(days=364)
    assert len(titles) == (TODAY - (s - timedelta(days=s.weekday()))).days // 7 + 1
    monday = TODAY - timedelta(days=TODAY.weekday())
    week = sum(v for (d, _), v in _daily_models(database_url, monday, TODAY).items())
    shown = sum(_parse_tokens(line.split(": ")[1]) for line in titles[-1].split("\n")[1:])
    assert abs(shown - week) <= 0.051 * week  # compact display values; the exact sums are checked in the CSV/API
    assert titles[-1].startswith(f"Week of {fmt_day(monday)}")


def _parse_tokens(text: str) -> float:
    units = {"K": 1e3, "M": 1e6, "B": 1e9}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def test_tool_breakdown_and_active_users(tools_view, database_url):
    s, e = D30
    cur = truth.totals(database_url, s, e)
    tools = sorted(truth.tool_totals(database_url, s, e).items(), key=lambda kv: (-kv[1][0], kv[0]))
    rows = [
        (dom.text(name), tokens.get("title"), cost.get("title"), dom.text(share))
        for name, tokens, cost, share, _split in (
            dom.select(row, "td") for row in dom.select(tools_view, "table.tool-table tbody tr")
        )
    ]
    assert rows == [
        (
            tool_name(t),
            format_tokens_exact(v[0]),
            format_money_exact(v[1]),
            format_percent_int(Fraction(v[0] * 100, cur.tokens)),
        )
        for t, v in tools
    ]
    users_card = card_titled(tools_view, "Active Users by Tool (30d)")
    for tool, (_tokens, _cost, users, _mapped) in tools:
        assert f"{tool_name(tool)}: {format_count(users)} people in the range" in dom.texts(
            users_card, ".legend > span"
        )
    rows = [
        (dom.text(name), dom.text(users), average.get("title"))
        for name, users, average, *_rest in (
            dom.select(row, "td") for row in dom.select(users_card, "table.tool-users-table tbody tr")
        )
    ]
    assert rows == [
        (
            tool_name(t),
            f"{format_count(v[2])} of {format_count(cur.users)} people",
            format_tokens_exact(round_half_up(Fraction(v[3], v[2]))),
        )
        for t, v in tools
        if v[2] > 0
    ]
    assert "Daily Usage (30d)" in dom.text(tools_view)


def test_tool_users_chart_is_distinct_per_week(page_client, database_url):
    """Weekly users are recomputed distinct counts, not sums of daily counts."""
    page = page_client.get("/usage", params={"view": "tools", "range": "1y"}).text
    chart = dom.one(card_titled(page, "Active Users by Tool (365d)"), "svg.chart")
    titles = [t for t in svg_titles(chart) if t.startswith("Week of")]
    monday = TODAY - timedelta(days=TODAY.weekday()) - timedelta(days=7)
    expected = truth.sql_value(
        database_url,
        f"SELECT COUNT(DISTINCT email) FROM usage_records WHERE tool = 'cursor' "
        f"AND {truth.MAPPED} AND date BETWEEN :s AND :e",
        s=monday,
        e=monday + timedelta(days=6),
    )
    daily_sum = truth.sql_value(
        database_url,
        f"SELECT SUM(n) FROM (SELECT COUNT(DISTINCT email) AS n FROM usage_records WHERE tool = 'cursor' "
        f"AND {truth.MAPPED} AND date BETWEEN :s AND :e GROUP BY date) x",
        s=monday,
        e=monday + timedelta(days=6),
    )
    assert daily_sum > expected  # the seed makes the difference visible
    title = next(t for t in titles if t.split("\n")[0] == f"Week of {fmt_day(monday)}")
    assert f"Cursor: {expected} people" in title.split("\n")


def test_view_toggle_is_an_htmx_body_swap(page_client):
    response = page_client.get(
        "/usage", params={"view": "tools", "range": "7d"}, headers={"HX-Request": "true", "HX-Target": "page-body"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="page-body">') and "<html" not in response.text
    assert "Tool Breakdown (7d)" in response.text
    assert "/export/usage.csv?range=7d&view=tools" in hrefs(response.text)
    chart = page_client.get(
        "/usage", params={"view": "tools", "trend": "0"}, headers={"HX-Request": "true", "HX-Target": "usage-chart"}
    )
    assert chart.text.lstrip().startswith('<div id="usage-chart"') and not dom.select(chart.text, ".trend")
    assert "/usage?view=tools" in hrefs(chart.text)


def test_empty_range(page_client):
    page = page_client.get("/usage", params={"start": "2025-01-01", "end": "2025-01-10"}).text
    assert "No usage in this range" in page
    card = stat_card(page, "Top Model (10d)")
    assert card_value_title(card)[0] == "N/A" and "0 tokens" in dom.text(card)
    assert "No models used in this range" in page
    tools = page_client.get("/usage", params={"start": "2025-01-01", "end": "2025-01-10", "view": "tools"}).text
    assert "No tool usage in this range" in tools and "No active users in this range" in tools


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"view": "chart"}, "view"),
        ({"trend": "yes"}, "trend"),
        ({"range": "14d"}, "range"),
        ({"start": "2026-13-01", "end": "2026-12-01"}, "start"),
    ],
)
def test_bad_parameters(page_client, query, param):
    response = page_client.get("/usage", params=query)
    assert response.status_code == 400 and f"'{param}'" in dom.text(response.text)


# --- /export/usage.csv ----------------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.text, newline="")))


def test_export_models_csv(page_client, database_url):
    s, e = TODAY - timedelta(days=6), TODAY
    response = page_client.get("/export/usage.csv", params={"range": "7d"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="usage_models_{s}_to_{e}.csv"'
    assert "\r\n" not in response.text
    rows = _csv(response)
    assert rows[0] == [
        "date", "model", "tokens", "input_tokens", "output_tokens", "cost", "tool", "cache_read_tokens",
        "cache_write_tokens", "provisional",
    ]  # fmt: skip
    expected = sql_rows(
        database_url,
        f"""
        SELECT date, model, SUM({truth.TOK}) AS t, SUM(input_tokens), SUM(output_tokens), SUM(cost), tool,
               SUM(cache_read_tokens), SUM(cache_write_tokens), bool_or(tool_record_id IS NOT DISTINCT FROM 'otel')
        FROM usage_records WHERE date BETWEEN :s AND :e GROUP BY date, model, tool""",
        s=s,
        e=e,
    )
    body = rows[1:]
    assert len(body) == len(expected)
    assert sorted(tuple(r) for r in body) == sorted(
        (d.isoformat(), m, str(t), str(i), str(o), _decimal_text(c), tool, str(cr), str(cw), str(p).lower())
        for d, m, t, i, o, c, tool, cr, cw, p in expected
    )
    keys = [(r[0], -int(r[2])) for r in body]
    assert keys == sorted(keys)  # date asc, then tokens desc


def _decimal_text(value: Decimal) -> str:
    text = f"{Decimal(value).quantize(Decimal('0.000001')):f}".rstrip("0").rstrip(".")
    return text or "0"


def test_export_tools_csv_and_api_alias(page_client, database_url):
    params = {"view": "tools", "start": "2026-03-01", "end": "2026-03-03"}
    response = page_client.get("/export/usage.csv", params=params)
    assert response.headers["content-disposition"] == 'attachment; filename="usage_tools_2026-03-01_to_2026-03-03.csv"'
    rows = _csv(response)
    assert rows[0] == ["date", "tool", "tokens", "cost", "users", "provisional"]
    expected = sql_rows(
        database_url,
        f"""
        SELECT date, tool, SUM({truth.TOK}), SUM(cost), COUNT(DISTINCT email) FILTER (WHERE {truth.MAPPED}),
               bool_or(tool_record_id IS NOT DISTINCT FROM 'otel')
        FROM usage_records WHERE date BETWEEN '2026-03-01' AND '2026-03-03' GROUP BY date, tool""",
    )
    assert sorted(tuple(r) for r in rows[1:]) == sorted(
        (d.isoformat(), tool, str(t), _decimal_text(c), str(u), str(p).lower()) for d, tool, t, c, u, p in expected
    )
    assert {r[0] for r in rows[1:]} == {"2026-03-01", "2026-03-02", "2026-03-03"}  # both ends included
    alias = page_client.get("/api/v1/export/usage.csv", params=params)
    assert alias.text == response.text


def test_export_default_is_30_days_and_empty_has_header(page_client):
    response = page_client.get("/export/usage.csv")
    s, e = D30
    assert response.headers["content-disposition"] == f'attachment; filename="usage_models_{s}_to_{e}.csv"'
    empty = page_client.get("/export/usage.csv", params={"start": "2025-01-01", "end": "2025-01-02"})
    assert empty.text == (
        "date,model,tokens,input_tokens,output_tokens,cost,tool,cache_read_tokens,cache_write_tokens,provisional\n"
    )
    leap = page_client.get("/export/usage.csv", params={"start": "2024-02-29", "end": "2024-02-29"})
    assert _csv(leap)[1:] == [["2024-02-29", "gpt-5", "31", "29", "2", "0.01", "cursor", "0", "0", "false"]]


def test_export_bad_parameters(page_client):
    assert page_client.get("/export/usage.csv", params={"view": "people"}).status_code == 400
    response = page_client.get("/export/usage.csv", params={"start": "2026-01-01"})
    assert response.status_code == 400 and "'end'" in dom.text(response.text)


def test_export_guards_formula_text_but_not_numbers(page_client, database_url):
    day = date(2021, 6, 1)
    model = '=HYPERLINK("http://x.example","a,b")'
    statements = [
        (
            "INSERT INTO usage_records (date, identity, email, tool, model, raw_model, input_tokens, output_tokens,"
            " cost)"
            " VALUES (:d, 'cursor:ada@example.com', 'ada@example.com', '-tool', :m, :m, 5, 0, -1.5)"
        ),
        (
            "INSERT INTO usage_daily (date, email, tool, model, input_tokens, output_tokens, total_tokens, cost, "
            "record_count) VALUES (:d, 'ada@example.com', '-tool', :m, 5, 0, 5, -1.5, 1)"
        ),
        (
            "INSERT INTO usage_tool_daily (date, tool, model, input_tokens, output_tokens, total_tokens, cost, "
            "record_count) VALUES (:d, '-tool', :m, 5, 0, 5, -1.5, 1)"
        ),
        (
            "INSERT INTO usage_user_daily (date, email, tool, input_tokens, output_tokens, total_tokens, cost, "
            "record_count) VALUES (:d, 'ada@example.com', '-tool', 5, 0, 5, -1.5, 1)"
        ),
    ]
    try:
        for statement in statements:
            truth.sql_exec(database_url, statement, d=day, m=model)
        text = page_client.get("/export/usage.csv", params={"start": "2021-06-01", "end": "2021-06-01"}).text
        assert (
            text.split("\n")[1]
            == '2021-06-01,"\'=HYPERLINK(""http://x.example"",""a,b"")",5,5,0,-1.5,\'-tool,0,0,false'
        )
    finally:
        for table in ("usage_records", "usage_daily", "usage_tool_daily", "usage_user_daily"):
            truth.sql_exec(database_url, f"DELETE FROM {table} WHERE date = :d", d=day)
