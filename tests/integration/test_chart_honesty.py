"""Charts that tell the truth and explain themselves (issue 11): every chart named for screen readers with its numbers
in a "Show data" table, people per tool never stacked or split into one 100 % bar, one colour per tool and other
colours for models, neutral cost deltas, an honest empty range, and ⓘ links that land on a definition."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from abacus.domain.formatting import format_count
from abacus.domain.tools import KNOWN_TOOLS, MODEL_PALETTE, TOTAL_COLOR, tool_color
from abacus.web.definitions import DEFINITIONS
from tests import dom, seed
from tests.integration import usage_truth as truth
from tests.integration.pages_support import card_titled, get_ok, stat_card, svg_summaries

TODAY = seed.TODAY
D30 = (TODAY - timedelta(days=29), TODAY)
PAGES = [
    "/",
    "/usage",
    "/usage?view=tools",
    "/usage?view=tools&range=1y",
    "/users/ada%40example.com",
    "/commits",
    "/repositories/acme/web",
    "/team",
]


@pytest.fixture(scope="module")
def client(page_client, edge_rows):
    return page_client


@pytest.mark.parametrize("url", PAGES)
def test_every_chart_is_a_named_image_with_its_data(client, url):
    page = get_ok(client, url)
    charts = dom.select(page, "svg[role=img]")
    assert charts, url
    summaries = svg_summaries(page)  # also checks <title> == aria-label on each
    assert all(s.strip() for s in summaries), url
    for svg in dom.select(page, "svg"):
        assert svg.get("role") == "img" or svg.get("aria-hidden") == "true", dom.markup(svg)[:200]
    for chart in dom.select(page, "svg.chart"):
        frame = chart.getparent()  # the .chart-frame that scrolls a wide chart on phones
        assert frame is not None and "chart-frame" in (frame.get("class") or ""), url
        details = frame.getnext()
        assert details is not None and details.tag == "details" and "chart-data" in details.get("class"), url
        assert dom.text(dom.one(details, "summary")) == "Show data"
        bars = [g for g in chart.findall("g") if g.find("rect") is not None]
        assert len(dom.select(details, "tbody tr")) == len(bars), url
    assert not re.search(r"<[^>]+\sstyle=", page), url  # the CSP forbids inline styles


def test_daily_chart_summary_states_range_total_and_peak(client, database_url):
    s, e = D30
    page = get_ok(client, "/")
    summary = dom.attr(dom.one(page, "#usage-chart"), "svg.chart", "aria-label")
    assert summary.startswith(f"Daily tokens by tool, {s:%b} {s.day}–{e:%b} {e.day}: total ")
    assert re.search(r": total [\d.]+[KMB]?, peak [\d.]+[KMB]? on [A-Z][a-z]{2} \d+$", summary), summary
    table = dom.one(dom.one(page, "#usage-chart"), "details.chart-data table")
    totals = [int(cells[-1].replace(",", "")) for cells in (dom.texts(r, "td") for r in dom.select(table, "tbody tr"))]
    assert sum(totals) == truth.totals(database_url, s, e).tokens  # the table's exact figures add up


def test_active_users_by_tool_are_grouped_not_stacked(client, database_url):
    s, e = D30
    cur = truth.totals(database_url, s, e)
    card = card_titled(get_ok(client, "/usage?view=tools"), "Active Users by Tool (30d)")
    chart = dom.one(card, "svg.chart")
    height = float(chart.get("viewbox").split()[3])  # lxml lower-cases attribute names
    baseline = height - 22
    bars = [r for r in dom.select(chart, "g > rect") if r.get("class") != "bar-hit"]
    assert bars
    for bar in bars:  # side by side from the baseline: nobody is added on top of someone else
        assert float(bar.get("y")) + float(bar.get("height")) == pytest.approx(baseline, abs=0.11)
    axis = [t.text for t in dom.select(chart, "text") if t.get("text-anchor") == "end"]
    assert int(axis[-1].replace(",", "")) <= 2 * cur.users  # scaled to a day's people, not their sum over tools
    summary = chart.get("aria-label")
    assert summary.startswith("People active per day by tool") and "total" not in summary
    assert "Show data" in dom.text(card)


def test_one_colour_per_tool_and_other_colours_for_models(client):
    tools_page = get_ok(client, "/usage?view=tools")
    models_page = get_ok(client, "/usage")
    tool_fills = {tool_color(t) for t in KNOWN_TOOLS}
    model_chart = dom.one(dom.one(models_page, "#usage-chart"), "svg.chart")
    model_fills = {r.get("fill") for r in dom.select(model_chart, "g > rect") if r.get("fill")}
    assert model_fills and not (model_fills & tool_fills)  # amber is never "the top model"
    assert model_fills - {"#64748b"} <= set(MODEL_PALETTE)
    usage_chart = dom.one(dom.one(tools_page, "#usage-chart"), "svg.chart")
    tool_chart_fills = {r.get("fill") for r in dom.select(usage_chart, "g > rect") if r.get("fill")} - {"url(#hatch)"}
    assert tool_chart_fills <= tool_fills
    # the Tool Breakdown table's swatch and the chart legend use the same colour per tool
    for row in dom.select(tools_page, "table.tool-table tbody tr"):
        name = dom.text(dom.select(row, "td")[0])
        swatch = dom.attr(dom.select(row, "td")[0], "svg rect", "fill")
        legend = [
            sp for sp in dom.select(dom.one(tools_page, "#usage-chart"), ".legend > span") if name in dom.text(sp)
        ]
        assert legend and dom.attr(legend[0], "svg rect", "fill") == swatch


def test_a_persons_weekday_pattern_is_not_drawn_in_a_tool_colour(client):
    page = get_ok(client, "/users/ada%40example.com")
    chart = next(c for c in dom.select(page, "svg.chart") if c.get("aria-label").startswith("Tokens by weekday"))
    fills = {r.get("fill") for r in dom.select(chart, "g > rect") if r.get("fill")}
    assert fills == {TOTAL_COLOR}
    assert not fills & {tool_color(t) for t in KNOWN_TOOLS}


def test_split_bars_have_legends(client):
    page = get_ok(client, "/")
    top_users = dom.one(page, "table.top-users").getparent().getparent()
    names = dom.texts(top_users, ".legend > span")
    assert names and set(names) <= {"Claude Code", "Cursor", "Codex", "Copilot", "Windsurf"}
    model_card = dom.one(page, ".model-dist")
    assert dom.texts(model_card, ".legend > span") == names
    models = get_ok(client, "/usage")
    assert dom.select(dom.one(models, "table.model-table").getparent().getparent(), ".legend > span")


def test_team_headers_link_their_definitions_and_the_split_has_a_legend(client):
    page = get_ok(client, "/team?range=90d&cols=email,totalTokens,totalCost,split,avgTokensPerDay")
    table = dom.one(page, "table.team")
    links = {dom.text(th).replace("ⓘ", "").strip(): th for th in dom.select(table, "thead th")}
    assert dom.attr(links["Cost"], "a.info", "href") == "/definitions#M-COST"
    assert dom.attr(links["Avg/Day"], "a.info", "href") == "/definitions#M-AVG-DAY"
    assert dom.attr(links["Tools"], "a.info", "href") == "/definitions#M-TOOL-SHARE"
    assert not dom.select(links["User"], "a.info")
    legend = dom.texts(dom.one(page, "#team-table"), ".legend > span")
    assert legend[:2] == ["Claude Code", "Cursor"] and "Codex" in legend
    for span in dom.select(dom.one(page, "#team-table"), ".legend > span"):
        assert dom.attr(span, "svg rect", "fill") == tool_color(
            {"Claude Code": "claude_code", "Cursor": "cursor", "Codex": "codex"}[dom.text(span)]
        )


def test_commits_tool_split_column_has_a_legend(client, database_url):
    page = get_ok(client, "/commits")
    legend = dom.select(dom.one(page, "#repo-table"), ".legend > span")
    names = [dom.text(span) for span in legend]
    assert {"Claude Code", "Cursor", "Codex"} <= set(names)
    for span in legend:
        swatch = dom.attr(span, "svg rect", "fill")
        assert swatch == tool_color(
            {"Copilot": "github_copilot"}.get(dom.text(span), dom.text(span).lower().replace(" ", "_"))
        )


def test_cost_changes_are_neutral_not_green(client):
    page = get_ok(client, "/")
    cost = stat_card(page, "Estimated Cost")
    delta = dom.select(cost, "span.delta")
    assert delta, "the seed's 30 days cost differs from the 30 before"
    assert "neutral" in delta[0].get("class").split() and "up" not in delta[0].get("class").split()
    tokens = dom.select(stat_card(page, "Total Tokens"), "span.delta")
    assert tokens and ({"up", "down"} & set(tokens[0].get("class").split()))


def test_an_empty_range_draws_a_zero_axis_and_says_so(client):
    for url in ("/usage?start=2021-01-01&end=2021-01-31", "/usage?view=tools&start=2021-01-01&end=2021-01-31"):
        chart = dom.one(dom.one(get_ok(client, url), "#usage-chart"), "svg.chart")
        axis = [t.text for t in dom.select(chart, "text") if t.get("text-anchor") == "end"]
        assert axis == ["0"], url  # never "1, 1, 0"
        assert "No data in this range" in dom.text(chart)
        assert chart.get("aria-label").endswith(": no data")


def test_units_on_people_counts(client, database_url):
    s, e = D30
    cur = truth.totals(database_url, s, e)
    page = get_ok(client, "/usage?view=tools")
    for row in dom.select(page, "table.tool-users-table tbody tr"):
        assert re.fullmatch(rf"\d+ of {format_count(cur.users)} people", dom.text(dom.select(row, "td")[1]))
    card = stat_card(get_ok(client, "/"), "Active Users")
    assert dom.text(dom.one(card, ".stat-value small")) in ("people", "person")


def test_info_links_land_on_definitions(client):
    definitions = get_ok(client, "/definitions")
    anchors = {el.get("id") for el in dom.select(definitions, "section.definition")}
    assert anchors == {d.id for d in DEFINITIONS}
    for d in DEFINITIONS:
        section = dom.one(definitions, f'section[id="{d.id}"]')
        assert dom.text(dom.one(section, "h2")) == d.name and f"Unit: {d.unit}" in dom.text(section)
    seen = set()
    for url in PAGES:
        for link in dom.select(get_ok(client, url), "a.info"):
            path, _, anchor = link.get("href").partition("#")
            assert path == "/definitions" and anchor in anchors, link.get("href")
            assert link.get("aria-label", "").startswith("Definition of ") and dom.text(link) == ""
            assert dom.attr(link, "svg.info-icon", "aria-hidden") == "true"  # drawn, so no font can lack the glyph
            seen.add(anchor)
    assert {"M-TOKENS", "M-COST", "M-USERS", "M-AVG-DAY", "M-AI-COMMITS", "M-USERS-TOOL", "M-TOOL-SHARE"} <= seen


def test_definitions_need_a_session(live_app):
    response = httpx.get(f"{live_app.url}/definitions", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sign-in?next=")
