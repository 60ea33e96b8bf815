"""The usage rollups: rebuilding every level for touched (date, tool) slices, and proving them exact.

`usage_daily` (date, email, tool, model) is summed from `usage_records`; `usage_tool_daily` (date, tool, model) and
`usage_user_daily` (date, email, tool) from `usage_daily`; from `usage_user_daily` again `usage_tool_totals_daily`
(date, tool) for the slices and `usage_tool_weekly_users` (week, tool) for their weeks. The levels that span many
days are moved rather than re-summed, so a day's refresh costs the same late in a month as early: the lifetime
`usage_user_tools` (email, tool) and the monthly and weekly `usage_user_monthly`/`_weekly` (period, email, tool) sums
move by the slices' old and new `usage_user_daily` rows, and a key whose first (or last) day lost its row is re-read;
the active days `usage_person_monthly`/`_weekly` (period, email) move by the (date, email) pairs that appeared or
went away on the slices' days. Every writer of usage rows (sync stores, CSV import, identity mappings) calls
`refresh_rollup` in its own transaction, so pages never see raw rows and rollups disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from abacus.domain.modelnames import THINKING_SUFFIX

BATCH = 2000
Slice = tuple[date, str]

SLICES = "unnest(CAST(:dates AS date[]), CAST(:tools AS text[])) AS s(date, tool)"
COLUMNS = (
    "input_tokens, cache_write_tokens, cache_read_tokens, output_tokens, total_tokens, cost, record_count, "
    "thinking_records"
)
THINKING = f"r.raw_model ~* '{THINKING_SUFFIX}'"
"""thinking_records counts rows whose raw model is a thinking variant: the rule of `is_thinking_model`, in SQL."""
RAW_SUMS = (
    "SUM(r.input_tokens), SUM(r.cache_write_tokens), SUM(r.cache_read_tokens), SUM(r.output_tokens), "
    "SUM(r.input_tokens + r.cache_write_tokens + r.cache_read_tokens + r.output_tokens), SUM(r.cost), "
    "COUNT(*), COUNT(*) FILTER (WHERE " + THINKING + ")"
)
ROLLUP_SUMS = (
    "SUM(d.input_tokens), SUM(d.cache_write_tokens), SUM(d.cache_read_tokens), SUM(d.output_tokens), "
    "SUM(d.total_tokens), SUM(d.cost), SUM(d.record_count), SUM(d.thinking_records)"
)
ROLLUPS = ("usage_daily", "usage_tool_daily", "usage_user_daily")
ROLLUP_DELETE = {
    table: text(f"DELETE FROM {table} d USING {SLICES} WHERE d.date = s.date AND d.tool = s.tool") for table in ROLLUPS
}
ROLLUP_INSERT = {
    # level 1 from the raw rows; the two level-2 tables from level 1 of the same slices
    "usage_daily": text(
        f"INSERT INTO usage_daily (date, email, tool, model, {COLUMNS}) "
        f"SELECT r.date, r.email, r.tool, r.model, {RAW_SUMS} "
        f"FROM usage_records r JOIN {SLICES} ON r.date = s.date AND r.tool = s.tool "
        "GROUP BY r.date, r.email, r.tool, r.model"
    ),
    "usage_tool_daily": text(
        f"INSERT INTO usage_tool_daily (date, tool, model, {COLUMNS}) "
        f"SELECT d.date, d.tool, d.model, {ROLLUP_SUMS} "
        f"FROM usage_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
        "GROUP BY d.date, d.tool, d.model"
    ),
    "usage_user_daily": text(
        f"INSERT INTO usage_user_daily (date, email, tool, {COLUMNS}) "
        f"SELECT d.date, d.email, d.tool, {ROLLUP_SUMS} "
        f"FROM usage_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
        "GROUP BY d.date, d.email, d.tool"
    ),
}


MAPPED = "d.email NOT LIKE 'unmapped:%'"
TOTALS_DELETE = text(f"DELETE FROM usage_tool_totals_daily d USING {SLICES} WHERE d.date = s.date AND d.tool = s.tool")
TOTALS_INSERT = text(
    # level 3 per (date, tool) from the (date, email, tool) level of the same slices
    f"INSERT INTO usage_tool_totals_daily (date, tool, {COLUMNS}, mapped_tokens, mapped_cost, users) "
    f"SELECT d.date, d.tool, {ROLLUP_SUMS}, COALESCE(SUM(d.total_tokens) FILTER (WHERE {MAPPED}), 0), "
    f"COALESCE(SUM(d.cost) FILTER (WHERE {MAPPED}), 0), COUNT(*) FILTER (WHERE {MAPPED}) "
    f"FROM usage_user_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
    "GROUP BY d.date, d.tool"
)
WEEKS = f"(SELECT DISTINCT date_trunc('week', s.date)::date AS week, s.tool FROM {SLICES}) AS w"
WEEKLY_DELETE = text(f"DELETE FROM usage_tool_weekly_users u USING {WEEKS} WHERE u.week = w.week AND u.tool = w.tool")
WEEKLY_INSERT = text(
    # distinct mapped people of each touched (week, tool), recounted over its seven days of usage_user_daily
    "INSERT INTO usage_tool_weekly_users (week, tool, users) "
    f"SELECT w.week, w.tool, COUNT(DISTINCT d.email) FROM {WEEKS} JOIN usage_user_daily d "
    "ON d.tool = w.tool AND d.date BETWEEN w.week AND w.week + 6 AND d.email NOT LIKE 'unmapped:%' "
    "GROUP BY w.week, w.tool"
)


UNITS = ("month", "week")
PERIOD_SUMS = "input_tokens, output_tokens, cache_read_tokens, total_tokens, cost, thinking_records"
PERIOD_COLUMNS = PERIOD_SUMS.split(", ")


def _in_period(unit: str, alias: str) -> str:
    return f"d.date >= {alias}.{unit} AND d.date < ({alias}.{unit} + interval '1 {unit}')::date"


def _slice_period_sums(unit: str) -> str:
    """The (period, email, tool) sums and first day of the slices' usage_user_daily rows."""
    return (
        f"SELECT date_trunc('{unit}', d.date)::date AS {unit}, d.email, d.tool, "
        + ", ".join(f"SUM(d.{c}) AS {c}" for c in PERIOD_COLUMNS)
        + f", MIN(d.date) AS first_date FROM usage_user_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
        "GROUP BY 1, d.email, d.tool"
    )


