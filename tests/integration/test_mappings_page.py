"""Mapping assistant: reading, admin writes re-pointing rows in one transaction, CSV upload validation."""

import asyncio

from sqlalchemy import text

from abacus.db import create_engine
from abacus.domain.formatting import counted
from abacus.rollups import rollup_mismatches
from tests import dom
from tests.integration.pages_support import laptop_key_usage, store_usage_rows
from tests.support import run_async

UNMAPPED_ROWS = "SELECT COUNT(*) FROM usage_records WHERE email = 'unmapped:claude_code:ci-deploy-key'"
HEADER = (
    "Date,User,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,Output Tokens,"
    "Total Tokens,Cost\n"
)


def _scalar(database_url, sql, **params):
    async def run():
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            value = (await conn.execute(text(sql), params)).scalar_one()
        await engine.dispose()
        return value

    return run_async(run())


def _consistent(database_url):
    async def run():
        from abacus.db import session_factory

        engine = create_engine(database_url)
        async with session_factory(engine)() as db:
            value = await rollup_mismatches(db)
        await engine.dispose()
        return value

    return run_async(run()) == 0


def _csrf(client):
    client.get("/mappings")
    return client.cookies.get("abacus_csrf")


def test_unmapped_identity_is_listed_and_mapping_repoints_it(signed_in, seeded, database_url):
    ada = signed_in("ada@example.com")
    page = ada.get("/mappings")
    assert page.status_code == 200
    assert "ci-deploy-key" in page.text
    unmapped_rows = _scalar(
        database_url, "SELECT COUNT(*) FROM usage_records WHERE identity = 'claude_code:ci-deploy-key'"
    )
    token = _csrf(ada)
    saved = ada.post(
        "/mappings",
        data={
            "source": "claude_code",
            "external_id": "ci-deploy-key",
            "email": "Ken@Example.com",
            "_csrf_token": token,
        },
        headers={"HX-Request": "true", "HX-Target": "mapping-tables"},
    )
    assert saved.status_code == 200
    assert f"({counted(unmapped_rows, 'usage rows')}, " in saved.text
    assert _scalar(database_url, UNMAPPED_ROWS) == 0
    assert (
        _scalar(
            database_url,
            "SELECT COUNT(*) FROM usage_records WHERE identity = 'claude_code:ci-deploy-key' "
            "AND email = 'ken@example.com'",
        )
        == unmapped_rows
    )
    assert (
        _scalar(database_url, "SELECT updated_by FROM identity_mappings WHERE external_id = 'ci-deploy-key'")
        == "ada@example.com"
    )
    assert _consistent(database_url)
    listed = dom.parse(ada.get("/mappings").text)
    for existing in dom.select(listed, "section.card", has_text="Existing mappings"):
        existing.drop_tree()
    assert "ci-deploy-key" not in dom.markup(listed)  # no longer offered anywhere as unmapped

    remove = {"source": "claude_code", "external_id": "ci-deploy-key", "_csrf_token": token}
    asked = ada.post("/mappings/delete", data=remove)
    assert asked.status_code == 200, "the first click asks, on the page (no JavaScript needed)"
    assert "Remove the mapping of claude_code ci-deploy-key?" in dom.text(dom.parse(asked.text))
    assert _scalar(database_url, UNMAPPED_ROWS) == 0, "nothing removed yet"
    removed = ada.post("/mappings/delete", data={**remove, "confirm": "yes"})
    assert removed.status_code == 303
    assert _scalar(database_url, UNMAPPED_ROWS) == unmapped_rows
    assert _consistent(database_url)


def test_bad_email_is_refused_inline_and_nothing_changes(signed_in, seeded, database_url):
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    response = ada.post(
        "/mappings",
        data={"source": "claude_code", "external_id": "ci-deploy-key", "email": "not-an-email", "_csrf_token": token},
    )
    assert response.status_code == 400
    assert "is not an email address" in response.text
    assert _scalar(database_url, "SELECT COUNT(*) FROM identity_mappings") == 0
    unknown = ada.post(
        "/mappings", data={"source": "gitlab", "external_id": "1", "email": "a@b.co", "_csrf_token": token}
    )
    assert "unknown source" in unknown.text


def test_non_admins_read_but_cannot_write(signed_in, seeded, database_url):
    grace = signed_in("grace@example.com")
    page = grace.get("/mappings")
    assert page.status_code == 200 and "Only admins can change mappings" in page.text
    assert "Mappings" not in dom.texts(page.text, "nav#mainnav a")  # nav item is admin-only
    token = grace.cookies.get("abacus_csrf")
    response = grace.post(
        "/mappings",
        data={
            "source": "claude_code",
            "external_id": "ci-deploy-key",
            "email": "grace@example.com",
            "_csrf_token": token,
        },
    )
    assert response.status_code == 403
    assert _scalar(database_url, "SELECT COUNT(*) FROM identity_mappings") == 0


