"""Teams, pure: slug/name/email/role rules, the `team,email[,role]` CSV, and how a GitHub sync merges with edits.

Sources of a team or membership row: `github` (the hourly org-team sync), `import` (a CSV) and `manual` (an admin).
Only `github` rows belong to the sync: it may add, change and drop them, never the others (manual edits win).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ROLES = ("lead", "member")
SOURCES = ("github", "import", "manual")
SYNC_SOURCE = "github"
TEAMS_STATE_ID = "github-teams"
"""The sync_state row of the GitHub team sync (its last success and error show on /teams)."""
MAX_SLUG = 100
MAX_NAME = 200
MAX_EMAIL = 255
MAX_IMPORT_BYTES = 5 * 1024 * 1024
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$")
CSV_COLUMNS = ("team", "email", "role")


class TeamError(ValueError):
    """A team, member or role that cannot be stored; the message says which value and why."""


def _printable(value: str, what: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise TeamError(f"{what} contains a control character")
    return value


def validate_slug(raw: str) -> str:
    """The team's key as GitHub spells it: lower case letters, digits, `.`, `_`, `-` (1–100 characters)."""
    slug = _printable(raw, "team slug").strip().lower()
    if not slug:
        raise TeamError("team slug is empty")
    if not _SLUG.match(slug):
        raise TeamError(
            f"team slug {slug[:MAX_SLUG]!r} must be 1–{MAX_SLUG} of a–z, 0–9, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return slug


def validate_name(raw: str, slug: str) -> str:
    """A team's display name (defaults to its slug)."""
    name = _printable(raw, "team name").strip()
    if len(name) > MAX_NAME:
        raise TeamError(f"team name is longer than {MAX_NAME} characters")
    return name or slug


def validate_member_email(raw: str) -> str:
    """A person's work email, lower-cased: one @, a dot in the domain, no spaces."""
    email = _printable(raw, "email").strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "@" in domain
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or any(ch.isspace() for ch in email)
        or len(email) > MAX_EMAIL
    ):
        raise TeamError(f"{email[:MAX_EMAIL]!r} is not an email address")
    return email


def validate_role(raw: str | None) -> str:
    """`lead` or `member`; empty means `member`."""
    role = _printable(raw or "", "role").strip().lower() or "member"
    if role not in ROLES:
        raise TeamError(f"role {role[:40]!r} must be one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class ImportRow:
    team: str
    email: str
    role: str
    line: int


@dataclass(frozen=True)
class ImportProblem:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


def parse_team_csv(text: str) -> tuple[list[ImportRow], list[ImportProblem]]:
    """Rows of a `team,email[,role]` CSV (a header row with those names is optional), or every problem found,
    each with its line and column. A (team, email) listed twice with different roles is a problem, not a guess."""
    problems: list[ImportProblem] = []
    rows: list[ImportRow] = []
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return [], [ImportProblem(line, None, "contains a NUL byte")]
    seen: dict[tuple[str, str], ImportRow] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    try:
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                first = False
                continue
            if first:
                first = False
                if [f.strip().lower() for f in fields[:2]] == ["team", "email"]:
                    extra = [f.strip().lower() for f in fields[2:]]
                    if extra not in ([], ["role"]):
                        problems.append(ImportProblem(line, None, "header must be team,email or team,email,role"))
                    continue
            if len(fields) not in (2, 3):
                problems.append(
                    ImportProblem(line, None, f"expected 2 or 3 columns (team,email[,role]), found {len(fields)}")
                )
                continue
            row_problems = len(problems)
            values: dict[str, str] = {}
            for column, raw, check in (
                ("team", fields[0], validate_slug),
                ("email", fields[1], validate_member_email),
                ("role", fields[2] if len(fields) == 3 else "", validate_role),
            ):
                try:
                    values[column] = check(raw)
                except TeamError as exc:
                    problems.append(ImportProblem(line, column, str(exc)))
            if len(problems) > row_problems:
                continue
            row = ImportRow(values["team"], values["email"], values["role"], line)
            earlier = seen.get((row.team, row.email))
            if earlier is not None:
                if earlier.role != row.role:
                    problems.append(
                        ImportProblem(
                            line,
                            "role",
                            f"{row.email} in {row.team} is {earlier.role} on line {earlier.line} and {row.role} here",
                        )
                    )
                continue
            seen[(row.team, row.email)] = row
            rows.append(row)
    except csv.Error as exc:
        problems.append(ImportProblem(reader.line_num, None, f"not valid CSV: {exc}"))
    if not rows and not problems:
        problems.append(ImportProblem(1, None, "no rows: expected team,email[,role] lines"))
    return rows, problems


@dataclass(frozen=True)
class SyncedMember:
    """One GitHub team member as the sync resolved it: an email (None when the login maps to nobody)."""

    login: str
    user_id: str
    role: str
    email: str | None


@dataclass(frozen=True)
class StoredMember:
    email: str
    role: str
    source: str
    removed: bool


@dataclass(frozen=True)
class MemberPlan:
    """What a sync does to one team's memberships: rows to insert or update (email → role, login), rows to drop."""

    upsert: dict[str, tuple[str, str]]
    delete: list[str]
    unmapped: dict[str, str]  # login → role


def plan_member_sync(stored: Mapping[str, StoredMember], synced: Iterable[SyncedMember]) -> MemberPlan:
    """Merge one team's GitHub members into its stored rows: the sync writes only rows it owns (source github) or
    new ones, drops its own rows GitHub no longer lists, and leaves import/manual rows and tombstones alone. A person
    listed twice (two logins mapped to one email) is a lead if either login is."""
    wanted: dict[str, tuple[str, str]] = {}
    unmapped: dict[str, str] = {}
    for member in synced:
        if member.email is None:
            unmapped[member.login] = member.role
            continue
        earlier = wanted.get(member.email)
        role = "lead" if member.role == "lead" or (earlier and earlier[0] == "lead") else "member"
        wanted[member.email] = (role, member.login)
    upsert: dict[str, tuple[str, str]] = {}
    for email, (role, login) in wanted.items():
        row = stored.get(email)
        if row is not None and row.source != SYNC_SOURCE:
            continue  # an admin's row or tombstone: theirs wins
        if row is not None and row.role == role and not row.removed:
            continue
        upsert[email] = (role, login)
    delete = sorted(e for e, row in stored.items() if row.source == SYNC_SOURCE and e not in wanted)
    return MemberPlan(upsert, delete, unmapped)
