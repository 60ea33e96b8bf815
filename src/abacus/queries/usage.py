"""Read side of the usage pages (Dashboard, Usage, their exports and JSON): totals, daily series, models, users.

Every function reads the smallest rollup that answers it exactly (docs/metrics.md: rollups are by definition the same
sums as `usage_records`): `usage_tool_totals_daily` (date, tool) for org-wide sums, mapped sums and daily people counts;
`usage_tool_daily` (date, tool, model) for models; `usage_user_tools` (email, tool) spans for range head counts;
`usage_user_daily` (date, email, tool) for anything about people; `usage_daily` (date, email, tool, model) only for
per-person model questions. Each issues one SQL statement that aggregates in SQL and returns plain dataclasses.
Unmapped rows (`email LIKE 'unmapped:%'`) count in token/cost figures, never in people figures (docs/metrics.md §0.3).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import RowMapping, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from abacus.db import borrowed_session, concurrently
from abacus.domain.periods import (
    HISTORY_DAYS,
    DateRange,
    Delta,
    delta,
    round_half_up,
    should_bucket_weekly,
    weekly_buckets,
)
from abacus.domain.usage import average_per_user
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.cache import cached

ZERO = Decimal(0)


# --- team=<slug>: the same statements over one team's members --------------------------------------------------

TEAM_EMAILS = "(SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL)"
"""The live members of one team (docs/pages.md §1.3): a person in two teams is in each team's figures."""

_SUMS = (
    "SUM(input_tokens) AS input_tokens, SUM(cache_write_tokens) AS cache_write_tokens, "
    "SUM(cache_read_tokens) AS cache_read_tokens, SUM(output_tokens) AS output_tokens, "
    "SUM(total_tokens) AS total_tokens, SUM(cost) AS cost"
)
_TEAM_SOURCES = {
    # (date, tool) sums of the members only: every member is a person, so all of it is mapped; `users` counts the
    # members' (date, email, tool) rows of the day as the rollup does
    "usage_tool_totals_daily": (
        f"(SELECT date, tool, {_SUMS}, SUM(total_tokens) AS mapped_tokens, SUM(cost) AS mapped_cost, "
        f"COUNT(*) AS users FROM usage_user_daily WHERE email IN {TEAM_EMAILS} GROUP BY date, tool)"
    ),
    "usage_tool_daily": (
        f"(SELECT date, tool, model, {_SUMS} FROM usage_daily WHERE email IN {TEAM_EMAILS} GROUP BY date, tool, model)"
    ),
    "usage_tool_weekly_users": (
        "(SELECT date_trunc('week', date)::date AS week, tool, COUNT(DISTINCT email) AS users "
        f"FROM usage_user_daily WHERE email IN {TEAM_EMAILS} GROUP BY 1, tool)"
    ),
    "usage_user_tools": f"(SELECT * FROM usage_user_tools WHERE email IN {TEAM_EMAILS})",
    "usage_user_daily": f"(SELECT * FROM usage_user_daily WHERE email IN {TEAM_EMAILS})",
}
_SOURCE_NAME = re.compile(r"\bFROM (" + "|".join(_TEAM_SOURCES) + r")\b(?: ([a-z])\b)?")


@functools.cache
def _for_team(sql: str) -> TextClause:
    """`sql` with every rollup it reads replaced by the same rows restricted to `:team_slug`'s members (one pass:
    the replacements are not rewritten again)."""

    def swap(match: re.Match[str]) -> str:
        return f"FROM {_TEAM_SOURCES[match.group(1)]} AS {match.group(2) or match.group(1)}"

    return text(_SOURCE_NAME.sub(swap, sql))


def _statement(statement: TextClause, team_slug: str | None) -> TextClause:
    """The statement as is (everyone), or over `team_slug`'s members (bind `:team_slug`, see `_team_params`)."""
    return statement if team_slug is None else _for_team(statement.text)


def _team_params(team_slug: str | None, params: dict[str, Any]) -> dict[str, Any]:
    return params if team_slug is None else {**params, "team_slug": team_slug}


def _int(value: int | Decimal | None) -> int:
    return int(value or 0)


def _dec(value: int | Decimal | None) -> Decimal:
    return Decimal(value) if value is not None else ZERO


# --- totals (M-TOKENS, M-COST, M-USERS, per tool, previous period) --------------------------------------------