ACTIVE_ONLY_IN_SLICES = (
    # (date, email) pairs with a usage_user_daily row in the slices and none in another tool's (untouched) slice of
    # that day: the only pairs whose "active that day" a refresh of the slices can change
    f"SELECT DISTINCT d.date, d.email FROM usage_user_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
    "WHERE NOT EXISTS (SELECT 1 FROM usage_user_daily o WHERE o.date = d.date AND o.email = d.email "
    "AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:dates AS date[]), CAST(:tools AS text[])) AS t(date, tool) "
    "WHERE t.date = o.date AND t.tool = o.tool))"
)


def _period_statements(unit: str) -> dict[str, TextClause]:
    """The (period, email, tool) level of `unit` (month, week), moved like the lifetime spans: the slices' old
    usage_user_daily rows leave their sums before the rebuild, the new ones join after it; a key that lost the row of
    its first day is re-read (first day again, or deleted when the period holds none of its rows any more). And the
    (period, email) active days: the slices' pairs that no other tool keeps active are taken out before the rebuild and
    counted again after it (`PERSON_DAYS`, both units at once), so a pair that appeared adds a day and one that went
    away removes one; `drop_idle` then deletes the rows left at no day."""
    table, person = f"usage_user_{unit}ly", f"usage_person_{unit}ly"
    keys = (
        "unnest(CAST(:periods AS date[]), CAST(:emails AS text[]), CAST(:key_tools AS text[])) "
        f"AS k({unit}, email, tool)"
    )
    on_key = f"u.{unit} = k.{unit} AND u.email = k.email AND u.tool = k.tool"
    return {
        "subtract": text(
            # answers the keys whose first day had a row in the slices (the edges)
            f"WITH moved AS (UPDATE {table} u SET "
            + ", ".join(f"{c} = u.{c} - g.{c}" for c in PERIOD_COLUMNS)
            + f" FROM ({_slice_period_sums(unit)}) AS g "
            f"WHERE u.{unit} = g.{unit} AND u.email = g.email AND u.tool = g.tool "
            f"RETURNING u.{unit} AS period, u.email, u.tool, g.first_date = u.first_date AS edge) "
            "SELECT period, email, tool FROM moved WHERE edge"
        ),
        "add": text(
            f"INSERT INTO {table} AS u ({unit}, email, tool, {PERIOD_SUMS}, first_date) {_slice_period_sums(unit)} "
            f"ON CONFLICT ({unit}, email, tool) DO UPDATE SET "
            + ", ".join(f"{c} = u.{c} + excluded.{c}" for c in PERIOD_COLUMNS)
            + ", first_date = LEAST(u.first_date, excluded.first_date)"
        ),
        "drop_empty": text(
            # an edge key with no row left in its period
            f"DELETE FROM {table} u USING {keys} WHERE {on_key} AND NOT EXISTS (SELECT 1 FROM usage_user_daily d "
            f"WHERE d.email = u.email AND d.tool = u.tool AND {_in_period(unit, 'u')})"
        ),
        "first_date": text(
            # an edge key's first day again: one probe of ix_usage_user_daily_email_tool_date
            f"UPDATE {table} u SET first_date = (SELECT MIN(d.date) FROM usage_user_daily d "
            f"WHERE d.email = u.email AND d.tool = u.tool AND {_in_period(unit, 'u')}) FROM {keys} WHERE {on_key} "
            "AND NOT EXISTS (SELECT 1 FROM usage_user_daily d WHERE d.date = u.first_date AND d.email = u.email "
            "AND d.tool = u.tool)"
        ),
        "drop_idle": text(
            f"DELETE FROM {person} u WHERE u.days <= 0 AND u.{unit} IN "
            f"(SELECT DISTINCT date_trunc('{unit}', s.date)::date FROM {SLICES})"
        ),
    }