def test_bad_filter_parameter_is_a_400(signed_in, clean_db):
    response = signed_in("ada@example.com").get("/mappings?status=weird")
    assert response.status_code == 400 and "status" in response.text


def test_csv_upload_reports_every_error_and_writes_nothing(signed_in, clean_db, database_url):
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    bad = HEADER + (
        "2025-11-20T18:23:45.123Z,ana@example.com,Usage-based,gpt-5,No,10,20,30,40,100,$0.12\n"
        "2025-13-01T10:00,ana@example.com,Usage-based,gpt-5,No,10,20,30,40,100,0.12\n"
        "2025-11-20T18:23:46.000Z,ana@example.com,Usage-based,gpt-5,No,ten,20,30,40,100,0.12\n"
        "2025-11-20T18:23:47.000Z,not-an-email,Usage-based,gpt-5,No,10,20,30,40,100,0.12\n"
    )
    response = ada.post(
        "/mappings/import", files={"file": ("usage.csv", bad.encode(), "text/csv")}, data={"_csrf_token": token}
    )
    assert response.status_code == 200
    assert "was not imported" in response.text
    assert "line 3" in response.text and "line 4" in response.text and "line 5" in response.text
    assert _scalar(database_url, "SELECT COUNT(*) FROM usage_records") == 0

    good = HEADER + "2025-11-20T18:23:45.123Z,ana@example.com,Usage-based,gpt-5,No,10,20,30,40,100,$0.12\n"
    for expected in ("1 new, 0 already present", "0 new, 1 already present"):
        ok = ada.post(
            "/mappings/import", files={"file": ("usage.csv", good.encode(), "text/csv")}, data={"_csrf_token": token}
        )
        assert f"Imported usage.csv: {expected}" in ok.text
    assert _scalar(database_url, "SELECT COUNT(*) FROM usage_records") == 1
    assert asyncio is not None


def test_team_page_says_how_much_usage_is_not_listed(signed_in, seeded, database_url):
    tokens = _scalar(
        database_url,
        "SELECT COALESCE(SUM(input_tokens + cache_write_tokens + cache_read_tokens + "
        "output_tokens), 0) FROM usage_records WHERE email LIKE 'unmapped:%' "
        "AND date BETWEEN '2024-01-01' AND '2026-12-31'",
    )
    assert tokens > 0
    page = signed_in("ada@example.com").get("/team?start=2024-01-01&end=2026-11-25")
    assert "Not listed:" in page.text and "not linked to a person" in page.text
    from abacus.domain.formatting import format_tokens

    assert f"Not listed: {format_tokens(tokens)} tokens" in page.text


def test_accept_all_applies_every_suggestion_in_one_go(signed_in, seeded, database_url):
    """An API key named after a person is suggested as that person; "Accept all" maps it and re-points its rows."""
    store_usage_rows(database_url, laptop_key_usage())
    ada = signed_in("ada@example.com")
    page = dom.parse(ada.get("/mappings").text)
    assert "grace@example.com" in dom.text(page), "the key name suggests Grace"
    token = _csrf(ada)
    before = _scalar(database_url, "SELECT COUNT(*) FROM identity_mappings")
    asked = ada.post("/mappings/accept-all", data={"_csrf_token": token}, headers={"HX-Request": "true"})
    assert asked.status_code == 200, asked.text[:500]
    assert _scalar(database_url, "SELECT COUNT(*) FROM identity_mappings") == before, "the first click only asks"
    confirm = dom.one(dom.parse(asked.text), ".confirm-step form")
    assert "grace-laptop → grace@example.com" in dom.text(dom.parse(asked.text))
    fields = {i.get("name"): i.get("value") for i in confirm.cssselect("input[type=hidden]")}
    assert fields["confirm"] == "yes" and fields["suggestions"]
    response = ada.post("/mappings/accept-all", data=fields, headers={"HX-Request": "true"})
    assert response.status_code == 200, response.text[:500]
    accepted = _scalar(database_url, "SELECT COUNT(*) FROM identity_mappings") - before
    assert accepted >= 1
    assert f"Accepted {accepted} suggested mapping(s)." in response.text
    mapped = _scalar(
        database_url,
        "SELECT email FROM identity_mappings WHERE source = 'claude_code' AND external_id = 'grace-laptop'",
    )
    assert mapped == "grace@example.com"
    assert (
        _scalar(
            database_url,
            "SELECT COUNT(*) FROM usage_records WHERE identity = 'claude_code:grace-laptop' "
            "AND email = 'grace@example.com'",
        )
        == 1
    )
    assert _consistent(database_url)
