"""/budgets and GET /api/v1/budgets over HTTP against the real app: figures equal SQL over the rollup; admins
create, edit and delete (CSRF, audited before → after); bad or hostile values are a 400 that changes nothing; a
non-admin gets 403 and changes nothing; a bad month is a 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.pages_support import sql_rows, sql_value
from tests.support import run_async

HTMX = {"HX-Request": "true", "HX-Target": "budgets-body"}


def seed_usage(database_url: str) -> None:
    """Ada $60.25 of Claude Code and Grace $30.50 of Cursor today (rollup rows, committed)."""

    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                for email, tool, cost in (
                    ("ada@example.com", "claude_code", "60.25"),
                    ("grace@example.com", "cursor", "30.50"),
                ):
                    params = {"d": datetime.now(UTC).date(), "e": email, "t": tool, "c": Decimal(cost)}
                    await conn.execute(
                        text("INSERT INTO usage_user_daily (date, email, tool, cost) VALUES (:d, :e, :t, :c)"), params
                    )
                    await conn.execute(
                        text("INSERT INTO usage_tool_totals_daily (date, tool, cost) VALUES (:d, :t, :c)"), params
                    )
        finally:
            await engine.dispose()

    run_async(run())


def csrf(client: httpx.Client) -> str:
    client.get("/budgets")
    token = client.cookies.get("abacus_csrf")
    assert token
    return token


def state(database_url: str) -> tuple[Any, ...]:
    return (
        sql_value(
            database_url,
            "SELECT COALESCE(string_agg(scope || '/' || scope_id || '/' || tool || '/' || amount_usd::text, ' '"
            " ORDER BY id), '') FROM budgets",
        ),
        sql_value(database_url, "SELECT COUNT(*) FROM audit_events"),
    )


def test_admin_creates_edits_and_deletes_with_audit(signed_in, clean_db, database_url) -> None:
    seed_usage(database_url)
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    created = ada.post(
        "/budgets",
        data={"scope": "org", "scope_id": "", "tool": "all", "amount_usd": "50", "thresholds": "50,80,100",
              "channels": ["slack", "webhook"], "_csrf_token": token},
        headers=HTMX,
    )  # fmt: skip
    assert created.status_code == 200, created.text[:500]
    assert "Saved new budget 1." in created.text
    assert "Org · all tools" in created.text
    # spent = every row of the month so far: $60.25 + $30.50 = $90.75, over the $50
    assert "$90.75" in created.text and ">Over<" in created.text
    assert '<svg class="chart burn-chart chart-wide"' in created.text and 'role="img"' in created.text
    assert "<title>Budget burn, Org · all tools" in created.text and "Show data" in created.text
    assert sql_value(database_url, "SELECT channels::text FROM budgets WHERE id = 1") == "{slack,webhook}"

    edited = ada.post(
        "/budgets",
        data={"id": "1", "scope": "org", "scope_id": "", "tool": "cursor", "amount_usd": "1000",
              "thresholds": "90", "_csrf_token": token},
        headers=HTMX,
    )  # fmt: skip
    assert edited.status_code == 200 and "Saved budget 1." in edited.text
    assert "Org · Cursor" in edited.text and "$30.50" in edited.text
    audit = sql_rows(
        database_url,
        "SELECT actor, action, target, before->>'amount_usd', after->>'amount_usd', after->>'tool'"
        " FROM audit_events WHERE action LIKE 'budget.%' ORDER BY id",
    )
    assert [tuple(r) for r in audit] == [
        ("ada@example.com", "budget.create", "budget:1", None, "50.00", "all"),
        ("ada@example.com", "budget.update", "budget:1", "50.00", "1000.00", "cursor"),
    ]

    ask = ada.post("/budgets/delete", data={"id": "1", "_csrf_token": token}, headers=HTMX)
    assert ask.status_code == 200 and "Yes, delete it" in ask.text
    assert sql_value(database_url, "SELECT COUNT(*) FROM budgets") == 1
    gone = ada.post("/budgets/delete", data={"id": "1", "confirm": "yes", "_csrf_token": token}, headers=HTMX)
    assert gone.status_code == 200 and "Deleted budget 1" in gone.text
    assert sql_value(database_url, "SELECT COUNT(*) FROM budgets") == 0
    assert (
        sql_value(database_url, "SELECT before->>'tool' FROM audit_events WHERE action = 'budget.delete'") == "cursor"
    )


def test_bad_and_hostile_values_are_refused_and_change_nothing(signed_in, clean_db, database_url) -> None:
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    before = state(database_url)
    cases = [
        ({"scope": "org", "tool": "all", "amount_usd": "lots"}, "amount_usd"),
        ({"scope": "org", "tool": "all", "amount_usd": "0"}, "amount_usd"),
        ({"scope": "galaxy", "tool": "all", "amount_usd": "5"}, "scope"),
        ({"scope": "team", "scope_id": "<script>alert(1)</script>", "tool": "all", "amount_usd": "5"}, "scope_id"),
        ({"scope": "person", "scope_id": "not-an-email", "tool": "all", "amount_usd": "5"}, "scope_id"),
        ({"scope": "org", "tool": "emacs", "amount_usd": "5"}, "tool"),
        ({"scope": "org", "tool": "all", "amount_usd": "5", "thresholds": "0,2000"}, "thresholds"),
        ({"scope": "org", "tool": "all", "amount_usd": "5", "channels": "carrier-pigeon"}, "channels"),
        ({"id": "99", "scope": "org", "tool": "all", "amount_usd": "5"}, "budget 99 does not exist"),
    ]
    for form, named in cases:
        response = ada.post("/budgets", data={**form, "_csrf_token": token}, headers=HTMX)
        assert response.status_code == 400, (form, response.text[:300])
        assert named in response.text, form
        assert "<script>alert(1)</script>" not in response.text
    nul = ada.post("/budgets", data={"scope": "org", "tool": "all", "amount_usd": "5\x00", "_csrf_token": token})
    assert nul.status_code == 400
    no_csrf = ada.post("/budgets", data={"scope": "org", "tool": "all", "amount_usd": "5"}, headers=HTMX)
    assert no_csrf.status_code == 403
    assert state(database_url) == before


def test_a_non_admin_sees_budgets_but_changes_nothing(signed_in, clean_db, database_url) -> None:
    seed_usage(database_url)
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    ada.post(
        "/budgets", data={"scope": "person", "scope_id": "grace@example.com", "tool": "all", "amount_usd": "100",
                          "_csrf_token": token}, headers=HTMX,
    )  # fmt: skip
    grace = signed_in("grace@example.com")
    page = grace.get("/budgets")
    assert page.status_code == 200
    assert "grace@example.com · all tools" in page.text and "$30.50" in page.text
    assert 'href="/budgets"' in page.text, "Budgets is in the nav"
    assert "Create budget" not in page.text and "Only admins can change budgets." in page.text
    before = state(database_url)
    token = csrf(grace)
    for path, form in (
        ("/budgets", {"scope": "org", "tool": "all", "amount_usd": "1"}),
        ("/budgets", {"id": "1", "scope": "org", "tool": "all", "amount_usd": "1"}),
        ("/budgets/delete", {"id": "1", "confirm": "yes"}),
    ):
        refused = grace.post(path, data={**form, "_csrf_token": token}, headers=HTMX)
        assert refused.status_code == 403, path
    assert state(database_url) == before


def test_api_budgets_equal_sql_and_refuse_a_bad_month(signed_in, clean_db, database_url) -> None:
    seed_usage(database_url)
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    for form in (
        {"scope": "person", "scope_id": "ada@example.com", "tool": "claude_code", "amount_usd": "1000000"},
        {"scope": "org", "scope_id": "", "tool": "all", "amount_usd": "10"},
    ):
        assert ada.post("/budgets", data={**form, "_csrf_token": token}, headers=HTMX).status_code == 200
    month = datetime.now(UTC).strftime("%Y-%m")
    body = ada.get("/api/v1/budgets", params={"month": month}).json()
    assert body["month"] == month
    by_scope = {b["scope"]: b for b in body["budgets"]}
    assert set(by_scope["org"]) == {
        "id", "scope", "scope_id", "tool", "amount_usd", "spent_usd", "forecast_usd", "status",
    }  # fmt: skip
    org_spent = sql_value(
        database_url,
        "SELECT sum(cost) FROM usage_user_daily WHERE date >= date_trunc('month', now() AT TIME ZONE 'UTC')",
    )
    ada_spent = sql_value(
        database_url,
        "SELECT sum(cost) FROM usage_user_daily WHERE email = 'ada@example.com' AND tool = 'claude_code'"
        " AND date >= date_trunc('month', now() AT TIME ZONE 'UTC')",
    )
    assert Decimal(str(by_scope["org"]["spent_usd"])) == Decimal(org_spent).quantize(Decimal("0.01"))
    assert Decimal(str(by_scope["person"]["spent_usd"])) == Decimal(ada_spent).quantize(Decimal("0.01"))
    assert by_scope["org"]["status"] == "over" and by_scope["person"]["status"] == "on_track"
    assert by_scope["org"]["forecast_usd"] >= by_scope["org"]["spent_usd"]
    # a past month: nothing spent then, nothing projected
    past = ada.get("/api/v1/budgets", params={"month": "2020-01"}).json()
    assert all(b["spent_usd"] == 0 and b["forecast_usd"] == 0 for b in past["budgets"])
    for bad in ("2026-13", "last month", "2026-1"):
        response = ada.get("/api/v1/budgets", params={"month": bad})
        assert response.status_code == 400 and "month" in response.text, bad
    assert ada.get("/budgets", params={"month": "nope"}).status_code == 400


def test_a_channel_failing_for_a_day_shows_on_status(signed_in, clean_db, database_url) -> None:
    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO budgets (id, scope, scope_id, tool, amount_usd, created_by, updated_by)"
                        " OVERRIDING SYSTEM VALUE VALUES (1, 'org', '', 'all', 10, 'seed', 'seed')"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO alerts (id, budget_id, month, kind, spent_usd, forecast_usd, amount_usd, channels)"
                        " OVERRIDING SYSTEM VALUE VALUES (1, 1, date_trunc('month', now())::date, 'threshold_50', 5, 9,"
                        " 10, '{slack,webhook}')"
                    )
                )
                # slack delivered; the webhook failing since 25 hours ago, still failing an hour ago
                await conn.execute(
                    text(
                        "INSERT INTO alert_deliveries (alert_id, channel, attempt, status, http_status, error, at)"
                        " VALUES"
                        " (1, 'slack', 1, 'sent', 200, NULL, now() - interval '25 hours'),"
                        " (1, 'webhook', 1, 'failed', 500, 'HTTP 500', now() - interval '25 hours'),"
                        " (1, 'webhook', 2, 'failed', 500, 'HTTP 500', now() - interval '1 hour')"
                    )
                )
        finally:
            await engine.dispose()

    run_async(run())
    ada = signed_in("ada@example.com")
    status = ada.get("/status")
    assert status.status_code == 200
    assert "Alert channel webhook failing" in status.text
    assert "Alert channel slack failing" not in status.text
    budgets = ada.get("/budgets")
    assert "webhook: failing" in budgets.text and "slack: sent" in budgets.text and "last: HTTP 500" in budgets.text


def test_team_filter_keeps_the_team_and_its_members_budgets(signed_in, clean_db, database_url) -> None:
    from abacus.db import create_engine, session_factory
    from abacus.services.budgets import budget_input, save_budget
    from abacus.services.teams import create_team, set_member

    async def run() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await create_team(db, "platform", "Platform", actor="seed")
            await set_member(db, "platform", "ada@example.com", "lead", actor="seed")
            for scope, scope_id in (("org", ""), ("team", "platform"), ("person", "ada@example.com"),
                                    ("person", "grace@example.com")):  # fmt: skip
                fields = budget_input(scope=scope, scope_id=scope_id, tool="all", amount_usd="100")
                await save_budget(db, fields, actor="seed")
        await engine.dispose()

    run_async(run())
    ada = signed_in("ada@example.com")
    body = ada.get("/api/v1/budgets", params={"team": "platform"}).json()
    assert sorted((b["scope"], b["scope_id"]) for b in body["budgets"]) == [
        ("person", "ada@example.com"),
        ("team", "platform"),
    ]
    assert len(ada.get("/api/v1/budgets").json()["budgets"]) == 4
    page = ada.get("/budgets", params={"team": "platform"})
    assert page.status_code == 200 and "Team platform · all tools" in page.text
    assert "grace@example.com · all tools" not in page.text
    for bad in ("nope", "Bad Slug!"):
        refused = ada.get("/api/v1/budgets", params={"team": bad})
        assert refused.status_code == 400 and "team" in refused.text, bad


def test_a_refused_save_says_why_in_the_form_it_came_from_with_what_was_typed(
    signed_in, clean_db, database_url
) -> None:
    from lxml import html

    ada = signed_in("ada@example.com")
    token = csrf(ada)
    created = ada.post(
        "/budgets", data={"scope": "org", "tool": "cursor", "amount_usd": "500", "_csrf_token": token}, headers=HTMX
    )
    assert created.status_code == 200
    budget_id = sql_value(database_url, "SELECT id FROM budgets")

    def forms(response) -> tuple[html.HtmlElement, html.HtmlElement]:
        page = html.fromstring(response.text)
        new = page.xpath("//form[contains(@class, 'budget-form') and not(input[@name='id'])]")[0]
        edit = page.xpath(f"//form[contains(@class, 'budget-form') and input[@name='id' and @value='{budget_id}']]")[0]
        return new, edit

    refused_new = ada.post(
        "/budgets",
        data={"scope": "org", "tool": "all", "amount_usd": "lots", "thresholds": "10,20", "_csrf_token": token},
        headers=HTMX,
    )
    assert refused_new.status_code == 400
    new, edit = forms(refused_new)
    assert new.xpath("string(.//*[@role='alert'])").startswith("Not saved: Monthly USD: 'lots' is not an amount")
    assert new.xpath(".//input[@name='amount_usd']/@value") == ["lots"]
    assert new.xpath(".//input[@name='amount_usd']/@aria-invalid") == ["true"]
    assert new.xpath(".//input[@name='thresholds']/@value") == ["10,20"]
    assert not edit.xpath(".//*[@role='alert']")
    assert not html.fromstring(refused_new.text).xpath("//div[@id='budgets-body']/p[@role='alert']")
    wrong_person = ada.post(
        "/budgets",
        data={"scope": "person", "scope_id": "nobody", "tool": "all", "amount_usd": "5", "_csrf_token": token},
        headers=HTMX,
    )
    new, _ = forms(wrong_person)
    assert new.xpath(".//*[@aria-invalid='true']/@name") == ["scope_id"]  # whichever field was refused

    refused_edit = ada.post(
        "/budgets",
        data={"id": str(budget_id), "scope": "org", "tool": "cursor", "amount_usd": "500", "thresholds": "0",
              "channels": ["slack"], "_csrf_token": token},
        headers=HTMX,
    )  # fmt: skip
    assert refused_edit.status_code == 400
    new, edit = forms(refused_edit)
    assert "Thresholds %: " in edit.xpath("string(.//*[@role='alert'])") and not new.xpath(".//*[@role='alert']")
    assert edit.xpath("./ancestor::details[@open]"), "the Edit panel of the refused budget is open"
    assert edit.xpath(".//input[@name='thresholds']/@value") == ["0"]
    assert edit.xpath(".//input[@name='channels' and @checked]/@value") == ["slack"]
    assert new.xpath(".//input[@name='amount_usd']/@value") == [""]  # the other forms keep their own values

    gone = ada.post("/budgets", data={"id": "99", "scope": "org", "tool": "all", "amount_usd": "5",
                                      "_csrf_token": token}, headers=HTMX)  # fmt: skip
    assert gone.status_code == 400
    top = html.fromstring(gone.text).xpath("//div[@id='budgets-body']/p[@role='alert']")
    assert top and "budget 99 does not exist" in top[0].text_content()  # no form of it on the page: said above
    assert sql_value(database_url, "SELECT amount_usd::text FROM budgets") == "500.00"