PERIODS = {unit: _period_statements(unit) for unit in UNITS}


def _count_days(unit: str) -> str:
    return (
        f"INSERT INTO usage_person_{unit}ly AS u ({unit}, email, days) SELECT date_trunc('{unit}', a.date)::date, "
        f"a.email, CAST(:sign AS int) * COUNT(*) FROM active AS a GROUP BY 1, a.email "
        f"ON CONFLICT ({unit}, email) DO UPDATE SET days = u.days + excluded.days"
    )


PERSON_DAYS = text(
    # the slices' (date, email) pairs counted once more (:sign 1, after the rebuild) or once less (-1, before) in the
    # monthly and the weekly active days: one statement, so the pairs are found once for both levels
    f"WITH active AS ({ACTIVE_ONLY_IN_SLICES}), monthly AS ({_count_days('month')}) {_count_days('week')}"
)


SPAN_SUMS = "SUM(d.total_tokens), SUM(d.cost), SUM(d.record_count), MIN(d.date), MAX(d.date)"
SPANS_SUBTRACT = text(
    # the slices' old (date, email, tool) rows leave their pairs' lifetime sums ...
    "UPDATE usage_user_tools u SET total_tokens = u.total_tokens - g.t, cost = u.cost - g.c, "
    "record_count = u.record_count - g.n "
    f"FROM (SELECT d.email, d.tool, {SPAN_SUMS} FROM usage_user_daily d JOIN {SLICES} "
    "ON d.date = s.date AND d.tool = s.tool GROUP BY d.email, d.tool) AS g(email, tool, t, c, n, lo, hi) "
    "WHERE u.email = g.email AND u.tool = g.tool "
    "RETURNING u.email, u.tool, g.lo = u.first_date OR g.hi = u.last_date AS edge"
)
SPANS_ADD = text(
    # ... and the new ones join them (a new pair starts with its span in the slices)
    "INSERT INTO usage_user_tools AS u (email, tool, total_tokens, cost, record_count, first_date, last_date) "
    f"SELECT d.email, d.tool, {SPAN_SUMS} FROM usage_user_daily d JOIN {SLICES} "
    "ON d.date = s.date AND d.tool = s.tool GROUP BY d.email, d.tool "
    "ON CONFLICT (email, tool) DO UPDATE SET total_tokens = u.total_tokens + excluded.total_tokens, "
    "cost = u.cost + excluded.cost, record_count = u.record_count + excluded.record_count, "
    "first_date = LEAST(u.first_date, excluded.first_date), last_date = GREATEST(u.last_date, excluded.last_date)"
)
PAIRS = "unnest(CAST(:emails AS text[]), CAST(:pair_tools AS text[])) AS p(email, tool)"
SPANS_STALE = text(
    # a span is right when its first and last days still have a row (then nothing older or newer can exist)
    f"SELECT u.email, u.tool FROM usage_user_tools u JOIN {PAIRS} ON u.email = p.email AND u.tool = p.tool "
    "WHERE u.record_count = 0 "
    "OR NOT EXISTS (SELECT 1 FROM usage_user_daily d WHERE d.date = u.first_date AND d.email = u.email "
    "AND d.tool = u.tool) "
    "OR NOT EXISTS (SELECT 1 FROM usage_user_daily d WHERE d.date = u.last_date AND d.email = u.email "
    "AND d.tool = u.tool)"
)
SPANS_DROP = text(
    f"DELETE FROM usage_user_tools u USING {PAIRS} WHERE u.email = p.email AND u.tool = p.tool AND u.record_count = 0"
)
SPANS_DATES = text(
    # first and last day of a pair whose boundary row went away: two probes of ix_usage_user_daily_email_tool_date
    "UPDATE usage_user_tools u SET "
    "first_date = (SELECT MIN(d.date) FROM usage_user_daily d WHERE d.email = u.email AND d.tool = u.tool), "
    "last_date = (SELECT MAX(d.date) FROM usage_user_daily d WHERE d.email = u.email AND d.tool = u.tool) "
    f"FROM {PAIRS} WHERE u.email = p.email AND u.tool = p.tool"
)

