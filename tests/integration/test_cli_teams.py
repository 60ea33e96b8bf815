"""`abacus teams import|list|add|remove` on the real database: all-or-nothing imports with line and column,
idempotent re-imports, and every change audited as cli:<user>."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from abacus.cli import app, common
from abacus.services.audit import cli_actor
from tests.integration.pages_support import sql_value


@pytest.fixture()
def env(clean_db: None, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(common.console, "width", 200)
    return {
        "DATABASE_URL": database_url,
        "ABACUS_ENV": "dev",
        "CURSOR_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEY": "",
        "GITHUB_TOKEN": "",
    }


def teams(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, ["teams", *args], env=env)


def members(database_url: str) -> str:
    return str(
        sql_value(
            database_url,
            "SELECT COALESCE(string_agg(team_slug || '/' || email || '/' || role || '/' || source, ' '"
            " ORDER BY team_slug, email), '') FROM team_members WHERE removed_at IS NULL",
        )
    )


def test_import_is_all_or_nothing_then_idempotent_and_audited(env, tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("team,email,role\nplatform,ada@example.com,lead\nmobile,not-an-email\nweb,bob@example.com,boss\n")
    refused = teams(env, "import", str(bad))
    assert refused.exit_code == 1
    assert "bad.csv: line 3, column email: 'not-an-email' is not an email address" in refused.output
    assert "bad.csv: line 4, column role: role 'boss' must be one of lead, member" in refused.output
    assert "nothing imported: 2 problem(s)" in refused.output
    assert sql_value(database_url, "SELECT COUNT(*) FROM teams") == 0
    assert sql_value(database_url, "SELECT COUNT(*) FROM audit_events") == 0

    good = tmp_path / "teams.csv"
    good.write_text(
        "team,email,role\nplatform,Ada@Example.com,lead\nplatform,bob@example.com\nmobile,bob@example.com,member\n"
    )
    first = teams(env, "import", str(good))
    assert first.exit_code == 0, first.output
    assert "3 row(s): 3 added, 0 changed, 0 unchanged, 2 team(s) created" in first.output
    expected = (
        "mobile/bob@example.com/member/import platform/ada@example.com/lead/import "
        "platform/bob@example.com/member/import"
    )
    assert members(database_url) == expected
    again = teams(env, "import", str(good))
    assert again.exit_code == 0 and "3 row(s): 0 added, 0 changed, 3 unchanged" in again.output
    assert members(database_url) == expected
    assert sql_value(database_url, "SELECT string_agg(actor, ',') FROM audit_events WHERE action = 'team.import'") == (
        f"{cli_actor()},{cli_actor()}"
    )
    assert "teams.csv" in str(sql_value(database_url, "SELECT target FROM audit_events ORDER BY id LIMIT 1"))


def test_add_list_remove(env, database_url: str) -> None:
    assert teams(env, "add", "Data", "--name", "Data Eng").exit_code == 0
    assert teams(env, "add", "data").exit_code == 1
    added = teams(env, "add", "data", "cy@example.com", "--role", "lead")
    assert added.exit_code == 0 and "added cy@example.com to data as lead" in added.output
    role = teams(env, "add", "data", "cy@example.com", "--role", "member")
    assert role.exit_code == 0 and "cy@example.com in data: lead → member" in role.output
    same = teams(env, "add", "data", "cy@example.com", "--role", "member")
    assert "nothing changed" in same.output
    assert teams(env, "add", "data", "dee@example.com", "--role", "boss").exit_code == 1
    assert teams(env, "add", "bad slug", "dee@example.com").exit_code == 1

    listed = teams(env, "list", "--json")
    assert listed.exit_code == 0, listed.output
    body = json.loads(listed.output)
    assert body == [
        {
            "slug": "data",
            "name": "Data Eng",
            "source": "manual",
            "members": [{"email": "cy@example.com", "role": "member", "source": "manual"}],
            "unmapped_github_logins": [],
        }
    ]
    table = teams(env, "list")
    assert "data" in table.output and "1 team(s), 1 people" in table.output
    assert teams(env, "list", "nope").exit_code == 1

    assert teams(env, "remove", "data", "zed@example.com").exit_code == 1
    assert teams(env, "remove", "data", "cy@example.com").exit_code == 0
    assert members(database_url) == ""
    assert teams(env, "remove", "data").exit_code == 0
    assert sql_value(database_url, "SELECT COUNT(*) FROM teams") == 0
    actions = sql_value(database_url, "SELECT string_agg(action, ',' ORDER BY id) FROM audit_events")
    assert actions == "team.create,team.member.add,team.member.role,team.member.remove,team.delete"
    assert sql_value(database_url, "SELECT COUNT(DISTINCT actor) FROM audit_events") == 1


def test_unreadable_and_binary_files_are_refused(env, tmp_path: Path, database_url: str) -> None:
    assert "cannot read" in teams(env, "import", str(tmp_path / "missing.csv")).output
    binary = tmp_path / "nul.csv"
    binary.write_bytes(b"platform,ada@example.com\nweb,b\x00ob@example.com\n")
    refused = teams(env, "import", str(binary))
    assert refused.exit_code == 1 and "line 2: contains a NUL byte" in refused.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("platform,jos\xe9@example.com\n".encode("latin-1"))
    assert "not UTF-8" in teams(env, "import", str(latin)).output
    assert sql_value(database_url, "SELECT COUNT(*) FROM team_members") == 0
