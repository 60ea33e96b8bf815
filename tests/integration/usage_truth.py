"""Expected usage figures computed independently from the raw tables (`usage_records`, `commits`), never through
the app's query modules or the `usage_daily` rollup — the pages' numbers are compared against these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tests.integration.pages_support import sql_rows, sql_value

TOK = "(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens)"
MAPPED = "email NOT LIKE 'unmapped:%'"


@dataclass
class Totals:
    tokens: int
    cost: Decimal
    users: int
    mapped_tokens: int
    mapped_cost: Decimal
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int


def totals(db: str, start: date, end: date) -> Totals:
    row = sql_rows(
        db,
        f"""
        SELECT COALESCE(SUM({TOK}), 0), COALESCE(SUM(cost), 0), COUNT(DISTINCT email) FILTER (WHERE {MAPPED}),
               COALESCE(SUM({TOK}) FILTER (WHERE {MAPPED}), 0), COALESCE(SUM(cost) FILTER (WHERE {MAPPED}), 0),
               COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cache_read_tokens), 0)
        FROM usage_records WHERE date >= :s AND date <= :e""",
        s=start,
        e=end,
    )[0]
    return Totals(
        int(row[0]), Decimal(row[1]), int(row[2]), int(row[3]), Decimal(row[4]), int(row[5]), int(row[6]), int(row[7])
    )


def tool_totals(db: str, start: date, end: date) -> dict[str, tuple[int, Decimal, int, int]]:
    """tool → (tokens, cost, mapped users, mapped tokens)."""
    rows = sql_rows(
        db,
        f"""
        SELECT tool, SUM({TOK}), SUM(cost), COUNT(DISTINCT email) FILTER (WHERE {MAPPED}),
               COALESCE(SUM({TOK}) FILTER (WHERE {MAPPED}), 0)
        FROM usage_records WHERE date >= :s AND date <= :e GROUP BY tool""",
        s=start,
        e=end,
    )
    return {r[0]: (int(r[1]), Decimal(r[2]), int(r[3]), int(r[4])) for r in rows}


def daily_tool_tokens(db: str, start: date, end: date) -> dict[tuple[date, str], int]:
    rows = sql_rows(
        db,
        f"SELECT date, tool, SUM({TOK}) FROM usage_records WHERE date BETWEEN :s AND :e GROUP BY date, tool",
        s=start,
        e=end,
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def daily_cost(db: str, start: date, end: date) -> dict[date, Decimal]:
    rows = sql_rows(
        db, "SELECT date, SUM(cost) FROM usage_records WHERE date BETWEEN :s AND :e GROUP BY date", s=start, e=end
    )
    return {r[0]: Decimal(r[1]) for r in rows}


def model_tokens(db: str, start: date, end: date) -> list[tuple[str, int, Decimal]]:
    """Per model summed over tools: (model, tokens, cost), tokens desc then name."""
    rows = sql_rows(
        db,
        f"SELECT model, SUM({TOK}) AS t, SUM(cost) FROM usage_records WHERE date BETWEEN :s AND :e "
        "GROUP BY model ORDER BY t DESC, model",
        s=start,
        e=end,
    )
    return [(r[0], int(r[1]), Decimal(r[2])) for r in rows]


def model_tool_tokens(db: str, start: date, end: date) -> dict[tuple[str, str], int]:
    rows = sql_rows(
        db,
        f"SELECT model, tool, SUM({TOK}) FROM usage_records WHERE date BETWEEN :s AND :e GROUP BY model, tool",
        s=start,
        e=end,
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def user_totals(db: str, start: date, end: date) -> list[tuple[str, int, Decimal]]:
    """Mapped users: (email, tokens, cost) tokens desc, email asc."""
    rows = sql_rows(
        db,
        f"SELECT email, SUM({TOK}) AS t, SUM(cost) FROM usage_records WHERE date BETWEEN :s AND :e "
        f"AND {MAPPED} GROUP BY email ORDER BY t DESC, email",
        s=start,
        e=end,
    )
    return [(r[0], int(r[1]), Decimal(r[2])) for r in rows]


def favorite_model(db: str, email: str, start: date, end: date) -> str:
    rows = sql_rows(
        db,
        f"SELECT model, SUM({TOK}) AS t FROM usage_records WHERE email = :m AND date BETWEEN :s AND :e GROUP BY model",
        m=email,
        s=start,
        e=end,
    )
    best = max(r[1] for r in rows)
    return min(r[0] for r in rows if r[1] == best)


def commit_counts(db: str, start: date, end: date) -> tuple[int, int, dict[str, int]]:
    """(total, AI, AI per primary tool) for commits of the inclusive UTC day range."""
    rows = sql_rows(
        db,
        """
        SELECT ai_tool, COUNT(*) FROM commits
        WHERE (committed_at AT TIME ZONE 'UTC')::date BETWEEN :s AND :e GROUP BY ai_tool""",
        s=start,
        e=end,
    )
    per_tool = {r[0]: int(r[1]) for r in rows if r[0] is not None}
    total = sum(int(r[1]) for r in rows)
    return total, sum(per_tool.values()), per_tool


def lifetime_tokens(db: str) -> int:
    return int(sql_value(db, f"SELECT COALESCE(SUM({TOK}), 0) FROM usage_records"))


def previous(start: date, end: date) -> tuple[date, date]:
    days = (end - start).days + 1
    prev_end = start - timedelta(days=1)
    return prev_end - timedelta(days=days - 1), prev_end


def sql_exec(database_url: str, statement: str, **params: object) -> None:
    """Run one writing statement and commit it."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement), params)
        finally:
            await engine.dispose()

    asyncio.run(run())
