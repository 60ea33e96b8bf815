"""Store the GitHub org teams a sync fetched: teams, memberships and unmapped logins, in the caller's transaction.

The sync owns only rows of source `github`; rows an admin made (`manual`, `import`) and an admin's removals
(tombstones, `removed_at`) are never changed by it — manual edits win (domain/teams.py: plan_member_sync).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.teams import SYNC_SOURCE, StoredMember, SyncedMember, plan_member_sync
from abacus.models import IdentityMapping, Team, TeamMember, TeamUnmappedMember


@dataclass(frozen=True)
class FetchedMember:
    login: str
    user_id: str
    role: str  # lead (GitHub maintainer) or member


@dataclass(frozen=True)
class FetchedTeam:
    slug: str
    name: str
    members: tuple[FetchedMember, ...]


@dataclass
class TeamSyncCounts:
    teams_added: int = 0
    teams_removed: int = 0
    members_written: int = 0
    members_removed: int = 0
    unmapped: list[str] = field(default_factory=list)  # "team/login"

    @property
    def changes(self) -> int:
        return self.teams_added + self.teams_removed + self.members_written + self.members_removed


async def emails_for_github_users(db: AsyncSession, members: Sequence[FetchedMember]) -> dict[str, str]:
    """GitHub user id (or, failing that, login) → mapped email, from the `github` identity mappings."""
    keys = sorted({m.user_id for m in members} | {m.login for m in members})
    if not keys:
        return {}
    rows = await db.execute(
        select(IdentityMapping.external_id, IdentityMapping.email).where(
            IdentityMapping.source == SYNC_SOURCE, IdentityMapping.external_id.in_(keys)
        )
    )
    return {r.external_id: r.email for r in rows}


async def store_github_teams(db: AsyncSession, teams: Sequence[FetchedTeam]) -> TeamSyncCounts:
    """Merge the org's teams into the tables (idempotent: a second run with the same answer changes nothing).

    A team GitHub no longer lists loses its synced members; it is deleted only when nothing an admin added is left
    in it (otherwise it stays, now as the admin's own team)."""
    counts = TeamSyncCounts()
    lookup = await emails_for_github_users(db, [m for t in teams for m in t.members])
    stored_teams = {t.slug: t for t in (await db.execute(select(Team).with_for_update())).scalars()}
    for team in teams:
        existing = stored_teams.get(team.slug)
        if existing is None:
            await db.execute(insert(Team).values(slug=team.slug, name=team.name, source=SYNC_SOURCE))
            counts.teams_added += 1
        elif existing.removed_at is not None:
            continue  # an admin removed this synced team: it stays removed
        elif existing.source == SYNC_SOURCE and existing.name != team.name:
            existing.name = team.name
            existing.updated_at = func.now()
        synced = [
            SyncedMember(m.login, m.user_id, m.role, lookup.get(m.user_id) or lookup.get(m.login)) for m in team.members
        ]
        rows = (await db.execute(select(TeamMember).where(TeamMember.team_slug == team.slug))).scalars()
        stored = {r.email: StoredMember(r.email, r.role, r.source, r.removed_at is not None) for r in rows}
        plan = plan_member_sync(stored, synced)
        for email, (role, login) in plan.upsert.items():
            stmt = insert(TeamMember).values(
                team_slug=team.slug, email=email, role=role, source=SYNC_SOURCE, github_login=login
            )
            await db.execute(
                stmt.on_conflict_do_update(
                    index_elements=["team_slug", "email"],
                    set_={"role": role, "github_login": login, "updated_at": func.now(), "removed_at": None},
                    where=TeamMember.source == SYNC_SOURCE,
                )
            )
        if plan.delete:
            await db.execute(
                delete(TeamMember).where(
                    TeamMember.team_slug == team.slug,
                    TeamMember.source == SYNC_SOURCE,
                    TeamMember.email.in_(plan.delete),
                )
            )
        counts.members_written += len(plan.upsert)
        counts.members_removed += len(plan.delete)
        await _replace_unmapped(db, team.slug, plan.unmapped)
        counts.unmapped.extend(f"{team.slug}/{login}" for login in sorted(plan.unmapped))
    listed = {t.slug for t in teams}
    for slug, existing in stored_teams.items():
        if slug in listed or existing.source != SYNC_SOURCE or existing.removed_at is not None:
            continue
        gone = await db.execute(
            delete(TeamMember).where(TeamMember.team_slug == slug, TeamMember.source == SYNC_SOURCE)
        )
        counts.members_removed += gone.rowcount  # type: ignore[attr-defined]
        await db.execute(delete(TeamUnmappedMember).where(TeamUnmappedMember.team_slug == slug))
        left = await db.scalar(select(func.count()).select_from(TeamMember).where(TeamMember.team_slug == slug))
        if left:
            await db.execute(update(Team).where(Team.slug == slug).values(source="manual", updated_at=func.now()))
        else:
            await db.execute(delete(Team).where(Team.slug == slug))
            counts.teams_removed += 1
    return counts


async def _replace_unmapped(db: AsyncSession, slug: str, unmapped: dict[str, str]) -> None:
    current = {
        r.login: r.role
        for r in (await db.execute(select(TeamUnmappedMember).where(TeamUnmappedMember.team_slug == slug))).scalars()
    }
    if current == unmapped:
        return  # nothing to write: an unchanged sync leaves the data version alone
    await db.execute(delete(TeamUnmappedMember).where(TeamUnmappedMember.team_slug == slug))
    if unmapped:
        await db.execute(
            insert(TeamUnmappedMember).values(
                [{"team_slug": slug, "login": login, "role": role} for login, role in sorted(unmapped.items())]
            )
        )