@dataclass(frozen=True)
class PeriodTotals:
    tokens: int = 0
    cost: Decimal = ZERO
    users: int = 0
    mapped_tokens: int = 0
    mapped_cost: Decimal = ZERO
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    unattributed_tokens: int = 0
    unattributed_cost: Decimal = ZERO


@dataclass(frozen=True)
class ToolTotals:
    tool: str
    tokens: int
    cost: Decimal
    users: int
    mapped_tokens: int
    prev_tokens: int = 0
    prev_cost: Decimal = ZERO
    prev_users: int = 0

    def share_of(self, total_tokens: int) -> Fraction:
        """M-TOOL-SHARE: tool tokens / M-TOKENS × 100."""
        return Fraction(self.tokens * 100, total_tokens) if total_tokens else Fraction(0)

    def user_share_of(self, total_users: int) -> Fraction:
        return Fraction(self.users * 100, total_users) if total_users else Fraction(0)

    @property
    def avg_tokens_per_user(self) -> int:
        """Usage "Avg Tokens/User": round(mapped tokens of the tool / users of the tool)."""
        return average_per_user(self.mapped_tokens, self.users)


@dataclass(frozen=True)
class UsageTotals:
    """Range totals with the previous period of the same length, and per-tool figures (tools with usage only)."""

    rng: DateRange
    current: PeriodTotals
    previous: PeriodTotals
    tools: list[ToolTotals]

    @property
    def avg_user_tokens(self) -> int:
        """M-AVG-USER-TOKENS."""
        return average_per_user(self.current.mapped_tokens, self.current.users)

    @property
    def avg_user_cost(self) -> Decimal:
        """M-AVG-USER-COST (exact; rounded when formatted)."""
        if self.current.users <= 0:
            return ZERO
        return self.current.mapped_cost / self.current.users

    @property
    def avg_day(self) -> int:
        """M-AVG-DAY: round(M-TOKENS / N), N calendar days of the range."""
        return round_half_up(Fraction(self.current.tokens, self.rng.days))

    @property
    def prev_avg_day(self) -> int:
        return round_half_up(Fraction(self.previous.tokens, self.rng.days))

    @property
    def tokens_delta(self) -> Delta | None:
        return delta(self.current.tokens, self.previous.tokens)

    @property
    def cost_delta(self) -> Delta | None:
        return delta(self.current.cost, self.previous.cost)

    @property
    def users_delta(self) -> Delta | None:
        return delta(self.current.users, self.previous.users)

    @property
    def avg_day_delta(self) -> Delta | None:
        return delta(self.avg_day, self.prev_avg_day)

    def tool(self, key: str) -> ToolTotals | None:
        return next((t for t in self.tools if t.tool == key), None)

    def tool_rows_with_users(self) -> list[ToolTotals]:
        return [t for t in self.tools if t.users > 0]