Pair = tuple[str, str]


DATA_VERSION_FIRST = text("SELECT 1 FROM data_version WHERE id = 1 FOR NO KEY UPDATE")
"""The lock order of writers: the data-version row (which the trigger of every page-read table takes before the
statement, docs/architecture.md "Cache") before a rollup lock. A refresh taken before any write in its transaction
(`abacus db rebuild-rollups`) takes it here first; otherwise it holds it already, and this costs one lookup. The
other way round, a rebuild beside a sync store deadlocked: each held the lock the other waited for."""
USAGE_ROLLUP_LOCK = text("SELECT pg_advisory_xact_lock(4207090002)")
"""Held until the writer's transaction ends. The per-person levels (weekly and monthly active days, lifetime spans)
span tools, so writers of different (date, tool) slices — a Claude Code and a Cursor sync of the same people, a CSV
import during a sync — share rollup rows: they recompute one after the other, each statement of the second seeing
the first's committed rows, instead of colliding on the rollup keys or losing an update."""


async def refresh_rollup(db: AsyncSession, slices: Iterable[Slice]) -> None:
    """Recompute every rollup level for the given (date, tool) slices, in the caller's transaction (serialised with
    other usage writers by `USAGE_ROLLUP_LOCK`)."""
    ordered = sorted(set(slices))
    if not ordered:
        return
    await db.execute(DATA_VERSION_FIRST)
    await db.execute(USAGE_ROLLUP_LOCK)
    # (email, tool) pairs that lost a row on their first or last day: their span is re-read unless rows came back on
    # both days (a re-sync of the same day keeps every span)
    edges: set[Pair] = set()
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        params = {"dates": [d for d, _ in chunk], "tools": [t for _, t in chunk]}
        edges.update((r.email, r.tool) for r in await db.execute(SPANS_SUBTRACT, params) if r.edge)
        period_edges = {
            unit: [(r.period, r.email, r.tool) for r in await db.execute(PERIODS[unit]["subtract"], params)]
            for unit in UNITS
        }
        await db.execute(PERSON_DAYS, {**params, "sign": -1})
        for table in ROLLUPS:
            await db.execute(ROLLUP_DELETE[table], params)
            await db.execute(ROLLUP_INSERT[table], params)
        await db.execute(TOTALS_DELETE, params)
        await db.execute(TOTALS_INSERT, params)
        await db.execute(SPANS_ADD, params)
        await db.execute(WEEKLY_DELETE, params)
        await db.execute(WEEKLY_INSERT, params)
        for unit in UNITS:
            await db.execute(PERIODS[unit]["add"], params)
            await _reread_period_edges(db, unit, period_edges[unit])
        await db.execute(PERSON_DAYS, {**params, "sign": 1})
        for unit in UNITS:
            await db.execute(PERIODS[unit]["drop_idle"], params)
    for pairs in _batches(sorted(edges)):
        stale = [(r.email, r.tool) for r in await db.execute(SPANS_STALE, _pair_params(pairs))]
        if stale:
            await db.execute(SPANS_DROP, _pair_params(stale))
            await db.execute(SPANS_DATES, _pair_params(stale))


