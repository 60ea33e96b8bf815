"""Teams, pure: the `team,email[,role]` CSV, the value rules, and how a GitHub sync merges with admin edits."""

from __future__ import annotations

import pytest

from abacus.domain.teams import (
    StoredMember,
    SyncedMember,
    TeamError,
    parse_team_csv,
    plan_member_sync,
    validate_role,
    validate_slug,
)
from abacus.providers.github import parse_team, parse_team_members
from abacus.records import ProviderError


@pytest.mark.parametrize(
    ("text", "rows", "problems"),
    [
        ("team,email\nplatform,a@x.io\n", [("platform", "a@x.io", "member", 2)], []),
        ("team,email,role\nPlatform, A@X.io ,LEAD\n", [("platform", "a@x.io", "lead", 2)], []),
        (
            "platform,a@x.io\nmobile,a@x.io,lead\n",
            [("platform", "a@x.io", "member", 1), ("mobile", "a@x.io", "lead", 2)],
            [],
        ),
        ("platform,a@x.io\nplatform,a@x.io\n", [("platform", "a@x.io", "member", 1)], []),
        (
            "platform,a@x.io,lead\nplatform,a@x.io,member\n",
            None,
            ["line 2, column role: a@x.io in platform is lead on line 1 and member here"],
        ),
        ("team,email\nplatform,not-an-email\n", None, ["line 2, column email: 'not-an-email' is not an email address"]),
        ("platform,a@x.io,boss\n", None, ["line 1, column role: role 'boss' must be one of lead, member"]),
        (
            "bad slug!,a@x.io\n",
            None,
            [
                "line 1, column team: team slug 'bad slug!' must be 1–100 of a–z, 0–9, '.', '_' or '-', "
                "starting and ending with a letter or digit"
            ],
        ),
        ("platform\n", None, ["line 1: expected 2 or 3 columns (team,email[,role]), found 1"]),
        (
            "platform,a@x.io\nweb,b@x.io,member,extra\n",
            None,
            ["line 2: expected 2 or 3 columns (team,email[,role]), found 4"],
        ),
        ("", None, ["line 1: no rows: expected team,email[,role] lines"]),
        ("team,email\n", None, ["line 1: no rows: expected team,email[,role] lines"]),
        ("platform,a@x.io\nweb,b\x00@x.io\n", None, ["line 2: contains a NUL byte"]),
        ("platform,a\x01@x.io\n", None, ["line 1, column email: email contains a control character"]),
        ("\n\nplatform,a@x.io\n", [("platform", "a@x.io", "member", 3)], []),
        (
            "x,bad\ny,also-bad,chief\n",
            None,
            [
                "line 1, column email: 'bad' is not an email address",
                "line 2, column email: 'also-bad' is not an email address",
                "line 2, column role: role 'chief' must be one of lead, member",
            ],
        ),
    ],
)
def test_team_csv(text: str, rows: list[tuple[str, str, str, int]] | None, problems: list[str]) -> None:
    parsed, found = parse_team_csv(text)
    assert [str(p) for p in found] == problems
    if rows is not None:
        assert [(r.team, r.email, r.role, r.line) for r in parsed] == rows


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("platform", "platform"), (" Web-Team ", "web-team"), ("a", "a"), ("data.eng_2", "data.eng_2")],
)
def test_valid_slugs(raw: str, expected: str) -> None:
    assert validate_slug(raw) == expected


@pytest.mark.parametrize("raw", ["", "-x", "x-", "a b", "x" * 101, "a\x00b", "é"])
def test_invalid_slugs(raw: str) -> None:
    with pytest.raises(TeamError):
        validate_slug(raw)


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, "member"), ("", "member"), ("Lead", "lead"), ("member", "member")]
)
def test_roles(raw: str | None, expected: str) -> None:
    assert validate_role(raw) == expected


def _stored(*rows: tuple[str, str, str, bool]) -> dict[str, StoredMember]:
    return {email: StoredMember(email, role, source, removed) for email, role, source, removed in rows}