USAGE_TOTALS_SQL = text("""
WITH by_tool AS (  -- sums per tool and period from the (date, tool) rollup: a few rows a day
  SELECT tool,
         SUM(total_tokens) FILTER (WHERE date >= :start) AS tokens, SUM(cost) FILTER (WHERE date >= :start) AS cost,
         SUM(mapped_tokens) FILTER (WHERE date >= :start) AS mapped_tokens,
         SUM(mapped_cost) FILTER (WHERE date >= :start) AS mapped_cost,
         SUM(input_tokens) FILTER (WHERE date >= :start) AS input_tokens,
         SUM(output_tokens) FILTER (WHERE date >= :start) AS output_tokens,
         SUM(cache_read_tokens) FILTER (WHERE date >= :start) AS cache_read_tokens,
         COUNT(*) FILTER (WHERE date >= :start) AS current_rows,
         SUM(total_tokens) FILTER (WHERE date < :start) AS prev_tokens,
         SUM(cost) FILTER (WHERE date < :start) AS prev_cost,
         SUM(mapped_tokens) FILTER (WHERE date < :start) AS prev_mapped_tokens,
         SUM(mapped_cost) FILTER (WHERE date < :start) AS prev_mapped_cost,
         SUM(input_tokens) FILTER (WHERE date < :start) AS prev_input_tokens,
         SUM(output_tokens) FILTER (WHERE date < :start) AS prev_output_tokens,
         SUM(cache_read_tokens) FILTER (WHERE date < :start) AS prev_cache_read_tokens
  FROM usage_tool_totals_daily
  WHERE date BETWEEN :prev_start AND :end
  GROUP BY tool
),
sums AS (
  SELECT tool, GROUPING(tool) AS is_total, SUM(tokens) AS tokens, SUM(cost) AS cost,
         SUM(mapped_tokens) AS mapped_tokens, SUM(mapped_cost) AS mapped_cost, SUM(input_tokens) AS input_tokens,
         SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
         SUM(current_rows) AS current_rows, SUM(prev_tokens) AS prev_tokens, SUM(prev_cost) AS prev_cost,
         SUM(prev_mapped_tokens) AS prev_mapped_tokens, SUM(prev_mapped_cost) AS prev_mapped_cost,
         SUM(prev_input_tokens) AS prev_input_tokens, SUM(prev_output_tokens) AS prev_output_tokens,
         SUM(prev_cache_read_tokens) AS prev_cache_read_tokens
  FROM by_tool GROUP BY GROUPING SETS ((tool), ())
),
active AS (  -- mapped (email, tool) pairs with a row in each period: a span inside the period says so at once,
             -- a span across it takes one probe of ix_usage_user_daily_email_tool_date
  SELECT u.email, u.tool,
         u.first_date <= :end AND u.last_date >= :start
         AND (u.first_date >= :start OR u.last_date <= :end
              OR EXISTS (SELECT 1 FROM usage_user_daily d WHERE d.email = u.email AND d.tool = u.tool
                         AND d.date BETWEEN :start AND :end)) AS cur,
         u.first_date <= :prev_end AND u.last_date >= :prev_start
         AND (u.first_date >= :prev_start OR u.last_date <= :prev_end
              OR EXISTS (SELECT 1 FROM usage_user_daily d WHERE d.email = u.email AND d.tool = u.tool
                         AND d.date BETWEEN :prev_start AND :prev_end)) AS prev
  FROM usage_user_tools u
  WHERE u.email NOT LIKE 'unmapped:%' AND u.first_date <= :end AND u.last_date >= :prev_start
),
people AS (
  SELECT tool, GROUPING(tool) AS is_total, COUNT(DISTINCT email) FILTER (WHERE cur) AS users,
         COUNT(DISTINCT email) FILTER (WHERE prev) AS prev_users
  FROM active GROUP BY GROUPING SETS ((tool), ())
)
SELECT sums.*, COALESCE(people.users, 0) AS users, COALESCE(people.prev_users, 0) AS prev_users
FROM sums LEFT JOIN people ON people.is_total = sums.is_total AND people.tool IS NOT DISTINCT FROM sums.tool
""")


def _period(get: RowMapping, prefix: str) -> PeriodTotals:
    tokens, cost = _int(get[f"{prefix}tokens"]), _dec(get[f"{prefix}cost"])
    mapped_tokens, mapped_cost = _int(get[f"{prefix}mapped_tokens"]), _dec(get[f"{prefix}mapped_cost"])
    return PeriodTotals(
        tokens=tokens,
        cost=cost,
        users=_int(get[f"{prefix}users"]),
        mapped_tokens=mapped_tokens,
        mapped_cost=mapped_cost,
        input_tokens=_int(get[f"{prefix}input_tokens"]),
        output_tokens=_int(get[f"{prefix}output_tokens"]),
        cache_read_tokens=_int(get[f"{prefix}cache_read_tokens"]),
        unattributed_tokens=tokens - mapped_tokens,
        unattributed_cost=cost - mapped_cost,
    )


@cached
async def usage_totals(db: AsyncSession, rng: DateRange, team_slug: str | None = None) -> UsageTotals:
    """Range and previous-period totals plus per-tool figures, in one grouping-sets statement.

    Tools are those with tokens > 0 or users > 0 (or any row) in the range, ordered by tokens desc then key.
    `team_slug` restricts every figure to that team's members (None: everyone).
    """
    prev = rng.previous()
    params = {"start": rng.start, "end": rng.end, "prev_start": prev.start, "prev_end": prev.end}
    rows = (await db.execute(_statement(USAGE_TOTALS_SQL, team_slug), _team_params(team_slug, params))).all()
    current, previous = PeriodTotals(), PeriodTotals()
    tools: list[ToolTotals] = []
    for row in rows:
        if row.is_total:
            current, previous = _period(row._mapping, ""), _period(row._mapping, "prev_")
        elif row.current_rows:
            tools.append(
                ToolTotals(
                    tool=row.tool,
                    tokens=_int(row.tokens),
                    cost=_dec(row.cost),
                    users=_int(row.users),
                    mapped_tokens=_int(row.mapped_tokens),
                    prev_tokens=_int(row.prev_tokens),
                    prev_cost=_dec(row.prev_cost),
                    prev_users=_int(row.prev_users),
                )
            )
    tools.sort(key=lambda t: (-t.tokens, t.tool))
    return UsageTotals(rng=rng, current=current, previous=previous, tools=tools)


