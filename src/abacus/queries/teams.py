"""The /teams page's read side: every team with its members and its GitHub members not yet mapped to an email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.activity import acceptance_rate
from abacus.domain.identities import UNMAPPED_PREFIX
from abacus.domain.periods import DateRange
from abacus.domain.teams import TEAMS_STATE_ID
from abacus.domain.usage import rate_percent
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.models import AuditEvent, SyncState, Team, TeamMember, TeamUnmappedMember
from abacus.queries.cache import cached
from abacus.queries.seats import seats_view


@dataclass(frozen=True)
class TeamMemberRow:
    email: str
    role: str
    source: str
    github_login: str | None


@dataclass(frozen=True)
class TeamRow:
    slug: str
    name: str
    source: str
    members: tuple[TeamMemberRow, ...]
    unmapped: tuple[tuple[str, str], ...]  # (GitHub login, role)
    hidden_members: int = 0
    """Members the viewer may not see (docs/security.md §6): counted, not listed."""

    @property
    def leads(self) -> tuple[TeamMemberRow, ...]:
        return tuple(m for m in self.members if m.role == "lead")


@dataclass(frozen=True)
class TeamsView:
    teams: tuple[TeamRow, ...]
    last_sync_at: datetime | None
    last_sync_error: str | None

    @property
    def people(self) -> int:
        """People in at least one team (a person in two teams counts once)."""
        return len({m.email for t in self.teams for m in t.members})

    def team(self, slug: str) -> TeamRow | None:
        return next((t for t in self.teams if t.slug == slug), None)


async def teams_view(db: AsyncSession, viewer: Viewer = EVERYONE) -> TeamsView:
    """Live teams (an admin's removals left out) by name, members leads first then by email; only the members
    `viewer` may see are listed (the others counted), and GitHub logins not yet mapped only to those who see
    everybody."""
    teams = (await db.execute(select(Team).where(Team.removed_at.is_(None)).order_by(Team.name, Team.slug))).scalars()
    members: dict[str, list[TeamMemberRow]] = {}
    for r in await db.execute(
        select(TeamMember)
        .where(TeamMember.removed_at.is_(None))
        .order_by(TeamMember.team_slug, TeamMember.role, TeamMember.email)
    ):
        m = r[0]
        members.setdefault(m.team_slug, []).append(TeamMemberRow(m.email, m.role, m.source, m.github_login))
    unmapped: dict[str, list[tuple[str, str]]] = {}
    for u in (await db.execute(select(TeamUnmappedMember).order_by(TeamUnmappedMember.login))).scalars():
        unmapped.setdefault(u.team_slug, []).append((u.login, u.role))
    state = (await db.execute(select(SyncState).where(SyncState.id == TEAMS_STATE_ID))).scalar_one_or_none()
    if not viewer.sees_everyone:
        unmapped = {}
    rows = tuple(
        TeamRow(
            t.slug,
            t.name,
            t.source,
            tuple(m for m in members.get(t.slug, ()) if viewer.sees(m.email)),
            tuple(unmapped.get(t.slug, ())),
            sum(1 for m in members.get(t.slug, ()) if not viewer.sees(m.email)),
        )
        for t in teams
    )
    error = state.last_error if state is not None else None
    return TeamsView(rows, state.last_success_at if state is not None else None, error)


TEAM_SIZES_SQL = text("""
SELECT t.slug, t.name, COUNT(m.email) AS size
FROM teams t LEFT JOIN team_members m ON m.team_slug = t.slug AND m.removed_at IS NULL
WHERE t.removed_at IS NULL
GROUP BY t.slug, t.name
ORDER BY t.name
""")


async def team_slugs(db: AsyncSession, viewer: Viewer = EVERYONE) -> list[tuple[str, str]]:
    """(slug, name) of every live team `viewer` may see the aggregate of, by name: the choices of a team filter (a
    team of fewer than ABACUS_MIN_GROUP people is left out for a scoped viewer outside it, docs/security.md §6)."""
    rows = await db.execute(TEAM_SIZES_SQL)
    return [(r.slug, r.name) for r in rows if viewer.sees_team(r.slug, int(r.size))]


@dataclass(frozen=True)
class TeamChange:
    at: datetime
    actor: str
    action: str
    target: str
    before: object
    after: object


async def recent_team_changes(db: AsyncSession, limit: int = 20) -> list[TeamChange]:
    """The latest audited team edits (page, CLI and imports), newest first: who, when, before → after."""
    rows = (
        await db.execute(
            select(AuditEvent)
            .where(AuditEvent.action.like("team.%"))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    ).scalars()
    return [TeamChange(r.at, r.actor, r.action, r.target, r.before, r.after) for r in rows]


@dataclass(frozen=True)
class TeamUsageRow:
    """One team's figures over a range: its members, those with usage (active), their tokens and cost, and what
    the AI produced for them (M-LINES, M-ACCEPT's parts)."""

    slug: str
    name: str
    members: int
    active: int
    total_tokens: int
    total_cost: Decimal
    lines_added: int = 0
    accepted: int = 0
    suggested: int = 0
    commits: int = 0
    ai_commits: int = 0
    idle_spend: Decimal = Decimal(0)
    """M-IDLE-SPEND of the members' seats: the seat cost over the range of those idle (docs/metrics.md §11)."""

    @property
    def acceptance_rate(self) -> Fraction | None:
        return acceptance_rate(self.accepted, self.suggested)

    @property
    def ai_commit_share(self) -> int | None:
        """M-AI-RATE over the members' commits (integer %), None without commits."""
        return rate_percent(self.ai_commits, self.commits) if self.commits else None


@dataclass(frozen=True)
class TeamGroups:
    """The Team page grouped by team. `rows` count a person in two teams in both; `everyone_in_teams` counts each
    person once (the figure to compare with org totals)."""

    rows: tuple[TeamUsageRow, ...]
    everyone_in_teams: TeamUsageRow


_TEAM_GROUPS = text(
    """
    WITH per_person AS (
      SELECT email, SUM(total_tokens) AS tokens, SUM(cost) AS cost
      FROM usage_user_daily
      WHERE date BETWEEN :start AND :end AND email NOT LIKE :unmapped
      GROUP BY email
    ), per_activity AS (
      SELECT email, SUM(lines_added) AS lines, SUM(accepted) AS accepted, SUM(suggested) AS suggested
      FROM activity_daily
      WHERE date BETWEEN :start AND :end AND email NOT LIKE :unmapped
      GROUP BY email
    ), per_author AS (  -- commits as the commit rollups count them (a bot's only when AI), by author email
      SELECT author_email AS email, COUNT(*) AS commits, COUNT(ai_tool) AS ai_commits
      FROM commits
      WHERE NOT (is_bot AND ai_tool IS NULL) AND author_email IS NOT NULL
        AND committed_at >= CAST(:start AS date) AT TIME ZONE 'UTC'
        AND committed_at < CAST(:after AS date) AT TIME ZONE 'UTC'
      GROUP BY author_email
    ), membership AS (
      SELECT m.team_slug, m.email FROM team_members m
      JOIN teams t ON t.slug = m.team_slug AND t.removed_at IS NULL
      WHERE m.removed_at IS NULL
    )
    SELECT t.slug, t.name, COUNT(m.email) AS members, COUNT(p.email) AS active,
           COALESCE(SUM(p.tokens), 0) AS tokens, COALESCE(SUM(p.cost), 0) AS cost,
           COALESCE(SUM(a.lines), 0) AS lines, COALESCE(SUM(a.accepted), 0) AS accepted,
           COALESCE(SUM(a.suggested), 0) AS suggested,
           COALESCE(SUM(c.commits), 0) AS commits, COALESCE(SUM(c.ai_commits), 0) AS ai_commits,
           array_remove(array_agg(m.email), NULL) AS emails
    FROM teams t
    LEFT JOIN membership m ON m.team_slug = t.slug
    LEFT JOIN per_person p ON p.email = m.email
    LEFT JOIN per_activity a ON a.email = m.email
    LEFT JOIN per_author c ON c.email = m.email
    WHERE t.removed_at IS NULL
    GROUP BY t.slug, t.name
    UNION ALL
    SELECT NULL, NULL, COUNT(*), COUNT(p.email), COALESCE(SUM(p.tokens), 0), COALESCE(SUM(p.cost), 0),
           COALESCE(SUM(a.lines), 0), COALESCE(SUM(a.accepted), 0), COALESCE(SUM(a.suggested), 0),
           COALESCE(SUM(c.commits), 0), COALESCE(SUM(c.ai_commits), 0), array_remove(array_agg(people.email), NULL)
    FROM (SELECT DISTINCT email FROM membership) people
    LEFT JOIN per_person p ON p.email = people.email
    LEFT JOIN per_activity a ON a.email = people.email
    LEFT JOIN per_author c ON c.email = people.email
    """
)


@cached
async def team_groups(db: AsyncSession, rng: DateRange, idle_after_days: int, viewer: Viewer = EVERYONE) -> TeamGroups:
    """One row per live team over `rng` (tokens desc, then slug) and the same figures for everyone in any team,
    each person once. Reads the (date, email, tool) rollup like the Team page, so a team's tokens and cost sum that
    page's rows of its members, `activity_daily` for lines added and acceptance (docs/metrics.md §10), the members'
    commits for the AI-commit share, and the Seats page's seat lines (idle after `idle_after_days`) for idle spend.
    Teams whose aggregate `viewer` may not see (fewer than ABACUS_MIN_GROUP people, docs/security.md §6) are left
    out of the rows; the last line still counts everyone in any team."""
    params = {
        "start": rng.start,
        "end": rng.end,
        "after": rng.end + timedelta(days=1),
        "unmapped": f"{UNMAPPED_PREFIX}%",
    }
    rows = (await db.execute(_TEAM_GROUPS, params)).all()
    seats = await seats_view(db, rng, idle_after_days=idle_after_days)
    idle_by_email: dict[str, Decimal] = {}
    for line in seats.seats:
        if line.idle:
            idle_by_email[line.email] = idle_by_email.get(line.email, Decimal(0)) + line.cost

    def usage_row(r: Any, slug: str, name: str) -> TeamUsageRow:
        return TeamUsageRow(
            slug,
            name,
            int(r.members),
            int(r.active),
            int(r.tokens),
            Decimal(r.cost),
            int(r.lines),
            int(r.accepted),
            int(r.suggested),
            int(r.commits),
            int(r.ai_commits),
            sum((idle_by_email.get(email, Decimal(0)) for email in set(r.emails or ())), Decimal(0)),
        )

    teams = [
        usage_row(r, r.slug, r.name) for r in rows if r.slug is not None and viewer.sees_team(r.slug, int(r.members))
    ]
    everyone = usage_row(next(r for r in rows if r.slug is None), "", "In any team")
    return TeamGroups(tuple(sorted(teams, key=lambda t: (-t.total_tokens, t.slug))), everyone)