async def _reread_period_edges(db: AsyncSession, unit: str, keys: list[tuple[date, str, str]]) -> None:
    """Keys of the `unit` level that lost the row of their first day: dropped when their period holds none of their
    rows any more, else their first day read again (unless the row came back)."""
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        params = {"periods": [k[0] for k in chunk], "emails": [k[1] for k in chunk], "key_tools": [k[2] for k in chunk]}
        await db.execute(PERIODS[unit]["drop_empty"], params)
        await db.execute(PERIODS[unit]["first_date"], params)


REBUILD_LIFETIME = (
    text("DELETE FROM usage_user_tools"),
    text(
        "INSERT INTO usage_user_tools (email, tool, first_date, last_date, total_tokens, cost, record_count) "
        "SELECT email, tool, MIN(date), MAX(date), SUM(total_tokens), SUM(cost), SUM(record_count) "
        "FROM usage_user_daily GROUP BY email, tool"
    ),
    text(
        "DELETE FROM usage_tool_totals_daily d WHERE NOT EXISTS (SELECT 1 FROM usage_user_daily u "
        "WHERE u.date = d.date AND u.tool = d.tool)"
    ),
    text(
        "DELETE FROM usage_tool_weekly_users w WHERE NOT EXISTS (SELECT 1 FROM usage_user_daily u "
        "WHERE u.tool = w.tool AND u.date BETWEEN w.week AND w.week + 6 AND u.email NOT LIKE 'unmapped:%')"
    ),
    *(
        statement
        for unit in UNITS
        for statement in (
            text(f"DELETE FROM usage_user_{unit}ly"),
            text(
                f"INSERT INTO usage_user_{unit}ly ({unit}, email, tool, {PERIOD_SUMS}, first_date) "
                f"SELECT date_trunc('{unit}', date)::date, email, tool, "
                + ", ".join(f"SUM({c})" for c in PERIOD_COLUMNS)
                + ", MIN(date) FROM usage_user_daily GROUP BY 1, email, tool"
            ),
            text(f"DELETE FROM usage_person_{unit}ly"),
            text(
                f"INSERT INTO usage_person_{unit}ly ({unit}, email, days) "
                f"SELECT date_trunc('{unit}', date)::date, email, COUNT(DISTINCT date) FROM usage_user_daily "
                "GROUP BY 1, email"
            ),
        )
    ),
)


async def rebuild_derived(db: AsyncSession) -> None:
    """After `refresh_rollup` over every slice (`abacus db rebuild-rollups`): sum the lifetime (email, tool) level and
    the monthly and weekly levels afresh (their refresh moves sums, so it would keep an earlier error) and drop rows of
    the other levels that no slice holds any more."""
    await db.execute(DATA_VERSION_FIRST)
    await db.execute(USAGE_ROLLUP_LOCK)
    for statement in REBUILD_LIFETIME:
        await db.execute(statement)


def _batches(pairs: list[Pair]) -> Iterable[list[Pair]]:
    return (pairs[start : start + BATCH] for start in range(0, len(pairs), BATCH))


def _pair_params(pairs: list[Pair]) -> dict[str, list[str]]:
    return {"emails": [e for e, _ in pairs], "pair_tools": [t for _, t in pairs]}