# --- M-DAILY and M-PROJ inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyUsage:
    """The zero-filled daily series of the range per tool, with what the projection needs.

    `tools` are the tools with rows in the range, tokens desc. `tokens[tool][i]` / `cost[i]` belong to `days[i]`.
    `history[tool]` holds daily totals of the 28 days before the range start up to its end (for M-PROJ averages);
    `last_data[tool]` is M-DATA-COMPLETE (all time) for every tool known.
    """

    rng: DateRange
    days: list[date]
    tools: list[str]
    tokens: dict[str, list[int]]
    cost: list[Decimal]
    history: dict[str, dict[date, int]] = field(default_factory=dict)
    last_data: dict[str, date | None] = field(default_factory=dict)

    def tool_total(self, tool: str) -> int:
        """Legend total: Σ of actual values."""
        return sum(self.tokens.get(tool, []))

    @property
    def weekly(self) -> bool:
        return should_bucket_weekly(len(self.days))

    def weeks(self) -> list[tuple[date, dict[str, int], Decimal]]:
        """Monday-start weekly sums of actual values: (monday, tokens per tool, cost)."""
        points = [
            (day, {**{t: self.tokens[t][i] for t in self.tools}, "__cost": self.cost[i]})
            for i, day in enumerate(self.days)
        ]
        out = []
        for monday, values in weekly_buckets(points):
            cost = values.pop("__cost", ZERO)
            out.append((monday, {t: int(values.get(t, 0)) for t in self.tools}, Decimal(cost)))
        return out


DAILY_BY_TOOL_SQL = text("""
SELECT date, tool, SUM(total_tokens) AS tokens, SUM(cost) AS cost
FROM usage_tool_totals_daily
WHERE date BETWEEN :history_start AND :end
GROUP BY date, tool
""")

# M-DATA-COMPLETE per tool: the (date, tool) rollup is a few hundred rows a year, one pass is enough
LAST_DATA_SQL = text("""
SELECT tool, MAX(date) AS last_date FROM usage_tool_totals_daily GROUP BY tool
""")


@cached
async def daily_usage_by_tool(db: AsyncSession, rng: DateRange, team_slug: str | None = None) -> DailyUsage:
    """M-DAILY for `rng` (zero-filled) plus the 28 days of history and per-tool last data dates (two statements)."""
    history_start = rng.start - timedelta(days=HISTORY_DAYS)
    params = _team_params(team_slug, {"history_start": history_start, "end": rng.end})
    rows = (await db.execute(_statement(DAILY_BY_TOOL_SQL, team_slug), params)).all()
    last_rows = (await db.execute(LAST_DATA_SQL)).all()
    days = list(rng.iter_days())
    index = {day: i for i, day in enumerate(days)}
    tokens: dict[str, list[int]] = {}
    totals: dict[str, int] = {}
    cost = [ZERO] * len(days)
    history: dict[str, dict[date, int]] = {}
    for row in rows:
        history.setdefault(row.tool, {})[row.date] = _int(row.tokens)
        i = index.get(row.date)
        if i is None:
            continue
        series = tokens.setdefault(row.tool, [0] * len(days))
        series[i] += _int(row.tokens)
        totals[row.tool] = totals.get(row.tool, 0) + _int(row.tokens)
        cost[i] += _dec(row.cost)
    tools = sorted(tokens, key=lambda t: (-totals[t], t))
    return DailyUsage(
        rng=rng,
        days=days,
        tools=tools,
        tokens=tokens,
        cost=cost,
        history=history,
        last_data={r.tool: r.last_date for r in last_rows},
    )


# --- models (M-MODEL-TOOL, M-MODEL-DIST, M-TOP-MODEL, M-MODEL-TABLE) ------------------------------------------


@dataclass(frozen=True)
class ModelToolRow:
    """Usage of one (model, tool) pair over a range: the whole org's here, one person's in queries.users."""

    model: str
    tool: str
    tokens: int
    input_tokens: int
    output_tokens: int
    cost: Decimal


@dataclass(frozen=True)
class ModelRow:
    """One model summed over tools; `tools` is (tool, tokens, cost) tokens desc."""

    model: str
    tokens: int
    cost: Decimal
    tools: list[tuple[str, int, Decimal]]

    def share_of(self, total_tokens: int) -> Fraction:
        return Fraction(self.tokens * 100, total_tokens) if total_tokens else Fraction(0)


