"""The reference: each main page's figures computed the original's way (getsentry/abacus) — aggregate SQL straight
over the raw `usage_records` and `commits` per request, no rollups — timed on the same database in the same run.

A page's statements run concurrently, each on its own connection (as the original's `Promise.all`), so its time
is the slowest statement's, like ours.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TOKENS = "input_tokens + cache_write_tokens + cache_read_tokens + output_tokens"
TOTALS = f"""SELECT SUM({TOKENS}), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cost),
COUNT(DISTINCT email), COUNT(*) FROM usage_records WHERE date BETWEEN :start AND :end"""
PREVIOUS_TOTALS = TOTALS.replace(":start AND :end", ":prev_start AND :prev_end")
LIFETIME = f"SELECT SUM({TOKENS}), SUM(cost), MIN(date), COUNT(DISTINCT email) FROM usage_records"
DAILY = f"""SELECT date, tool, SUM({TOKENS}), SUM(cost), COUNT(DISTINCT email) FROM usage_records
WHERE date BETWEEN :start AND :end GROUP BY date, tool ORDER BY date"""
MODELS = f"""SELECT model, tool, SUM({TOKENS}), SUM(cost) FROM usage_records WHERE date BETWEEN :start AND :end
GROUP BY model, tool ORDER BY 3 DESC"""
TOP_USERS = f"""SELECT email, SUM({TOKENS}), SUM(cost) FROM usage_records WHERE date BETWEEN :start AND :end
GROUP BY email ORDER BY 2 DESC LIMIT 10"""
PER_USER = f"""SELECT email, SUM({TOKENS}) AS tokens, SUM(cost), SUM(input_tokens), SUM(output_tokens),
SUM(cache_read_tokens), SUM({TOKENS}) FILTER (WHERE tool = 'claude_code'),
SUM({TOKENS}) FILTER (WHERE tool = 'cursor'), MIN(date), MAX(date), COUNT(DISTINCT date), COUNT(DISTINCT tool)
FROM usage_records WHERE date BETWEEN :start AND :end GROUP BY email ORDER BY tokens DESC"""
PER_USER_TOOL = f"""SELECT email, tool, SUM({TOKENS}), SUM(cost) FROM usage_records
WHERE date BETWEEN :start AND :end GROUP BY email, tool"""
USER_TOTALS = TOTALS.replace("WHERE", "WHERE email = :email AND")
USER_DAILY = DAILY.replace("WHERE", "WHERE email = :email AND")
USER_MODELS = MODELS.replace("WHERE", "WHERE email = :email AND")
USER_LIFETIME = LIFETIME + " WHERE email = :email"
USER_COMMITS = """SELECT COUNT(*), COUNT(*) FILTER (WHERE ai_tool IS NOT NULL) FROM commits
WHERE author_email = :email AND committed_at >= :lower AND committed_at < :upper"""
COMMIT_STATS = """SELECT COUNT(*), COUNT(*) FILTER (WHERE ai_tool IS NOT NULL), SUM(additions), SUM(deletions),
COUNT(DISTINCT author_email) FROM commits WHERE committed_at >= :lower AND committed_at < :upper"""
COMMIT_PREVIOUS = COMMIT_STATS.replace(":lower AND committed_at < :upper", ":prev_lower AND committed_at < :lower")
COMMIT_TOOLS = """SELECT ai_tool, COUNT(*) FROM commits WHERE committed_at >= :lower AND committed_at < :upper
GROUP BY ai_tool"""
COMMIT_DAILY = """SELECT date_trunc('day', committed_at), COUNT(*), COUNT(*) FILTER (WHERE ai_tool IS NOT NULL)
FROM commits WHERE committed_at >= :lower AND committed_at < :upper GROUP BY 1 ORDER BY 1"""
COMMIT_REPOS = """SELECT r.full_name, COUNT(*) AS n, COUNT(*) FILTER (WHERE c.ai_tool IS NOT NULL),
SUM(c.additions), SUM(c.deletions), COUNT(DISTINCT c.author_email), MIN(c.committed_at), MAX(c.committed_at),
COUNT(*) FILTER (WHERE c.ai_tool = 'claude_code'), COUNT(*) FILTER (WHERE c.ai_tool = 'cursor')
FROM commits c JOIN repositories r ON r.id = c.repo_id WHERE c.committed_at >= :lower AND c.committed_at < :upper
GROUP BY r.full_name ORDER BY n DESC"""
REPO = "repo_id = (SELECT id FROM repositories WHERE full_name = :repo) AND "
REPO_STATS = COMMIT_STATS.replace("WHERE ", "WHERE " + REPO)
REPO_TOOLS = COMMIT_TOOLS.replace("WHERE ", "WHERE " + REPO)
REPO_DAILY = COMMIT_DAILY.replace("WHERE ", "WHERE " + REPO)
REPO_AUTHORS = (
    """SELECT author_email, COUNT(*) AS n, COUNT(*) FILTER (WHERE ai_tool IS NOT NULL) FROM commits
