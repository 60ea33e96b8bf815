"""/teams over HTTP against the real app: everyone signed in reads teams and members; only admins change them
(CSRF, audit of who/when/before → after); hostile values are a 400 and change nothing; a non-admin gets 403."""

from __future__ import annotations

from typing import Any

import httpx

from abacus.db import create_engine, session_factory
from abacus.services.teams import create_team, set_member
from tests.integration.pages_support import sql_value
from tests.support import run_async

HTMX = {"HX-Request": "true", "HX-Target": "teams-body"}


def seed_teams(database_url: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await create_team(db, "platform", "Platform", actor="seed")
            await set_member(db, "platform", "ada@example.com", "lead", actor="seed")
            await set_member(db, "platform", "grace@example.com", "member", actor="seed")
            await create_team(db, "mobile", "Mobile", actor="seed")
            await set_member(db, "mobile", "grace@example.com", "member", actor="seed")
        await engine.dispose()

    run_async(run())


def csrf(client: httpx.Client) -> str:
    client.get("/teams")
    token = client.cookies.get("abacus_csrf")
    assert token
    return token


def state(database_url: str) -> tuple[Any, ...]:
    return (
        sql_value(database_url, "SELECT COUNT(*) FROM teams WHERE removed_at IS NULL"),
        sql_value(
            database_url,
            "SELECT COALESCE(string_agg(team_slug || '/' || email || '/' || role, ' ' ORDER BY team_slug, email), '')"
            " FROM team_members WHERE removed_at IS NULL",
        ),
        sql_value(database_url, "SELECT COUNT(*) FROM audit_events"),
    )


def test_everyone_sees_teams_but_a_non_admin_changes_nothing(signed_in, clean_db, database_url) -> None:
    seed_teams(database_url)
    grace = signed_in("grace@example.com")
    page = grace.get("/teams")
    assert page.status_code == 200
    assert "Platform" in page.text and "Mobile" in page.text and "ada@example.com" in page.text
    assert 'href="/teams"' in page.text, "Teams is in the nav"
    assert "Create team" not in page.text and "Remove team" not in page.text
    assert "Only admins can change teams." in page.text
    assert "2 team(s), 2 people in at least one team" in page.text, "a person in two teams counts once"
    before = state(database_url)
    token = csrf(grace)
    for path, form in (
        ("/teams", {"slug": "evil", "name": "Evil"}),
        ("/teams/delete", {"slug": "platform", "confirm": "yes"}),
        ("/teams/members", {"slug": "platform", "email": "grace@example.com", "role": "lead"}),
        ("/teams/members/remove", {"slug": "platform", "email": "ada@example.com"}),
    ):
        refused = grace.post(path, data={**form, "_csrf_token": token}, headers=HTMX)
        assert refused.status_code == 403, path
    upload = grace.post(
        "/teams/import", data={"_csrf_token": token}, files={"file": ("t.csv", b"evil,grace@example.com,lead\n")}
    )
    assert upload.status_code == 403
    assert state(database_url) == before


def test_admin_edits_are_audited_who_when_before_after(signed_in, clean_db, database_url) -> None:
    seed_teams(database_url)
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    created = ada.post("/teams", data={"slug": "Data", "name": "Data Eng", "_csrf_token": token}, headers=HTMX)
    assert created.status_code == 200 and "Created team data." in created.text
    added = ada.post(
        "/teams/members",
        data={"slug": "data", "email": "Ken@Example.com", "role": "lead", "_csrf_token": token},
        headers=HTMX,
    )
    assert added.status_code == 200 and "Added ken@example.com to data as lead." in added.text
    role = ada.post(
        "/teams/members",
        data={"slug": "data", "email": "ken@example.com", "role": "member", "only_role": "yes", "_csrf_token": token},
        headers=HTMX,
    )
    assert "ken@example.com in data: lead → member." in role.text
    not_there = ada.post(
        "/teams/members",
        data={"slug": "data", "email": "zed@example.com", "role": "lead", "only_role": "yes", "_csrf_token": token},
        headers=HTMX,
    )
    assert not_there.status_code == 400 and "zed@example.com is not in team" in not_there.text
    removed = ada.post(
        "/teams/members/remove", data={"slug": "platform", "email": "grace@example.com", "_csrf_token": token}
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/teams", "a plain form post redirects back"
    ask = ada.post("/teams/delete", data={"slug": "mobile", "_csrf_token": token}, headers=HTMX)
    assert ask.status_code == 200 and "Remove team mobile and all its memberships?" in ask.text
    assert sql_value(database_url, "SELECT COUNT(*) FROM teams WHERE slug = 'mobile'") == 1
    gone = ada.post("/teams/delete", data={"slug": "mobile", "confirm": "yes", "_csrf_token": token}, headers=HTMX)
    assert gone.status_code == 200 and "Removed team mobile (1 member(s))." in gone.text

    assert state(database_url)[:2] == (2, "data/ken@example.com/member platform/ada@example.com/lead")
    events = sql_value(
        database_url,
        "SELECT string_agg(actor || ' ' || action || ' ' || target || ' ' || COALESCE(before::text, '-') || ' → '"
        " || COALESCE(after::text, '-'), E'\\n' ORDER BY id) FROM audit_events WHERE actor <> 'seed'",
    )
    assert events.splitlines() == [
        'ada@example.com team.create team:data null → {"name": "Data Eng", "members": {}}',
        'ada@example.com team.member.add team:data/ken@example.com null → {"role": "lead", "source": "manual"}',
        'ada@example.com team.member.role team:data/ken@example.com {"role": "lead", "source": "manual"} → '
        '{"role": "member", "source": "manual"}',
        'ada@example.com team.member.remove team:platform/grace@example.com {"role": "member", "source": "manual"}'
        " → null",
        'ada@example.com team.delete team:mobile {"name": "Mobile", "source": "manual", "members": '
        '{"grace@example.com": "member"}} → null',
    ]
    assert sql_value(database_url, "SELECT bool_and(at IS NOT NULL) FROM audit_events")
    page = ada.get("/teams")
    assert "Recent team changes" in page.text and "team.member.role" in page.text


def test_hostile_values_are_a_400_and_change_nothing(signed_in, clean_db, database_url) -> None:
    seed_teams(database_url)
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    before = state(database_url)
    for path, form, message in (
        ("/teams", {"slug": "<script>alert(1)</script>", "name": "x"}, "must be 1–100"),
        ("/teams", {"slug": "platform", "name": "again"}, "already exists"),
        ("/teams", {"slug": "ok", "name": "x" * 300}, "longer than 200"),
        ("/teams", {"slug": "ok", "name": "bell\x07"}, "control character"),
        ("/teams/members", {"slug": "platform", "email": "<img src=x>", "role": "lead"}, "not an email address"),
        ("/teams/members", {"slug": "platform", "email": "a@example.com", "role": "owner"}, "must be one of"),
        ("/teams/members", {"slug": "nope", "email": "a@example.com", "role": "lead"}, "no team"),
        ("/teams/members", {"slug": "platform", "email": "a@example.com\x00", "role": "lead"}, "NUL"),
        ("/teams/members/remove", {"slug": "platform", "email": "zed@example.com"}, "not in team"),
        ("/teams/delete", {"slug": "nope", "confirm": "yes"}, "no team"),
        ("/teams/delete", {"slug": "bad slug"}, "must be 1–100"),
    ):
        response = ada.post(path, data={**form, "_csrf_token": token}, headers=HTMX)
        assert response.status_code == 400, (path, form, response.status_code)
        assert message in response.text, (path, message)
        assert "<script>alert(1)</script>" not in response.text and "<img src=x>" not in response.text
    no_csrf = ada.post("/teams", data={"slug": "sneaky"}, headers=HTMX)
    assert no_csrf.status_code == 403
    assert state(database_url) == before


def test_csv_upload_is_all_or_nothing(signed_in, clean_db, database_url) -> None:
    ada = signed_in("ada@example.com")
    token = csrf(ada)
    bad = ada.post(
        "/teams/import",
        data={"_csrf_token": token},
        files={"file": ("teams.csv", b"team,email,role\nweb,ann@example.com,lead\nweb,bob@example.com,chief\n")},
        headers=HTMX,
    )
    assert bad.status_code == 400
    assert "teams.csv was not imported" in bad.text
    assert "line 3, column role: role &#39;chief&#39; must be one of lead, member" in bad.text
    assert sql_value(database_url, "SELECT COUNT(*) FROM teams") == 0
    good = ada.post(
        "/teams/import",
        data={"_csrf_token": token},
        files={"file": ("teams.csv", b"web,ann@example.com,lead\nweb,bob@example.com\n")},
        headers=HTMX,
    )
    assert good.status_code == 200 and "2 row(s): 2 added, 0 changed, 0 unchanged, 1 team(s) created" in good.text
    assert sql_value(database_url, "SELECT actor FROM audit_events WHERE action = 'team.import'") == "ada@example.com"