@dataclass(frozen=True)
class ModelBreakdown:
    pairs: list[ModelToolRow]
    models: list[ModelRow]
    total_tokens: int

    @property
    def top(self) -> ModelRow | None:
        """M-TOP-MODEL."""
        return self.models[0] if self.models else None

    def distribution(self, limit: int = 6) -> list[ModelRow]:
        """M-MODEL-DIST: top models by tokens (ties by name)."""
        return self.models[:limit]


MODEL_TOOL_SQL = text("""
SELECT model, tool, SUM(total_tokens) AS tokens, SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens, SUM(cost) AS cost
FROM usage_tool_daily
WHERE date BETWEEN :start AND :end
GROUP BY model, tool
ORDER BY tokens DESC, model ASC, tool ASC
""")


@cached
async def model_breakdown(db: AsyncSession, rng: DateRange, team_slug: str | None = None) -> ModelBreakdown:
    """M-MODEL-TOOL pairs (tokens desc) and per-model rows summed over tools (tokens desc, ties by name)."""
    params = _team_params(team_slug, {"start": rng.start, "end": rng.end})
    rows = (await db.execute(_statement(MODEL_TOOL_SQL, team_slug), params)).all()
    pairs = [
        ModelToolRow(r.model, r.tool, _int(r.tokens), _int(r.input_tokens), _int(r.output_tokens), _dec(r.cost))
        for r in rows
    ]
    grouped: dict[str, list[ModelToolRow]] = {}
    for pair in pairs:
        grouped.setdefault(pair.model, []).append(pair)
    models = [
        ModelRow(
            model=model,
            tokens=sum(p.tokens for p in items),
            cost=sum((p.cost for p in items), ZERO),
            tools=[(p.tool, p.tokens, p.cost) for p in items],
        )
        for model, items in grouped.items()
    ]
    models.sort(key=lambda m: (-m.tokens, m.model))
    return ModelBreakdown(pairs=pairs, models=models, total_tokens=sum(p.tokens for p in pairs))


# --- M-MODEL-TRENDS -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelDaily:
    """Per-model daily tokens of the range, zero-filled; `top` are the drawn models (rank order)."""

    days: list[date]
    top: list[str]
    tokens: dict[str, list[int]]
    other: list[int]
    """Tokens of every model outside `top`, per day."""

    def total(self, i: int) -> int:
        return sum(series[i] for series in self.tokens.values()) + self.other[i]

    @property
    def weekly(self) -> bool:
        return should_bucket_weekly(len(self.days))

    def weeks(self) -> list[tuple[date, dict[str, int], int]]:
        """Monday-start weekly sums: (monday, tokens per top model, other models' tokens)."""
        points = [
            (day, {**{m: self.tokens[m][i] for m in self.top}, "__other": self.other[i]})
            for i, day in enumerate(self.days)
        ]
        out = []
        for monday, values in weekly_buckets(points):
            other = int(values.pop("__other", 0))
            out.append((monday, {m: int(values.get(m, 0)) for m in self.top}, other))
        return out


MODEL_DAILY_SQL = text("""
SELECT date, model, SUM(total_tokens) AS tokens
FROM usage_tool_daily
WHERE date BETWEEN :start AND :end
GROUP BY date, model
""")


async def model_daily(db: AsyncSession, rng: DateRange, top: Sequence[str], team_slug: str | None = None) -> ModelDaily:
    """M-MODEL-TRENDS: per day and model Σ tok (over tools); models outside `top` are summed into `other`."""
    params = _team_params(team_slug, {"start": rng.start, "end": rng.end})
    rows = (await db.execute(_statement(MODEL_DAILY_SQL, team_slug), params)).all()
    days = list(rng.iter_days())
    index = {day: i for i, day in enumerate(days)}
    tokens = {model: [0] * len(days) for model in top}
    other = [0] * len(days)
    for row in rows:
        i = index[row.date]
        if row.model in tokens:
            tokens[row.model][i] += _int(row.tokens)
        else:
            other[i] += _int(row.tokens)
    return ModelDaily(days=days, top=list(top), tokens=tokens, other=other)


# --- M-TOOL-USERS-DAILY ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolUsersSeries:
    """Distinct mapped users per day (or per Monday-start week when `weekly`) and tool, zero-filled."""

    points: list[date]
    weekly: bool
    users: dict[str, list[int]]