_VERIFY_DAILY = """
WITH truth AS (
  SELECT date, email, tool, model, SUM(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens) t,
         SUM(cost) c, COUNT(*) n
  FROM usage_records GROUP BY date, email, tool, model
),
by_tool AS (SELECT date, tool, model, SUM(t) t, SUM(c) c, SUM(n) n FROM truth GROUP BY date, tool, model),
by_user AS (SELECT date, email, tool, SUM(t) t, SUM(c) c, SUM(n) n FROM truth GROUP BY date, email, tool)
SELECT
  (SELECT COUNT(*) FROM truth FULL OUTER JOIN usage_daily d USING (date, email, tool, model)
   WHERE truth.t IS DISTINCT FROM d.total_tokens OR truth.c IS DISTINCT FROM d.cost
      OR truth.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM by_tool FULL OUTER JOIN usage_tool_daily d USING (date, tool, model)
   WHERE by_tool.t IS DISTINCT FROM d.total_tokens OR by_tool.c IS DISTINCT FROM d.cost
      OR by_tool.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM by_user FULL OUTER JOIN usage_user_daily d USING (date, email, tool)
   WHERE by_user.t IS DISTINCT FROM d.total_tokens OR by_user.c IS DISTINCT FROM d.cost
      OR by_user.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM (
     SELECT date, tool, SUM(t) t, SUM(c) c, SUM(n) n,
            COALESCE(SUM(t) FILTER (WHERE email NOT LIKE 'unmapped:%'), 0) mt,
            COALESCE(SUM(c) FILTER (WHERE email NOT LIKE 'unmapped:%'), 0) mc,
            COUNT(*) FILTER (WHERE email NOT LIKE 'unmapped:%') users
     FROM by_user GROUP BY date, tool) AS by_day FULL OUTER JOIN usage_tool_totals_daily d USING (date, tool)
   WHERE by_day.t IS DISTINCT FROM d.total_tokens OR by_day.c IS DISTINCT FROM d.cost
      OR by_day.n IS DISTINCT FROM d.record_count OR by_day.mt IS DISTINCT FROM d.mapped_tokens
      OR by_day.mc IS DISTINCT FROM d.mapped_cost OR by_day.users IS DISTINCT FROM d.users)
+ (SELECT COUNT(*) FROM (SELECT email, tool, MIN(date) f, MAX(date) l, SUM(t) t, SUM(c) c, SUM(n) n
                         FROM by_user GROUP BY email, tool) AS spans
   FULL OUTER JOIN usage_user_tools d USING (email, tool)
   WHERE spans.f IS DISTINCT FROM d.first_date OR spans.l IS DISTINCT FROM d.last_date
      OR spans.t IS DISTINCT FROM d.total_tokens OR spans.c IS DISTINCT FROM d.cost
      OR spans.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM (SELECT date_trunc('week', date)::date AS week, tool, COUNT(DISTINCT email) AS users
                         FROM by_user WHERE email NOT LIKE 'unmapped:%' GROUP BY 1, tool) AS weekly
   FULL OUTER JOIN usage_tool_weekly_users d USING (week, tool)
   WHERE weekly.users IS DISTINCT FROM d.users)
"""


def _period_checks(unit: str) -> str:
    """The mismatch counts of the (period, email, tool) sums and (period, email) active days of `unit` (month, week)."""
    return f"""
+ (SELECT COUNT(*) FROM (SELECT date_trunc('{unit}', date)::date AS {unit}, email, tool, SUM(t) t, SUM(c) c,
                                MIN(date) f
                         FROM by_user GROUP BY 1, email, tool) AS sums
   FULL OUTER JOIN usage_user_{unit}ly d USING ({unit}, email, tool)
   WHERE sums.t IS DISTINCT FROM d.total_tokens OR sums.c IS DISTINCT FROM d.cost
      OR sums.f IS DISTINCT FROM d.first_date)
+ (SELECT COUNT(*) FROM (SELECT date_trunc('{unit}', date)::date AS {unit}, email, COUNT(DISTINCT date) AS days
                         FROM by_user GROUP BY 1, email) AS person
   FULL OUTER JOIN usage_person_{unit}ly d USING ({unit}, email)
   WHERE person.days IS DISTINCT FROM d.days)"""


VERIFY_SQL = text(_VERIFY_DAILY + _period_checks("month") + _period_checks("week"))


async def rollup_mismatches(db: AsyncSession) -> int:
    """Number of rollup rows (every level) that differ from the SQL sums of usage_records and commits
    (0 = consistent)."""
    usage = int((await db.execute(VERIFY_SQL)).scalar_one())
    return usage + int((await db.execute(COMMIT_VERIFY_SQL)).scalar_one())


# --- commit rollups ---------------------------------------------------------------------------------------------
# `commit_daily` (day, repo_id, ai_tool) and `commit_author_daily` (day, repo_id, author) are recomputed from
# `commits` for touched (day, repo_id) slices; `commit_authors` (author_id) for touched GitHub author ids. '' stands
# for "no tool" (human) and "no author" in the key columns. Every writer of `commits` (store_commits, identity
# mappings of source github) calls `refresh_commit_rollup` in its own transaction.

