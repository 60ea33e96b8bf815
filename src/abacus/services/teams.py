"""Admin edits of teams (the /teams page and `abacus teams`), each audited in the transaction that makes it.

Every function writes in the caller's transaction and adds one audit event (who, what, before → after). Rows an
admin writes get source `manual` (or `import` for a CSV), which the GitHub sync never changes; removing a row the
sync brought leaves a tombstone so the next sync does not bring it back (docs/schema.md, Teams).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.teams import (
    SYNC_SOURCE,
    ImportProblem,
    ImportRow,
    TeamError,
    parse_team_csv,
    validate_member_email,
    validate_name,
    validate_role,
    validate_slug,
)
from abacus.models import Team, TeamMember, TeamUnmappedMember
from abacus.services.audit import record_audit


class TeamImportError(ValueError):
    """A CSV that cannot be imported; `problems` lists every line (and column) at fault. Nothing was written."""

    def __init__(self, problems: Sequence[ImportProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:20]))


async def _live_team(db: AsyncSession, slug: str) -> Team | None:
    return (
        await db.execute(select(Team).where(Team.slug == slug, Team.removed_at.is_(None)).with_for_update())
    ).scalar_one_or_none()


async def _member(db: AsyncSession, slug: str, email: str) -> TeamMember | None:
    return (
        await db.execute(
            select(TeamMember).where(TeamMember.team_slug == slug, TeamMember.email == email).with_for_update()
        )
    ).scalar_one_or_none()


def _member_state(row: TeamMember | None) -> dict[str, Any] | None:
    if row is None or row.removed_at is not None:
        return None
    return {"role": row.role, "source": row.source}


async def team_snapshot(db: AsyncSession, slug: str) -> dict[str, Any] | None:
    """A team as the audit log records it: name, source and members (email → role), or None when absent."""
    team = await _live_team(db, slug)
    if team is None:
        return None
    rows = await db.execute(
        select(TeamMember.email, TeamMember.role)
        .where(TeamMember.team_slug == slug, TeamMember.removed_at.is_(None))
        .order_by(TeamMember.email)
    )
    return {"name": team.name, "source": team.source, "members": {r.email: r.role for r in rows}}


async def create_team(db: AsyncSession, slug: str, name: str, *, actor: str) -> str:
    """A new team (or one an admin removed earlier, back again); returns its slug. An existing team is an error."""
    slug = validate_slug(slug)
    name = validate_name(name, slug)
    if await _live_team(db, slug) is not None:
        raise TeamError(f"team {slug!r} already exists")
    stmt = insert(Team).values(slug=slug, name=name, source="manual")
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["slug"],
            set_={"name": name, "source": "manual", "removed_at": None, "updated_at": func.now()},
        )
    )
    await record_audit(
        db, actor=actor, action="team.create", target=f"team:{slug}", after={"name": name, "members": {}}
    )
    return slug


async def delete_team(db: AsyncSession, slug: str, *, actor: str) -> dict[str, Any]:
    """Remove a team and its memberships; returns what it was. A GitHub team stays removed (a tombstone) until an
    admin creates it again."""
    slug = validate_slug(slug)
    before = await team_snapshot(db, slug)
    if before is None:
        raise TeamError(f"no team {slug!r}")
    if before["source"] == SYNC_SOURCE:
        await db.execute(delete(TeamMember).where(TeamMember.team_slug == slug))
        await db.execute(delete(TeamUnmappedMember).where(TeamUnmappedMember.team_slug == slug))
        await db.execute(update(Team).where(Team.slug == slug).values(removed_at=func.now(), updated_at=func.now()))
    else:
        await db.execute(delete(Team).where(Team.slug == slug))
    await record_audit(db, actor=actor, action="team.delete", target=f"team:{slug}", before=before)
    return before


@dataclass(frozen=True)
class MemberChange:
    slug: str
    email: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


async def _write_member(db: AsyncSession, slug: str, email: str, role: str, source: str) -> None:
    stmt = insert(TeamMember).values(team_slug=slug, email=email, role=role, source=source)
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["team_slug", "email"],
            set_={"role": role, "source": source, "removed_at": None, "updated_at": func.now()},
        )
    )


async def set_member(
    db: AsyncSession, slug: str, email: str, role: str | None, *, actor: str, require_member: bool = False
) -> MemberChange:
    """Add a person to a team or change their role (the row becomes the admin's: the sync leaves it alone).
    `require_member`: only change an existing membership (the role select on /teams). Unchanged → no write."""
    slug, email, role = validate_slug(slug), validate_member_email(email), validate_role(role)
    if await _live_team(db, slug) is None:
        raise TeamError(f"no team {slug!r}")
    row = await _member(db, slug, email)
    before = _member_state(row)
    if require_member and before is None:
        raise TeamError(f"{email} is not in team {slug!r}")
    if before is not None and before["role"] == role and before["source"] != SYNC_SOURCE:
        return MemberChange(slug, email, before, before)
    await _write_member(db, slug, email, role, "manual")
    after = {"role": role, "source": "manual"}
    await record_audit(
        db,
        actor=actor,
        action="team.member.add" if before is None else "team.member.role",
        target=f"team:{slug}/{email}",
        before=before,
        after=after,
    )
    return MemberChange(slug, email, before, after)


async def remove_member(db: AsyncSession, slug: str, email: str, *, actor: str) -> MemberChange:
    """Take a person out of a team; a membership the GitHub sync brought stays out (a tombstone)."""
    slug, email = validate_slug(slug), validate_member_email(email)
    if await _live_team(db, slug) is None:
        raise TeamError(f"no team {slug!r}")
    row = await _member(db, slug, email)
    before = _member_state(row)
    if before is None:
        raise TeamError(f"{email} is not in team {slug!r}")
    if before["source"] == SYNC_SOURCE:
        await db.execute(
            update(TeamMember)
            .where(TeamMember.team_slug == slug, TeamMember.email == email)
            .values(source="manual", removed_at=func.now(), updated_at=func.now())
        )
    else:
        await db.execute(delete(TeamMember).where(TeamMember.team_slug == slug, TeamMember.email == email))
    await record_audit(
        db, actor=actor, action="team.member.remove", target=f"team:{slug}/{email}", before=before, after=None
    )
    return MemberChange(slug, email, before, None)


@dataclass(frozen=True)
class ImportOutcome:
    rows: int
    teams_created: list[str]
    added: int
    changed: int
    unchanged: int

    def describe(self) -> str:
        created = f", {len(self.teams_created)} team(s) created" if self.teams_created else ""
        return f"{self.rows} row(s): {self.added} added, {self.changed} changed, {self.unchanged} unchanged{created}"


async def import_teams_csv(db: AsyncSession, text: str, *, actor: str, file_name: str) -> ImportOutcome:
    """Apply a `team,email[,role]` CSV in the caller's transaction: all rows or, on any problem, none
    (TeamImportError with every line at fault). Missing teams are created; rows become source `import`, which the
    GitHub sync leaves alone. Idempotent: the same file again changes nothing. One audit event per import."""
    rows, problems = parse_team_csv(text)
    if problems:
        raise TeamImportError(problems)
    return await apply_import(db, rows, actor=actor, file_name=file_name)


async def apply_import(db: AsyncSession, rows: Sequence[ImportRow], *, actor: str, file_name: str) -> ImportOutcome:
    teams = {t.slug: t for t in (await db.execute(select(Team).with_for_update())).scalars()}
    created: list[str] = []
    for slug in sorted({r.team for r in rows}):
        team = teams.get(slug)
        if team is None or team.removed_at is not None:
            stmt = insert(Team).values(slug=slug, name=slug, source="import")
            await db.execute(
                stmt.on_conflict_do_update(
                    index_elements=["slug"],
                    set_={"source": "import", "removed_at": None, "updated_at": func.now()},
                )
            )
            created.append(slug)
    stored = {
        (m.team_slug, m.email): m
        for m in (
            await db.execute(
                select(TeamMember).where(TeamMember.team_slug.in_({r.team for r in rows})).with_for_update()
            )
        ).scalars()
    }
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    added = changed = unchanged = 0
    for row in rows:
        state = _member_state(stored.get((row.team, row.email)))
        if state is not None and state["role"] == row.role and state["source"] != SYNC_SOURCE:
            unchanged += 1
            continue
        await _write_member(db, row.team, row.email, row.role, "import")
        key = f"{row.team}/{row.email}"
        before[key], after[key] = state, {"role": row.role, "source": "import"}
        added += state is None
        changed += state is not None
    outcome = ImportOutcome(len(rows), created, added, changed, unchanged)
    await record_audit(
        db,
        actor=actor,
        action="team.import",
        target=f"{file_name}: {outcome.describe()}",
        before=before,
        after={"teams_created": created, "members": after},
    )
    return outcome