# usage_tool_totals_daily.users counts the mapped (date, email, tool) rows of the day: the distinct count per day
TOOL_USERS_DAILY_SQL = text("""
SELECT date AS bucket, tool, SUM(users) AS users
FROM usage_tool_totals_daily
WHERE date BETWEEN :start AND :end AND users > 0
GROUP BY date, tool
""")

# whole weeks from the (week, tool) level; the range's partial first and last weeks (at most 12 days) recounted
TOOL_USERS_WEEKLY_SQL = text("""
SELECT week AS bucket, tool, users
FROM usage_tool_weekly_users
WHERE week = ANY(CAST(:whole_weeks AS date[]))
UNION ALL
SELECT date_trunc('week', date)::date AS bucket, tool, COUNT(DISTINCT email) AS users
FROM usage_user_daily
WHERE date = ANY(CAST(:partial_days AS date[])) AND email NOT LIKE 'unmapped:%'
GROUP BY 1, tool
""")


async def tool_users_series(db: AsyncSession, rng: DateRange, team_slug: str | None = None) -> ToolUsersSeries:
    """M-TOOL-USERS-DAILY; over 90 days the weekly value is recomputed in SQL (distinct users are not summable)."""
    weekly = should_bucket_weekly(rng.days)
    if weekly:
        first = rng.start - timedelta(days=rng.start.weekday())
        points = [first + timedelta(days=7 * i) for i in range((rng.end - first).days // 7 + 1)]
        whole = [w for w in points if w >= rng.start and w + timedelta(days=6) <= rng.end]
        partial = [day for day in rng.iter_days() if day - timedelta(days=day.weekday()) not in whole]
        params = {"whole_weeks": whole, "partial_days": partial}
        rows = (await db.execute(_statement(TOOL_USERS_WEEKLY_SQL, team_slug), _team_params(team_slug, params))).all()
    else:
        points = list(rng.iter_days())
        params = _team_params(team_slug, {"start": rng.start, "end": rng.end})
        rows = (await db.execute(_statement(TOOL_USERS_DAILY_SQL, team_slug), params)).all()
    index = {p: i for i, p in enumerate(points)}
    users: dict[str, list[int]] = {}
    for row in rows:
        users.setdefault(row.tool, [0] * len(points))[index[row.bucket]] = _int(row.users)
    return ToolUsersSeries(points=points, weekly=weekly, users=users)


# --- whole months, whole weeks and single days of a range --------------------------------------------------------


@dataclass(frozen=True)
class PeriodSplit:
    """A range as disjoint whole calendar months, whole Monday-start weeks (outside those months) and single days
    (the rest, at most six at either end of each stretch): per-person sums of a range read each from its own rollup
    (usage_user_monthly, usage_user_weekly, usage_user_daily), the same figures as summing every day."""

    months: list[date]
    weeks: list[date]
    days: list[date]

    @property
    def coarse(self) -> bool:
        """Whether any whole month or week is there (else reading the days alone is as good)."""
        return bool(self.months or self.weeks)

    def params(self) -> dict[str, list[date]]:
        return {"months": self.months, "weeks": self.weeks, "days": self.days}


def period_split(rng: DateRange) -> PeriodSplit:
    first = rng.start if rng.start.day == 1 else _next_month(rng.start)
    months: list[date] = []
    while _next_month(first) - timedelta(days=1) <= rng.end:
        months.append(first)
        first = _next_month(first)
    if months:
        stretches = [(rng.start, months[0] - timedelta(days=1)), (_next_month(months[-1]), rng.end)]
    else:
        stretches = [(rng.start, rng.end)]
    weeks: list[date] = []
    days: list[date] = []
    for low, high in stretches:
        monday = low + timedelta(days=(7 - low.weekday()) % 7)
        covered: set[date] = set()
        while monday + timedelta(days=6) <= high:
            weeks.append(monday)
            covered.update(monday + timedelta(days=i) for i in range(7))
            monday += timedelta(days=7)
        day = low
        while day <= high:
            if day not in covered:
                days.append(day)
            day += timedelta(days=1)
    return PeriodSplit(months=months, weeks=weeks, days=days)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# --- top users (M-FAV-MODEL, tool split) ----------------------------------------------------------------------


@dataclass(frozen=True)
class TopUser:
    email: str
    tokens: int
    cost: Decimal
    favorite_model: str
    tools: list[tuple[str, int]]
    """(tool, tokens) tokens desc."""


TOP_USERS_SQL = text("""
WITH per_tool AS (  -- the range's whole months, whole weeks and other days, each from its own rollup (period_split)
  SELECT email, tool, SUM(tokens) AS tokens, SUM(cost) AS cost
  FROM (
    SELECT email, tool, total_tokens AS tokens, cost FROM usage_user_monthly
    WHERE month = ANY(CAST(:months AS date[])) AND email NOT LIKE 'unmapped:%'
    UNION ALL
    SELECT email, tool, total_tokens, cost FROM usage_user_weekly
    WHERE week = ANY(CAST(:weeks AS date[])) AND email NOT LIKE 'unmapped:%'
    UNION ALL
    SELECT email, tool, total_tokens, cost FROM usage_user_daily
    WHERE date = ANY(CAST(:days AS date[])) AND email NOT LIKE 'unmapped:%'
  ) AS src
  GROUP BY email, tool
),
top AS (
  SELECT email, SUM(tokens) AS user_tokens, SUM(cost) AS user_cost,
         array_agg(tool ORDER BY tokens DESC, tool) AS tool_keys,
         array_agg(tokens ORDER BY tokens DESC, tool) AS tool_tokens
  FROM per_tool
  WHERE (CAST(:team_slug AS text) IS NULL OR email IN (
        SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
    AND (CAST(:people AS text[]) IS NULL OR email = ANY(CAST(:people AS text[])))
  GROUP BY email
  ORDER BY user_tokens DESC, email ASC
  LIMIT :limit
),
favorite AS (  -- M-FAV-MODEL needs the model: usage_daily, only the top emails (ix_usage_daily_email_date)
  SELECT DISTINCT ON (email) email, model
  FROM (SELECT email, model, SUM(total_tokens) AS tokens FROM usage_daily
        WHERE email = ANY(ARRAY(SELECT email FROM top)) AND date BETWEEN :start AND :end
        GROUP BY email, model) AS m
  ORDER BY email, tokens DESC, model ASC
)
SELECT top.email, top.user_tokens AS tokens, top.user_cost AS cost, favorite.model AS favorite_model,
       top.tool_keys, top.tool_tokens
FROM top LEFT JOIN favorite ON favorite.email = top.email
ORDER BY top.user_tokens DESC, top.email ASC
""")


async def top_users(
    db: AsyncSession, rng: DateRange, limit: int = 10, team_slug: str | None = None, viewer: Viewer = EVERYONE
) -> list[TopUser]:
    """The first `limit` mapped users by tokens (ties by email), with favourite model and per-tool tokens; with
    `team_slug`, that team's members only; only people `viewer` may see (docs/security.md §6)."""
    params = {
        "start": rng.start,
        "end": rng.end,
        "limit": limit,
        "team_slug": team_slug,
        "people": people_param(viewer),
        **period_split(rng).params(),
    }
    rows = (await db.execute(TOP_USERS_SQL, params)).all()
    return [
        TopUser(
            email=r.email,
            tokens=_int(r.tokens),
            cost=_dec(r.cost),
            favorite_model=r.favorite_model or "unknown",
            tools=list(zip(r.tool_keys or [], [int(t) for t in (r.tool_tokens or [])], strict=True)),
        )
        for r in rows
    ]


HIDDEN_USAGE_SQL = text("""
SELECT COUNT(DISTINCT email) AS people, COALESCE(SUM(total_tokens), 0) AS tokens, COALESCE(SUM(cost), 0) AS cost
FROM usage_user_daily
WHERE date BETWEEN :start AND :end AND email NOT LIKE 'unmapped:%'
  AND NOT (email = ANY(CAST(:people AS text[])))
  AND (CAST(:team_slug AS text) IS NULL OR email IN (
       SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
""")


@dataclass(frozen=True)
class HiddenPeople:
    """The people of a list that its viewer may not see, as one "Others (N people)" row (docs/security.md §6)."""

    count: int
    tokens: int
    cost: Decimal


def people_param(viewer: Viewer) -> list[str] | None:
    """The `:people` bind of a statement that keeps a viewer's people (NULL: everyone)."""
    return None if viewer.people is None else list(viewer.people)


async def hidden_usage(
    db: AsyncSession, rng: DateRange, viewer: Viewer, team_slug: str | None = None
) -> HiddenPeople | None:
    """The mapped people with usage in the range (of `team_slug`) whom `viewer` may not see, summed; None when there
    are none."""
    if viewer.people is None:
        return None
    params = {"start": rng.start, "end": rng.end, "people": list(viewer.people), "team_slug": team_slug}
    row = (await db.execute(HIDDEN_USAGE_SQL, params)).one()
    if not row.people:
        return None
    return HiddenPeople(int(row.people), _int(row.tokens), _dec(row.cost))


# --- rows for the usage export and /api/v1/models/trends ------------------------------------------------------

USAGE_MODELS_ROWS_SQL = text("""
SELECT date, model, SUM(total_tokens) AS tokens, SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens, SUM(cost) AS cost, tool,
       SUM(cache_read_tokens) AS cache_read_tokens, SUM(cache_write_tokens) AS cache_write_tokens
FROM usage_tool_daily
WHERE date BETWEEN :start AND :end
GROUP BY date, model, tool
ORDER BY date ASC, tokens DESC, model ASC, tool ASC
""")

USAGE_TOOLS_ROWS_SQL = text("""
SELECT date, tool, SUM(total_tokens) AS tokens, SUM(cost) AS cost,
       SUM(users)::bigint AS users  -- mapped (date, email, tool) rows of the day
FROM usage_tool_totals_daily
WHERE date BETWEEN :start AND :end
GROUP BY date, tool
ORDER BY date ASC, tokens DESC, tool ASC
""")

USAGE_MODEL_COLUMNS = (
    "date", "model", "tokens", "input_tokens", "output_tokens", "cost", "tool", "cache_read_tokens",
    "cache_write_tokens",
)  # fmt: skip
"""The cache columns come last (after the columns the export has always had); the four token kinds add up to
`tokens`."""
USAGE_TOOL_COLUMNS = ("date", "tool", "tokens", "cost", "users")


def _trend_statement(view: str, team_slug: str | None) -> TextClause:
    return _statement(USAGE_TOOLS_ROWS_SQL if view == "tools" else USAGE_MODELS_ROWS_SQL, team_slug)


async def stream_usage_rows(
    conn: AsyncConnection, rng: DateRange, view: str, team_slug: str | None = None
) -> AsyncIterator[tuple[object, ...]]:
    """Rows of the usage export in column order (USAGE_MODEL_COLUMNS / USAGE_TOOL_COLUMNS), via a server-side
    cursor: one per (date, model, tool) or (date, tool) with usage, date asc then tokens desc; `team_slug` keeps
    that team's members' usage only."""
    params = _team_params(team_slug, {"start": rng.start, "end": rng.end})
    result = await conn.stream(_trend_statement(view, team_slug), params)
    async for row in result:
        yield tuple(row)


async def usage_trend_rows(
    db: AsyncSession, rng: DateRange, view: str, team_slug: str | None = None
) -> list[RowMapping]:
    """The same rows as the export, as mappings (JSON /api/v1/models/trends)."""
    params = _team_params(team_slug, {"start": rng.start, "end": rng.end})
    result = await db.execute(_trend_statement(view, team_slug), params)
    return list(result.mappings())


# --- the Usage page -------------------------------------------------------------------------------------------

MODEL_CHART_SIZE = 6


@dataclass(frozen=True)
class UsagePageData:
    """What /usage shows for one view: totals and breakdowns always, plus the view's chart series."""

    totals: UsageTotals
    models: ModelBreakdown
    model_series: ModelDaily | None = None
    daily: DailyUsage | None = None
    tool_users: ToolUsersSeries | None = None


@cached
async def usage_page_data(
    sessionmaker: async_sessionmaker[AsyncSession], rng: DateRange, view: str, team_slug: str | None = None
) -> UsagePageData:
    """Usage page data (docs/pages.md §3) for `view` (`models`/`tools`): a few aggregate statements, concurrently;
    `team_slug` restricts all of it to that team's members."""
    team = team_slug
    if view == "tools":
        totals, models, daily, tool_users = await concurrently(
            sessionmaker,
            lambda db: usage_totals(db, rng, team),
            lambda db: model_breakdown(db, rng, team),
            lambda db: daily_usage_by_tool(db, rng, team),
            lambda db: tool_users_series(db, rng, team),
        )
        return UsagePageData(totals, models, daily=daily, tool_users=tool_users)
    totals, models = await concurrently(
        sessionmaker, lambda db: usage_totals(db, rng, team), lambda db: model_breakdown(db, rng, team)
    )
    top = [m.model for m in models.distribution(MODEL_CHART_SIZE)]
    async with borrowed_session(sessionmaker) as db:
        return UsagePageData(totals, models, model_series=await model_daily(db, rng, top, team))