CommitSlice = tuple[date, int]

COMMIT_DAY = "(c.committed_at AT TIME ZONE 'UTC')::date"
COMMIT_AUTHOR = "COALESCE(c.author_email, 'github:' || c.author_id, '')"
COUNTED = "NOT (c.is_bot AND c.ai_tool IS NULL)"
"""Commits of the day and author levels: a bot's commit counts only when a rule attributes it to an AI tool (the
Copilot agent); other bot commits are neither human commits nor in any AI-share denominator (`commits.is_bot` is
the effective flag: the sync's rule or an admin's "ignore as bot", docs/schema.md)."""
COMMIT_SLICES = "unnest(CAST(:days AS date[]), CAST(:repos AS bigint[])) AS s(day, repo_id)"
IN_SLICE = (
    "c.repo_id = s.repo_id AND c.committed_at >= s.day::timestamp AT TIME ZONE 'UTC' "
    "AND c.committed_at < (s.day + 1)::timestamp AT TIME ZONE 'UTC'"
)
COMMIT_DAILY_COLUMNS = "day, repo_id, ai_tool, commits, additions, deletions, without_stats, first_at, last_at"
COMMIT_DAILY_SUMS = (
    "COUNT(*), COALESCE(SUM(c.additions), 0), COALESCE(SUM(c.deletions), 0), "
    "COUNT(*) FILTER (WHERE c.additions IS NULL OR c.deletions IS NULL), MIN(c.committed_at), MAX(c.committed_at)"
)
AUTHOR_DAILY_SUMS = "COUNT(*), COUNT(c.ai_tool), MAX(c.committed_at)"
GITHUB_AUTHOR_SUMS = (
    "c.author_id, COUNT(*), MIN(c.author_raw_email), MIN(c.author_login), MIN(c.committed_at), MAX(c.committed_at), "
    "bool_or(c.is_bot)"
)
GITHUB_COMMITS = "commits c JOIN repositories r ON r.id = c.repo_id AND r.source = 'github'"
COMMIT_REFRESH = (
    text(f"DELETE FROM commit_daily d USING {COMMIT_SLICES} WHERE d.day = s.day AND d.repo_id = s.repo_id"),
    text(
        f"INSERT INTO commit_daily ({COMMIT_DAILY_COLUMNS}) "
        f"SELECT s.day, s.repo_id, COALESCE(c.ai_tool, ''), {COMMIT_DAILY_SUMS} "
        f"FROM {COMMIT_SLICES} JOIN commits c ON {IN_SLICE} AND {COUNTED} "
        "GROUP BY s.day, s.repo_id, COALESCE(c.ai_tool, '')"
    ),
    text(f"DELETE FROM commit_author_daily d USING {COMMIT_SLICES} WHERE d.day = s.day AND d.repo_id = s.repo_id"),
    text(
        "INSERT INTO commit_author_daily (day, repo_id, author, commits, ai_commits, last_at) "
        f"SELECT s.day, s.repo_id, {COMMIT_AUTHOR}, {AUTHOR_DAILY_SUMS} "
        f"FROM {COMMIT_SLICES} JOIN commits c ON {IN_SLICE} AND {COUNTED} GROUP BY s.day, s.repo_id, {COMMIT_AUTHOR}"
    ),
)
AUTHORS_REFRESH = (
    text("DELETE FROM commit_authors WHERE author_id = ANY(CAST(:ids AS text[]))"),
    text(
        "INSERT INTO commit_authors (author_id, commits, sample_email, login, first_at, last_at, is_bot) "
        f"SELECT {GITHUB_AUTHOR_SUMS} FROM {GITHUB_COMMITS} "
        "WHERE c.author_id = ANY(CAST(:ids AS text[])) GROUP BY c.author_id"
    ),
)
COMMIT_REBUILD = (
    text("DELETE FROM commit_daily"),
    text(
        f"INSERT INTO commit_daily ({COMMIT_DAILY_COLUMNS}) SELECT {COMMIT_DAY}, c.repo_id, COALESCE(c.ai_tool, ''), "
        f"{COMMIT_DAILY_SUMS} FROM commits c WHERE {COUNTED} GROUP BY 1, 2, 3"
    ),
    text("DELETE FROM commit_author_daily"),
    text(
        "INSERT INTO commit_author_daily (day, repo_id, author, commits, ai_commits, last_at) "
        f"SELECT {COMMIT_DAY}, c.repo_id, {COMMIT_AUTHOR}, {AUTHOR_DAILY_SUMS} FROM commits c WHERE {COUNTED} "
        "GROUP BY 1, 2, 3"
    ),
    text("DELETE FROM commit_authors"),
    text(
        "INSERT INTO commit_authors (author_id, commits, sample_email, login, first_at, last_at, is_bot) "
        f"SELECT {GITHUB_AUTHOR_SUMS} FROM {GITHUB_COMMITS} WHERE c.author_id IS NOT NULL GROUP BY c.author_id"
    ),
)