WHERE """
    + REPO
    + """committed_at >= :lower AND committed_at < :upper GROUP BY author_email ORDER BY n DESC"""
)
REPO_RECENT = (
    """SELECT commit_id, author_email, committed_at, message, ai_tool FROM commits
WHERE """
    + REPO
    + """committed_at >= :lower AND committed_at < :upper ORDER BY committed_at DESC LIMIT 50"""
)

OVERVIEW = (TOTALS, PREVIOUS_TOTALS, LIFETIME, DAILY, MODELS, TOP_USERS, COMMIT_STATS, COMMIT_PREVIOUS, COMMIT_TOOLS)
COMMITS = (COMMIT_STATS, COMMIT_PREVIOUS, COMMIT_TOOLS, COMMIT_DAILY, COMMIT_REPOS)


@dataclass(frozen=True)
class ReferencePage:
    name: str
    days: int
    statements: tuple[str, ...]


PAGES = (
    ReferencePage("overview", 30, OVERVIEW),
    ReferencePage("overview_1y", 365, OVERVIEW),
    ReferencePage("users", 30, (PER_USER,)),
    ReferencePage("team", 30, (TOTALS, PER_USER, PER_USER_TOOL)),
    ReferencePage("user_profile", 30, (USER_TOTALS, USER_DAILY, USER_MODELS, USER_LIFETIME, USER_COMMITS)),
    ReferencePage("commits", 30, COMMITS),
    ReferencePage("commits_90d", 90, COMMITS),
    ReferencePage("repository", 30, (REPO_STATS, REPO_TOOLS, REPO_DAILY, REPO_AUTHORS, REPO_RECENT)),
)


def parameters(days: int, today: date, email: str, repo: str) -> dict[str, Any]:
    """The range of the last `days` days (today included) and its previous period, as dates and UTC bounds."""
    start = today - timedelta(days=days - 1)
    prev_start = start - timedelta(days=days)
    moment = lambda day: datetime.combine(day, day_time.min, tzinfo=UTC)  # noqa: E731
    return {
        "start": start,
        "end": today,
        "prev_start": prev_start,
        "prev_end": start - timedelta(days=1),
        "lower": moment(start),
        "upper": moment(today + timedelta(days=1)),
        "prev_lower": moment(prev_start),
        "email": email,
        "repo": repo,
    }


async def _one(engine: AsyncEngine, statement: str, params: dict[str, Any]) -> None:
    clause = text(statement)
    wanted = {name: value for name, value in params.items() if f":{name}" in statement}
    async with engine.connect() as conn:
        await conn.execute(clause, wanted)


async def time_reference(
    engine: AsyncEngine, page: ReferencePage, *, today: date, email: str, repo: str, repeats: int
) -> list[float]:
    """Milliseconds of each of `repeats` runs of the page's statements (concurrently within a run)."""
    params = parameters(page.days, today, email, repo)
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        await asyncio.gather(*(_one(engine, statement, params) for statement in page.statements))
        runs.append((time.perf_counter() - started) * 1000)
    return runs


def median(values: list[float]) -> float:
    return statistics.median(values)
