"""The Team pivot (docs/metrics.md §4.1 "Top users and Team table"): one row per mapped person over `usage_user_daily`.

Population: distinct mapped emails with ≥1 rollup row in the range, optionally narrowed by a case-insensitive email
search. Every figure is aggregated in SQL: the page costs a tools statement, a totals statement and a rows statement,
whatever the number of users. The pivot reads the per-(date, email, tool) rollup, about a third of `usage_daily`;
only the favourite model, which needs models, reads `usage_daily`, and only for the emails shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    Numeric,
    Select,
    String,
    cast,
    distinct,
    func,
    literal,
    null,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from abacus.domain.activity import acceptance_rate, cost_per_1k_lines
from abacus.domain.identities import UNMAPPED_PREFIX
from abacus.domain.periods import DateRange
from abacus.domain.tools import CLAUDE_CODE, CURSOR
from abacus.models import (
    ActivityDaily,
    UsagePersonMonthly,
    UsagePersonWeekly,
    UsageUserDaily,
    UsageUserMonthly,
    UsageUserTool,
    UsageUserWeekly,
)
from abacus.models import TeamMember as TeamMembership
from abacus.queries.cache import cached
from abacus.queries.usage import PeriodSplit, period_split

PAGE_SIZE = 100
TOOL_KEY_PREFIX = "tool_"
DEDICATED_TOOLS = (CLAUDE_CODE, CURSOR)
"""Tools with their own familiar Team columns; every other tool present gets a `tool_<tool>` column."""

SORT_COLUMNS = (
    "email", "totalTokens", "totalCost", "claudeCodeTokens", "cursorTokens", "inputTokens", "outputTokens",
    "firstActive", "lastActive", "daysActive", "avgTokensPerDay", "linesAdded", "acceptanceRate", "activityDays",
    "costPer1kLines",
)  # fmt: skip
"""Fixed sort keys (docs/pages.md §4); `tool_<tool>` keys are added per tool present."""

_user = UsageUserDaily.__table__
_spans = UsageUserTool.__table__
_monthly = UsageUserMonthly.__table__
_person = UsagePersonMonthly.__table__
_weekly = UsageUserWeekly.__table__
_person_weekly = UsagePersonWeekly.__table__


@dataclass(frozen=True)
class TeamTools:
    """Tools the Team page knows about: `known` = every tool with rollup rows (all time, for validating column and
    sort keys), `present` = tools with mapped rows in the range, tokens desc (then key)."""

    known: tuple[str, ...]
    present: tuple[str, ...]

    @property
    def other_present(self) -> tuple[str, ...]:
        return tuple(t for t in self.present if t not in DEDICATED_TOOLS)

    @property
    def other_known(self) -> tuple[str, ...]:
        return tuple(t for t in self.known if t not in DEDICATED_TOOLS)

    def tool_columns(self, keys: Iterable[str]) -> tuple[str, ...]:
        """The one rule for which per-tool `tool_<tool>` columns the Team table has — on the page and in
        /api/v1/users/pivot alike: every tool with mapped usage in the range (tokens desc), then any other known tool
        whose key is asked for (a chosen column or the sort key), in key order. Claude Code and Cursor have their own
        columns, always there, so they are never in this list."""
        wanted = set(keys)
        asked = tuple(t for t in self.other_known if tool_sort_key(t) in wanted and t not in self.other_present)
        return self.other_present + asked


@dataclass(frozen=True)
class TeamQuery:
    """What selects and orders the population. `email_pattern` is an ILIKE pattern with `\\` as escape (or None);
    `team_slug` keeps only that team's members (or None: everyone);
    `tools` are the tools whose per-tool token sums are computed (Claude Code and Cursor are always added);
    `people` (a viewer's scope, docs/security.md §6) keeps only those emails as rows (None: everyone)."""

    rng: DateRange
    today: date
    email_pattern: str | None = None
    team_slug: str | None = None
    people: tuple[str, ...] | None = None
    sort: str = "totalTokens"
    descending: bool = True
    tools: tuple[str, ...] = ()

    @property
    def tool_columns(self) -> tuple[str, ...]:
        ordered = list(DEDICATED_TOOLS)
        ordered += [t for t in self.tools if t not in ordered]
        return tuple(ordered)


@dataclass(frozen=True)
class TeamMember:
    email: str
    total_tokens: int
    total_cost: Decimal
    tool_tokens: dict[str, int]
    """Tokens per tool for every tool of `TeamQuery.tool_columns` (0 when unused)."""
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    first_active: date
    last_active: date
    """All time ("last seen"), not range-bound."""
    days_active: int
    avg_tokens_per_day: int
    tool_count: int
    has_thinking_models: bool
    days_since_last_active: int
    lines_added: int = 0
    """Activity in the range (docs/metrics.md §10): M-LINES, M-ACCEPT's parts and M-ACTIVE-DAYS."""
    accepted: int = 0
    suggested: int = 0
    activity_days: int = 0

    @property
    def acceptance_rate(self) -> Fraction | None:
        return acceptance_rate(self.accepted, self.suggested)

    @property
    def cost_per_1k_lines(self) -> Decimal | None:
        return cost_per_1k_lines(self.total_cost, self.lines_added)

    @property
    def cache_write_tokens(self) -> int:
        """What the total holds beyond input, output and cache reads: every rollup's total is the sum of the four
        token kinds, so this is exactly the cache-write (cache creation) tokens of the same rows."""
        return self.total_tokens - self.input_tokens - self.output_tokens - self.cache_read_tokens

    @property
    def claude_code_tokens(self) -> int:
        return self.tool_tokens.get(CLAUDE_CODE, 0)

    @property
    def cursor_tokens(self) -> int:
        return self.tool_tokens.get(CURSOR, 0)


@dataclass(frozen=True)
class TeamTotals:
    """M-TEAM-COUNT and the footer sums over the whole population (not just one page)."""

    count: int
    total_tokens: int
    total_cost: Decimal
    tool_tokens: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamPage:
    totals: TeamTotals
    """Over the whole population, hidden people included (they are in `others`)."""
    members: list[TeamMember]
    page: int
    """The page shown: the requested one clamped to [1, pages]."""
    pages: int
    others: TeamTotals | None = None
    """The people of the population the viewer may not see, summed into one row (docs/security.md §6)."""


def tool_sort_key(tool: str) -> str:
    return f"{TOOL_KEY_PREFIX}{tool}"


def sort_keys(tools: Sequence[str]) -> tuple[str, ...]:
    """The sort allow-list: the fixed keys plus `tool_<tool>` for each non-dedicated tool given."""
    return SORT_COLUMNS + tuple(tool_sort_key(t) for t in tools if t not in DEDICATED_TOOLS)


KNOWN_TOOLS_SQL = text("""
WITH known AS (SELECT DISTINCT tool FROM usage_tool_daily),
in_range AS (
  SELECT tool, SUM(total_tokens) AS tokens FROM usage_tool_daily WHERE date BETWEEN :start AND :end GROUP BY tool
),
unmapped AS (
  SELECT tool, SUM(total_tokens) AS tokens FROM usage_user_daily
  WHERE email LIKE 'unmapped:%' AND date BETWEEN :start AND :end GROUP BY tool
)
SELECT known.tool,
       EXISTS (SELECT 1 FROM usage_user_daily u WHERE u.tool = known.tool AND u.date BETWEEN :start AND :end
               AND u.email NOT LIKE 'unmapped:%') AS present,
       COALESCE(in_range.tokens, 0) - COALESCE(unmapped.tokens, 0) AS tokens
FROM known LEFT JOIN in_range USING (tool) LEFT JOIN unmapped USING (tool)
""")
"""Mapped tokens per tool = all tokens (the people-less rollup, small) minus the unmapped ones (few emails)."""


@cached
async def team_tools(db: AsyncSession, rng: DateRange) -> TeamTools:
    """All tools ever seen and those with mapped usage in the range, tokens desc (one statement over the rollups)."""
    rows = (await db.execute(KNOWN_TOOLS_SQL, {"start": rng.start, "end": rng.end})).all()
    known = tuple(sorted(r.tool for r in rows))
    present = tuple(r.tool for r in sorted((r for r in rows if r.present), key=lambda r: (-int(r.tokens), r.tool)))
    return TeamTools(known=known, present=present)


def _tool_label(index: int) -> str:
    return f"tool_{index}"


def _team_emails(slug: str) -> Select[Any]:
    """The emails of one team's live members (a person in several teams is in each)."""
    members = TeamMembership.__table__
    return select(members.c.email).where(members.c.team_slug == slug, members.c.removed_at.is_(None))


def _population(query: TeamQuery) -> Any:
    """Per-user sums over the range (the population), as a subquery."""
    return _population_select(query).subquery("per_user")


def _population_select(query: TeamQuery) -> Select[Any]:
    """Per-user sums over the range (the population)."""
    tool_sums = [
        func.coalesce(func.sum(_user.c.total_tokens).filter(_user.c.tool == tool), 0).label(_tool_label(i))
        for i, tool in enumerate(query.tool_columns)
    ]
    stmt = (
        select(
            _user.c.email,
            func.sum(_user.c.total_tokens).label("total_tokens"),
            func.sum(_user.c.cost).label("total_cost"),
            func.sum(_user.c.input_tokens).label("input_tokens"),
            func.sum(_user.c.output_tokens).label("output_tokens"),
            func.sum(_user.c.cache_read_tokens).label("cache_read_tokens"),
            func.min(_user.c.date).label("first_active"),
            func.count(distinct(_user.c.date)).label("days_active"),
            func.count(distinct(_user.c.tool)).label("tool_count"),
            (func.sum(_user.c.thinking_records) > 0).label("has_thinking_models"),
            *tool_sums,
        )
        .where(_user.c.date.between(query.rng.start, query.rng.end))
        .where(_user.c.email.not_like(f"{UNMAPPED_PREFIX}%"))
        .group_by(_user.c.email)
    )
    if query.email_pattern:
        stmt = stmt.where(_user.c.email.ilike(query.email_pattern, escape="\\"))
    if query.team_slug is not None:
        stmt = stmt.where(_user.c.email.in_(_team_emails(query.team_slug)))
    if query.people is not None:
        stmt = stmt.where(_user.c.email.in_(query.people))
    split = period_split(query.rng)
    if not split.coarse:
        return stmt
    return _population_by_periods(query, split)


def _population_by_periods(query: TeamQuery, split: PeriodSplit) -> Select[Any]:
    """The population of a range with whole months or weeks: those from the (period, email, tool) and
    (period, email) rollups, the other days from usage_user_daily — the same figures as summing every day."""
    no_tool = cast(null(), String)
    no_day = cast(null(), Date)
    zero = literal(0, BigInteger)
    mapped = f"{UNMAPPED_PREFIX}%"
    parts: list[Select[Any]] = []
    for sums, people, period, chosen in (
        (_monthly, _person, "month", split.months),
        (_weekly, _person_weekly, "week", split.weeks),
    ):
        if not chosen:
            continue
        parts.append(
            select(
                sums.c.email,
                sums.c.tool,
                sums.c.total_tokens,
                sums.c.cost,
                sums.c.input_tokens,
                sums.c.output_tokens,
                sums.c.cache_read_tokens,
                sums.c.thinking_records,
                sums.c.first_date,
                no_day.label("day"),
                zero.label("period_days"),
            )
            .where(sums.c[period].in_(chosen))
            .where(sums.c.email.not_like(mapped))
        )
        parts.append(
            select(
                people.c.email,
                no_tool,
                zero,
                literal(0, Numeric(18, 6)),
                zero,
                zero,
                zero,
                zero,
                no_day,
                no_day,
                cast(people.c.days, BigInteger),
            )
            .where(people.c[period].in_(chosen))
            .where(people.c.email.not_like(mapped))
        )
    if split.days:
        parts.append(
            select(
                _user.c.email,
                _user.c.tool,
                _user.c.total_tokens,
                _user.c.cost,
                _user.c.input_tokens,
                _user.c.output_tokens,
                _user.c.cache_read_tokens,
                cast(_user.c.thinking_records, BigInteger),
                _user.c.date,
                _user.c.date,
                zero,
            )
            .where(_user.c.date.in_(split.days))
            .where(_user.c.email.not_like(mapped))
        )
    if query.email_pattern:
        parts = [part.where(part.selected_columns[0].ilike(query.email_pattern, escape="\\")) for part in parts]
    if query.team_slug is not None:
        parts = [part.where(part.selected_columns[0].in_(_team_emails(query.team_slug))) for part in parts]
    if query.people is not None:
        parts = [part.where(part.selected_columns[0].in_(query.people)) for part in parts]
    src = union_all(*parts).subquery("src")
    tool_sums = [
        func.coalesce(func.sum(src.c.total_tokens).filter(src.c.tool == tool), 0).label(_tool_label(i))
        for i, tool in enumerate(query.tool_columns)
    ]
    return select(
        src.c.email,
        func.sum(src.c.total_tokens).label("total_tokens"),
        func.sum(src.c.cost).label("total_cost"),
        func.sum(src.c.input_tokens).label("input_tokens"),
        func.sum(src.c.output_tokens).label("output_tokens"),
        func.sum(src.c.cache_read_tokens).label("cache_read_tokens"),
        func.min(src.c.first_date).label("first_active"),
        (func.sum(src.c.period_days) + func.count(distinct(src.c.day))).label("days_active"),
        func.count(distinct(src.c.tool)).label("tool_count"),
        (func.sum(src.c.thinking_records) > 0).label("has_thinking_models"),
        *tool_sums,
    ).group_by(src.c.email)


def _members_select(query: TeamQuery, people: Any = None, team: Any = None) -> Select[Any]:
    """The population (or the given CTE of it) ordered for the table; `team` (a one-row CTE) is joined to every row."""
    people = _population(query) if people is None else people
    # all-time last day per person from the (email, tool) spans: a few rows per person, no per-row probe
    seen = (
        select(_spans.c.email, func.max(_spans.c.last_date).label("last_active"))
        .group_by(_spans.c.email)
        .subquery("seen")
    )
    last_active = seen.c.last_active
    avg_per_day = cast(func.round(people.c.total_tokens / people.c.days_active), BigInteger).label("avg_tokens_per_day")
    tool_columns = {tool: people.c[_tool_label(i)] for i, tool in enumerate(query.tool_columns)}
    email_order = people.c.email.collate("C")
    activity = _activity(query)
    lines = func.coalesce(activity.c.lines_added, 0).label("lines_added")
    accepted = func.coalesce(activity.c.accepted, 0).label("accepted")
    suggested = func.coalesce(activity.c.suggested, 0).label("suggested")
    activity_days = func.coalesce(activity.c.activity_days, 0).label("activity_days")
    rate = cast(activity.c.accepted, Numeric) / func.nullif(activity.c.suggested, 0)
    per_1k = people.c.total_cost * 1000 / func.nullif(activity.c.lines_added, 0)
    sortable: dict[str, Any] = {
        "email": email_order,
        "totalTokens": people.c.total_tokens,
        "totalCost": people.c.total_cost,
        "claudeCodeTokens": tool_columns[CLAUDE_CODE],
        "cursorTokens": tool_columns[CURSOR],
        "inputTokens": people.c.input_tokens,
        "outputTokens": people.c.output_tokens,
        "firstActive": people.c.first_active,
        "lastActive": last_active,
        "daysActive": people.c.days_active,
        "avgTokensPerDay": avg_per_day,
        "linesAdded": lines,
        "acceptanceRate": rate,
        "activityDays": activity_days,
        "costPer1kLines": per_1k,
        **{tool_sort_key(tool): column for tool, column in tool_columns.items() if tool not in DEDICATED_TOOLS},
    }
    if query.sort not in sortable:
        raise ValueError(f"unknown sort key {query.sort!r}")
    order = sortable[query.sort]
    # Ties (and everything when sorting by email) fall back to email ascending, byte order.
    ordering = [(order.desc() if query.descending else order.asc()).nulls_last()]
    if query.sort != "email":
        ordering.append(email_order.asc())
    joined = people.join(seen, seen.c.email == people.c.email).outerjoin(activity, activity.c.email == people.c.email)
    columns = (people, last_active, avg_per_day, lines, accepted, suggested, activity_days)
    if team is None:
        return select(*columns).select_from(joined).order_by(*ordering)
    return select(*columns, team).select_from(joined.join(team, literal(True))).order_by(*ordering)


def _activity(query: TeamQuery) -> Any:
    """Per person: the range's activity sums (docs/metrics.md §10), for the Team table's activity columns."""
    return (
        select(
            ActivityDaily.email,
            func.sum(ActivityDaily.lines_added).label("lines_added"),
            func.sum(ActivityDaily.accepted).label("accepted"),
            func.sum(ActivityDaily.suggested).label("suggested"),
            func.count(distinct(ActivityDaily.date)).filter(ActivityDaily.active).label("activity_days"),
        )
        .where(ActivityDaily.date.between(query.rng.start, query.rng.end))
        .group_by(ActivityDaily.email)
        .subquery("activity")
    )


def _member(row: Any, query: TeamQuery) -> TeamMember:
    return TeamMember(
        email=row.email,
        total_tokens=int(row.total_tokens),
        total_cost=Decimal(row.total_cost),
        tool_tokens={tool: int(row._mapping[_tool_label(i)]) for i, tool in enumerate(query.tool_columns)},
        input_tokens=int(row.input_tokens),
        output_tokens=int(row.output_tokens),
        cache_read_tokens=int(row.cache_read_tokens),
        first_active=row.first_active,
        last_active=row.last_active,
        days_active=int(row.days_active),
        avg_tokens_per_day=int(row.avg_tokens_per_day),
        tool_count=int(row.tool_count),
        has_thinking_models=bool(row.has_thinking_models),
        days_since_last_active=(query.today - row.last_active).days,
        lines_added=int(row.lines_added),
        accepted=int(row.accepted),
        suggested=int(row.suggested),
        activity_days=int(row.activity_days),
    )


async def team_totals(db: AsyncSession, query: TeamQuery) -> TeamTotals:
    """M-TEAM-COUNT and the sums of tokens, cost and every tool column over the whole population."""
    people = _population(query)
    tool_cols = [func.coalesce(func.sum(people.c[_tool_label(i)]), 0) for i in range(len(query.tool_columns))]
    row = (
        await db.execute(
            select(
                func.count(),
                func.coalesce(func.sum(people.c.total_tokens), 0),
                func.coalesce(func.sum(people.c.total_cost), 0),
                *tool_cols,
            )
        )
    ).one()
    return TeamTotals(
        count=int(row[0]),
        total_tokens=int(row[1]),
        total_cost=Decimal(row[2]),
        tool_tokens={tool: int(row[3 + i]) for i, tool in enumerate(query.tool_columns)},
    )


@cached
async def team_members(
    db: AsyncSession, query: TeamQuery, *, limit: int | None = None, offset: int = 0
) -> list[TeamMember]:
    """The population sorted by `query.sort` (ties by email ascending), one slice of it."""
    stmt = _members_select(query).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [_member(row, query) for row in (await db.execute(stmt)).all()]


def _team_statement(query: TeamQuery, limit: int, offset: int | None, page: int) -> Select[Any]:
    """Members sorted, one slice, each row carrying the totals over the whole population: the population is aggregated
    once (a CTE both read). With `offset` None the slice is page `page` of `limit` rows, clamped to the last page."""
    people = _population_select(query).cte("per_user")
    tool_sums = [
        func.coalesce(func.sum(people.c[_tool_label(i)]), 0).label(f"team_{_tool_label(i)}")
        for i in range(len(query.tool_columns))
    ]
    team = select(
        func.count().label("team_count"),
        func.coalesce(func.sum(people.c.total_tokens), 0).label("team_tokens"),
        func.coalesce(func.sum(people.c.total_cost), 0).label("team_cost"),
        *tool_sums,
    ).cte("team")
    stmt = _members_select(query, people, team).limit(limit)
    if offset is not None:
        return stmt.offset(offset)
    pages_expr = func.greatest(1, (team.c.team_count + (limit - 1)) // limit)
    return stmt.offset(select((func.least(max(page, 1), pages_expr) - 1) * limit).scalar_subquery())


def _team_totals_of(row: Any, query: TeamQuery) -> TeamTotals:
    first = row._mapping
    return TeamTotals(
        count=int(first["team_count"]),
        total_tokens=int(first["team_tokens"]),
        total_cost=Decimal(first["team_cost"]),
        tool_tokens={tool: int(first[f"team_{_tool_label(i)}"]) for i, tool in enumerate(query.tool_columns)},
    )


@cached
async def team_page(db: AsyncSession, query: TeamQuery, page: int, *, page_size: int = PAGE_SIZE) -> TeamPage:
    """Totals over the whole population plus one page of rows, in one statement; `page` is clamped to the last."""
    rows = (await db.execute(_team_statement(query, page_size, None, page))).all()
    if not rows:
        empty = TeamTotals(
            count=0, total_tokens=0, total_cost=Decimal(0), tool_tokens=dict.fromkeys(query.tool_columns, 0)
        )
        everyone, others = await hidden_totals(db, query, empty)
        return TeamPage(totals=everyone, members=[], page=1, pages=1, others=others)
    totals = _team_totals_of(rows[0], query)
    pages = max(1, -(-totals.count // page_size))
    everyone, others = await hidden_totals(db, query, totals)
    return TeamPage(
        totals=everyone,
        members=[_member(r, query) for r in rows],
        page=min(max(page, 1), pages),
        pages=pages,
        others=others,
    )


async def hidden_totals(db: AsyncSession, query: TeamQuery, shown: TeamTotals) -> tuple[TeamTotals, TeamTotals | None]:
    """(totals over everyone, the hidden people's part) for a scoped query without a search; a search matches only
    the people the viewer sees, so nothing is said of hidden ones then (not even how many match)."""
    if query.people is None or query.email_pattern:
        return shown, None
    everyone = await team_totals(db, replace(query, people=None))
    if everyone.count == shown.count:
        return everyone, None
    others = TeamTotals(
        count=everyone.count - shown.count,
        total_tokens=everyone.total_tokens - shown.total_tokens,
        total_cost=everyone.total_cost - shown.total_cost,
        tool_tokens={t: everyone.tool_tokens.get(t, 0) - shown.tool_tokens.get(t, 0) for t in everyone.tool_tokens},
    )
    return everyone, others


@cached
async def team_slice(
    db: AsyncSession, query: TeamQuery, *, limit: int, offset: int = 0
) -> tuple[TeamTotals, list[TeamMember]]:
    """The totals (as `team_totals`) and `team_members(limit, offset)`, from one aggregation of the population; a
    slice past the end costs a second statement for the totals."""
    rows = (await db.execute(_team_statement(query, limit, offset, 1))).all()
    if not rows:
        return await team_totals(db, query), []
    return _team_totals_of(rows[0], query), [_member(r, query) for r in rows]


async def stream_team_members(conn: AsyncConnection, query: TeamQuery) -> AsyncIterator[TeamMember]:
    """Every member of the population in order, read through a server-side cursor (exports: no cap, constant
    memory)."""
    result = await conn.stream(_members_select(query))
    async for row in result:
        yield _member(row, query)


FAVORITE_MODELS_SQL = text("""
SELECT DISTINCT ON (email) email, model
FROM (
  SELECT email, model, SUM(total_tokens) AS tokens
  FROM usage_daily
  WHERE email = ANY(:emails) AND date BETWEEN :start AND :end
  GROUP BY email, model
) per_model
ORDER BY email, tokens DESC, model COLLATE "C" ASC
""")

UNKNOWN_MODEL = "unknown"


@cached
async def favorite_models(db: AsyncSession, emails: Sequence[str], rng: DateRange) -> dict[str, str]:
    """M-FAV-MODEL for each email: the model with most tokens in the range, ties alphabetical; "unknown" if none."""
    if not emails:
        return {}
    rows = (await db.execute(FAVORITE_MODELS_SQL, {"emails": list(emails), "start": rng.start, "end": rng.end})).all()
    found = {r.email: r.model for r in rows}
    return {email: found.get(email, UNKNOWN_MODEL) for email in emails}


UNATTRIBUTED_IN_RANGE = text("""
SELECT COALESCE(SUM(total_tokens), 0) AS tokens, COALESCE(SUM(cost), 0) AS cost
FROM usage_user_daily WHERE date BETWEEN :start AND :end AND email LIKE 'unmapped:%'
""")


@cached
async def unattributed_in_range(db: AsyncSession, rng: DateRange) -> tuple[int, Decimal]:
    """Tokens and cost in range that belong to no person (kept out of the team table, counted in totals)."""
    row = (await db.execute(UNATTRIBUTED_IN_RANGE, {"start": rng.start, "end": rng.end})).one()
    return int(row.tokens), Decimal(row.cost)