COMMIT_ROLLUP_LOCK = text("SELECT pg_advisory_xact_lock(4207090001)")
"""Held until the writer's transaction ends: two writers of the same (day, repo) slice or author (a webhook follow-up
and a repository sync, a mapping change) recompute one after the other, the second seeing the first's commits and
rows, instead of colliding on the rollup keys."""


async def refresh_commit_rollup(
    db: AsyncSession, slices: Iterable[CommitSlice], author_ids: Iterable[str | None] = ()
) -> None:
    """Recompute the commit levels for the (UTC day, repo_id) slices and the GitHub author ids given, in the caller's
    transaction (serialised with other commit writers by `COMMIT_ROLLUP_LOCK`)."""
    ordered = sorted(set(slices))
    ids = sorted({a for a in author_ids if a})
    if not ordered and not ids:
        return
    await db.execute(DATA_VERSION_FIRST)
    await db.execute(COMMIT_ROLLUP_LOCK)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        params = {"days": [d for d, _ in chunk], "repos": [r for _, r in chunk]}
        for statement in COMMIT_REFRESH:
            await db.execute(statement, params)
    for start in range(0, len(ids), BATCH):
        for statement in AUTHORS_REFRESH:
            await db.execute(statement, {"ids": ids[start : start + BATCH]})


async def rebuild_commit_rollup(db: AsyncSession | AsyncConnection) -> None:
    """Every commit level summed afresh from `commits` (`abacus db rebuild-rollups`, raw-SQL writers: bench, tests)."""
    for statement in COMMIT_REBUILD:
        await db.execute(statement)


COMMIT_VERIFY_SQL = text(f"""
SELECT
  (SELECT COUNT(*) FROM (SELECT {COMMIT_DAY}, c.repo_id, COALESCE(c.ai_tool, ''),
                                {COMMIT_DAILY_SUMS}
                         FROM commits c WHERE {COUNTED} GROUP BY 1, 2, 3) AS t(day, repo_id, ai_tool, n, a, d, w, f, l)
   FULL OUTER JOIN commit_daily x USING (day, repo_id, ai_tool)
   WHERE t.n IS DISTINCT FROM x.commits OR t.a IS DISTINCT FROM x.additions OR t.d IS DISTINCT FROM x.deletions
      OR t.w IS DISTINCT FROM x.without_stats OR t.f IS DISTINCT FROM x.first_at OR t.l IS DISTINCT FROM x.last_at)
+ (SELECT COUNT(*) FROM (SELECT {COMMIT_DAY}, c.repo_id, {COMMIT_AUTHOR}, {AUTHOR_DAILY_SUMS}
                         FROM commits c WHERE {COUNTED} GROUP BY 1, 2, 3) AS t(day, repo_id, author, n, ai, l)
   FULL OUTER JOIN commit_author_daily x USING (day, repo_id, author)
   WHERE t.n IS DISTINCT FROM x.commits OR t.ai IS DISTINCT FROM x.ai_commits OR t.l IS DISTINCT FROM x.last_at)
+ (SELECT COUNT(*) FROM (SELECT {GITHUB_AUTHOR_SUMS} FROM {GITHUB_COMMITS} WHERE c.author_id IS NOT NULL
                         GROUP BY c.author_id) AS t(author_id, n, e, g, f, l, b)
   FULL OUTER JOIN commit_authors x USING (author_id)
   WHERE t.n IS DISTINCT FROM x.commits OR t.e IS DISTINCT FROM x.sample_email OR t.g IS DISTINCT FROM x.login
      OR t.f IS DISTINCT FROM x.first_at OR t.l IS DISTINCT FROM x.last_at OR t.b IS DISTINCT FROM x.is_bot)
""")
