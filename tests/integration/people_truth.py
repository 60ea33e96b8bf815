"""Expected Team / user figures computed independently of the app: plain Python over every `usage_records` and
`commits` row read with one simple SELECT each (no rollup, no app query code). Used by the Team, user and users-API
tests."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

from tests.integration.pages_support import sql_rows

THINKING_ENDINGS = (" (t)", " (ht)", "-thinking", "-high-thinking")
"""metrics.md §4 hasThinkingModels, compared lower-cased (the rule is case-insensitive)."""


def half_up(x: Fraction | int) -> int:
    return math.floor(Fraction(x) + Fraction(1, 2))


@dataclass(frozen=True)
class Rec:
    id: int
    date: date
    email: str
    tool: str
    model: str
    raw_model: str | None
    tok: int
    cost: Decimal
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int = 0

    @property
    def mapped(self) -> bool:
        return not self.email.startswith("unmapped:")


@dataclass(frozen=True)
class CommitRec:
    author_email: str | None
    committed_at: datetime
    ai_tool: str | None
    additions: int | None
    deletions: int | None


def load_records(database_url: str) -> list[Rec]:
    rows = sql_rows(
        database_url,
        "SELECT id, date, email, tool, model, raw_model, input_tokens, cache_write_tokens,"
        " cache_read_tokens, output_tokens, cost FROM usage_records",
    )
    return [
        Rec(
            r.id,
            r.date,
            r.email,
            r.tool,
            r.model,
            r.raw_model,
            r.input_tokens + r.cache_write_tokens + r.cache_read_tokens + r.output_tokens,
            r.cost,
            r.input_tokens,
            r.output_tokens,
            r.cache_read_tokens,
            r.cache_write_tokens,
        )
        for r in rows
    ]


def load_commits(database_url: str) -> list[CommitRec]:
    rows = sql_rows(database_url, "SELECT author_email, committed_at, ai_tool, additions, deletions FROM commits")
    return [CommitRec(r.author_email, r.committed_at, r.ai_tool, r.additions, r.deletions) for r in rows]


def tokens_title(n: int) -> str:
    """The exact-tokens tooltip: `1 token`, `1,234 tokens`."""
    return f"{n:,} token" if n == 1 else f"{n:,} tokens"


def in_range(records: list[Rec], start: date, end: date) -> list[Rec]:
    return [r for r in records if start <= r.date <= end]


def team(records: list[Rec], start: date, end: date, today: date, search: str | None = None) -> dict[str, dict]:
    """email → every Team column, for mapped people with ≥ 1 row in [start, end] whose email contains `search`
    (case-insensitive, literal)."""
    last_seen: dict[str, date] = {}
    for r in records:
        last_seen[r.email] = max(last_seen.get(r.email, r.date), r.date)
    people: dict[str, dict] = {}
    for r in in_range(records, start, end):
        if not r.mapped or (search and search.lower() not in r.email.lower()):
            continue
        p = people.setdefault(
            r.email,
            {
                "email": r.email,
                "total_tokens": 0,
                "total_cost": Decimal(0),
                "tools": defaultdict(int),
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
                "days": set(),
                "thinking": False,
            },
        )
        p["total_tokens"] += r.tok
        p["total_cost"] += r.cost
        p["tools"][r.tool] += r.tok
        p["input_tokens"] += r.input_tokens
        p["output_tokens"] += r.output_tokens
        p["cache_read_tokens"] += r.cache_read_tokens
        p["cache_write_tokens"] += r.cache_write_tokens
        p["days"].add(r.date)
        p["thinking"] = p["thinking"] or bool(r.raw_model and r.raw_model.lower().endswith(THINKING_ENDINGS))
    for email, p in people.items():
        p["claude_code_tokens"] = p["tools"].get("claude_code", 0)
        p["cursor_tokens"] = p["tools"].get("cursor", 0)
        p["first_active"] = min(p["days"])
        p["last_active"] = last_seen[email]
        p["days_active"] = len(p["days"])
        p["avg_tokens_per_day"] = half_up(Fraction(p["total_tokens"], p["days_active"]))
        p["tool_count"] = len(p["tools"])
        p["has_thinking_models"] = p["thinking"]
        p["days_since_last_active"] = (today - last_seen[email]).days
    return people


SORT_VALUE = {
    "email": lambda p: p["email"],
    "totalTokens": lambda p: p["total_tokens"],
    "totalCost": lambda p: p["total_cost"],
    "claudeCodeTokens": lambda p: p["claude_code_tokens"],
    "cursorTokens": lambda p: p["cursor_tokens"],
    "inputTokens": lambda p: p["input_tokens"],
    "outputTokens": lambda p: p["output_tokens"],
    "firstActive": lambda p: p["first_active"],
    "lastActive": lambda p: p["last_active"],
    "daysActive": lambda p: p["days_active"],
    "avgTokensPerDay": lambda p: p["avg_tokens_per_day"],
    "tool_codex": lambda p: p["tools"].get("codex", 0),
}


def sorted_emails(people: dict[str, dict], key: str, descending: bool) -> list[str]:
    """Order by the column, ties by email ascending (two stable sorts)."""
    by_email = sorted(people.values(), key=lambda p: p["email"])
    if key == "email":
        return [p["email"] for p in sorted(by_email, key=lambda p: p["email"], reverse=descending)]
    return [p["email"] for p in sorted(by_email, key=SORT_VALUE[key], reverse=descending)]


def commit_window(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def user_commits(commits: list[CommitRec], email: str, start: date, end: date) -> tuple[int, int]:
    lower, upper = commit_window(start, end)
    mine = [c for c in commits if c.author_email == email and lower <= c.committed_at < upper]
    return len(mine), sum(1 for c in mine if c.ai_tool is not None)