def _synced(*rows: tuple[str, str, str | None]) -> list[SyncedMember]:
    return [SyncedMember(login, f"id-{login}", role, email) for login, role, email in rows]


@pytest.mark.parametrize(
    ("stored", "synced", "upsert", "delete", "unmapped"),
    [
        # first sync: every mapped member is written, the unmapped login kept apart
        (
            {},
            [("ann", "lead", "ann@x.io"), ("bob", "member", "bob@x.io"), ("zed", "member", None)],
            {"ann@x.io": ("lead", "ann"), "bob@x.io": ("member", "bob")},
            [],
            {"zed": "member"},
        ),
        # the same answer again: nothing to write
        ({"ann@x.io": ("ann@x.io", "lead", "github", False)}, [("ann", "lead", "ann@x.io")], {}, [], {}),
        # GitHub changed a role: the synced row follows
        (
            {"ann@x.io": ("ann@x.io", "lead", "github", False)},
            [("ann", "member", "ann@x.io")],
            {"ann@x.io": ("member", "ann")},
            [],
            {},
        ),
        # an admin's role wins over GitHub's
        ({"ann@x.io": ("ann@x.io", "lead", "manual", False)}, [("ann", "member", "ann@x.io")], {}, [], {}),
        # an imported row wins too
        ({"ann@x.io": ("ann@x.io", "member", "import", False)}, [("ann", "lead", "ann@x.io")], {}, [], {}),
        # an admin removed a synced member: the tombstone keeps them out
        ({"ann@x.io": ("ann@x.io", "member", "manual", True)}, [("ann", "member", "ann@x.io")], {}, [], {}),
        # GitHub dropped a synced member: deleted; a manual member GitHub does not list stays
        (
            {"ann@x.io": ("ann@x.io", "member", "github", False), "cy@x.io": ("cy@x.io", "member", "manual", False)},
            [],
            {},
            ["ann@x.io"],
            {},
        ),
        # two logins mapped to one person: one row, a lead if either login is
        (
            {},
            [("ann", "member", "ann@x.io"), ("ann-alt", "lead", "ann@x.io")],
            {"ann@x.io": ("lead", "ann-alt")},
            [],
            {},
        ),
    ],
)
def test_plan_member_sync(stored, synced, upsert, delete, unmapped) -> None:  # type: ignore[no-untyped-def]
    plan = plan_member_sync(_stored(*stored.values()), _synced(*synced))
    assert plan.upsert == upsert
    assert plan.delete == delete
    assert plan.unmapped == unmapped


def test_parse_team_members_marks_maintainers_as_leads() -> None:
    members = [{"login": "bob", "id": 2}, {"login": "ann", "id": 1}]
    parsed = parse_team_members("web", members, [{"login": "ann", "id": 1}, {"login": "late", "id": 3}])
    assert [(m.login, m.user_id, m.role) for m in parsed] == [
        ("ann", "1", "lead"),
        ("bob", "2", "member"),
        ("late", "3", "lead"),
    ]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "x"}, "slug"),
        ({"slug": 7}, "slug is not a string"),
        ({"slug": "bad slug"}, "must be 1–100"),
        ("team", "expected a JSON object"),
    ],
)
def test_parse_team_refuses_malformed(item: object, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        parse_team(item)


@pytest.mark.parametrize(
    "member", [{"login": "a", "id": "1"}, {"login": "", "id": 1}, {"id": 1}, {"login": "a", "id": True}]
)
def test_parse_team_members_refuses_malformed(member: dict[str, object]) -> None:
    with pytest.raises(ProviderError):
        parse_team_members("web", [member], [])


def test_parse_team_defaults_the_name_to_the_slug() -> None:
    assert parse_team({"slug": "Data", "name": " "}) == ("data", "data")
    assert parse_team({"slug": "data", "name": "Data Eng"}) == ("data", "Data Eng")
