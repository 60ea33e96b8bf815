"""A deterministic, hand-sized data set written through the real store path (for page and query tests).

Covers: several users and tools (incl. a non-Claude/Cursor tool), unmapped identities, thinking models, UTC day
edges, a leap day, commits with AI and human authors, multi-tool attributions, commits without line stats.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.modelnames import normalize_model_name
from abacus.records import UsageRow
from abacus.rollups import rebuild_commit_rollup
from abacus.sync.usage_store import store_usage

TODAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)
USERS = [
    "ada@example.com",
    "grace@example.com",
    "linus@example.com",
    "barbara@example.com",
    "ken@example.com",
    "alan_x@example.com",
]
MODELS = {
    "claude_code": ["claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001"],
    "cursor": ["claude-4.5-sonnet-thinking", "gpt-5", "auto", "claude-4-sonnet (T)"],
    "codex": ["gpt-5-codex"],
}
REPOS = ["acme/web", "acme/api", "acme/infra_tools"]
MESSAGES = [
    ("Fix bug\n\nCo-Authored-By: Claude <noreply@anthropic.com>", "claude_code", None),
    ("Add feature\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>", "claude_code", "opus-4.5"),
    ("Refactor\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>", "cursor", None),
    ("Tweak\n\nCo-authored-by: Codex <codex@openai.com>", "codex", None),
    (
        "Both\n\nCo-Authored-By: Claude <noreply@anthropic.com>\nCo-authored-by: Cursor <cursoragent@cursor.com>",
        "claude_code",
        None,
    ),
    ("Plain human change", None, None),
    ("Another human change\n\nwith a body", None, None),
]


def usage_rows(days: int = 120) -> list[UsageRow]:
    rng = random.Random(42)
    rows: list[UsageRow] = []
    for offset in range(days):
        day = TODAY - timedelta(days=offset)
        for u_index, email in enumerate(USERS):
            if rng.random() < 0.25 + 0.05 * u_index:
                continue
            for tool, models in MODELS.items():
                if tool == "codex" and u_index % 3:
                    continue
                raw = models[(offset + u_index) % len(models)]
                tokens = [rng.randint(0, 5000), rng.randint(0, 2000), rng.randint(0, 90000), rng.randint(0, 4000)]
                rows.append(
                    UsageRow(
                        date=day,
                        identity=f"{tool}:{email}",
                        tool=tool,
                        model=normalize_model_name(raw),
                        raw_model=raw,
                        input_tokens=tokens[0],
                        cache_write_tokens=tokens[1],
                        cache_read_tokens=tokens[2],
                        output_tokens=tokens[3],
                        cost=Decimal(rng.randint(0, 90000)) / 10000,
                        timestamp_ms=None
                        if tool == "claude_code"
                        else int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000) + u_index,
                        organization_id="org-1" if tool == "claude_code" else f"{tool}:default",
                    )
                )
        if offset % 4 == 0:
            rows.append(
                UsageRow(
                    date=day,
                    identity="claude_code:ci-deploy-key",
                    tool="claude_code",
                    model="sonnet-4.5",
                    raw_model="claude-sonnet-4-5-20250929",
                    input_tokens=1000,
                    output_tokens=500,
                    cost=Decimal("0.25"),
                    organization_id="org-1",
                )
            )
    rows.append(
        UsageRow(
            date=date(2024, 2, 29),
            identity="cursor:ada@example.com",
            tool="cursor",
            model="gpt-5",
            raw_model="gpt-5",
            input_tokens=29,
            output_tokens=2,
            cost=Decimal("0.01"),
            timestamp_ms=1709164800000,
            organization_id="cursor:default",
        )
    )
    return rows


async def seed(db: AsyncSession) -> None:
    """Write usage through store_usage and commits with plain SQL (the GitHub store is tested on its own)."""
    await store_usage(db, usage_rows())
    rng = random.Random(7)
    for name in REPOS:
        await db.execute(text("INSERT INTO repositories (source, full_name) VALUES ('github', :n)"), {"n": name})
    await db.execute(text("INSERT INTO repositories (source, full_name) VALUES ('github', 'acme/empty')"))
    sha = 0
    for offset in range(60):
        day = TODAY - timedelta(days=offset)
        for repo_index, _ in enumerate(REPOS):
            for _ in range(rng.randint(0, 4)):
                sha += 1
                message, tool, model = MESSAGES[rng.randrange(len(MESSAGES))]
                author = USERS[rng.randrange(len(USERS))]
                when = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86399))
                if sha % 17 == 0:
                    when = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
                stats = None if sha % 11 == 0 else (rng.randint(1, 400), rng.randint(0, 200))
                commit_id = (
                    await db.execute(
                        text(
                            "INSERT INTO commits (repo_id, commit_id, author_email, author_raw_email, author_id,"
                            " committed_at,"
                            " message, ai_tool, ai_model, additions, deletions)"
                            " SELECT id, :sha, :email, :email, :aid, :at, :msg, :tool, :model, :add, :del"
                            " FROM repositories WHERE full_name = :repo RETURNING id"
                        ),
                        {
                            "sha": f"{sha:040x}",
                            "email": author,
                            "aid": str(1000 + USERS.index(author)),
                            "at": when,
                            "msg": message,
                            "tool": tool,
                            "model": model,
                            "add": stats and stats[0],
                            "del": stats and stats[1],
                            "repo": REPOS[repo_index],
                        },
                    )
                ).scalar_one()
                tools = [
                    t
                    for t in ("claude_code", "cursor", "codex")
                    if t == tool or ("Cursor <cursoragent" in message and t == "cursor")
                ]
                for t in tools:
                    await db.execute(
                        text(
                            "INSERT INTO commit_attributions (commit_id, ai_tool, ai_model, source) "
                            "VALUES (:c, :t, :m, 'co_author')"
                        ),
                        {"c": commit_id, "t": t, "m": model if t == tool else None},
                    )
    await rebuild_commit_rollup(db)  # commits were written with plain SQL
