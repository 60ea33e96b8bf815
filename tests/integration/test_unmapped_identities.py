"""One query module (queries/identities.py) answers "which identities are not mapped" for the status page and its
JSON, the mapping assistant and the CLI. A GitHub author is shown with the commit email as GitHub sent it
(`author_raw_email`), not the email the sync resolved (`author_email`): this pins that choice for every caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from abacus.queries.identities import github_authors, unattributed, unmapped_github, unmapped_usage
from abacus.queries.mappings import mappings_view
from abacus.rollups import rebuild_commit_rollup

ROWS = [
    "INSERT INTO repositories (id, source, full_name) VALUES (1, 'github', 'acme/web')",
    # author 101: unmapped; the sync resolved another address than the one on the commits
    "INSERT INTO commits (repo_id, commit_id, author_email, author_raw_email, author_id, author_login, committed_at)"
    " VALUES (1, 'a1', 'lin.resolved@example.com', 'lin@home.example', '101', 'lin', '2026-03-01T10:00Z'),"
    "        (1, 'a2', 'lin.resolved@example.com', 'lin@home.example', '101', 'lin', '2026-03-02T10:00Z'),"
    # author 102: mapped
    "        (1, 'b1', 'max@example.com', 'max@users.noreply.github.com', '102', 'max', '2026-03-01T11:00Z'),"
    # no GitHub id: can never be mapped, never listed
    "        (1, 'c1', 'ghost@example.com', 'ghost@example.com', NULL, NULL, '2026-03-01T12:00Z')",
    "INSERT INTO identity_mappings (source, external_id, email) VALUES ('github', '102', 'max@example.com')",
    "INSERT INTO usage_user_daily (date, email, tool, total_tokens, cost, record_count) VALUES"
    " ('2026-03-01', 'unmapped:claude_code:ci-key', 'claude_code', 1000, 1.5, 3),"
    " ('2026-03-02', 'unmapped:claude_code:ci-key', 'claude_code', 500, 0.5, 2),"
    " ('2026-03-01', 'unmapped:cursor:team-x', 'cursor', 9000, 4, 1),"
    " ('2026-03-01', 'ada@example.com', 'cursor', 7, 1, 1)",
    # the same rows' lifetime (email, tool) level, as refresh_rollup keeps it
    "INSERT INTO usage_user_tools (email, tool, first_date, last_date, total_tokens, cost, record_count) VALUES"
    " ('unmapped:claude_code:ci-key', 'claude_code', '2026-03-01', '2026-03-02', 1500, 2, 5),"
    " ('unmapped:cursor:team-x', 'cursor', '2026-03-01', '2026-03-01', 9000, 4, 1),"
    " ('ada@example.com', 'cursor', '2026-03-01', '2026-03-01', 7, 1, 1)",
]


def run(database_url: str, query: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        engine = create_async_engine(database_url)
        try:
            async with AsyncSession(engine) as db:
                return await query(db)
        finally:
            await engine.dispose()

    return asyncio.run(main())


@pytest.fixture()
def identities(clean_db: None, database_url: str) -> str:
    async def write(db: AsyncSession) -> None:
        for statement in ROWS:
            await db.execute(text(statement))
        await rebuild_commit_rollup(db)
        await db.commit()

    run(database_url, write)
    return database_url


def test_github_authors_show_the_raw_commit_email(identities):
    unmapped = run(identities, github_authors)
    assert [(a.author_id, a.login, a.sample_email, a.commits, a.mapped_email) for a in unmapped] == [
        ("101", "lin", "lin@home.example", 2, None)
    ]
    everyone = run(identities, lambda db: github_authors(db, unmapped_only=False))
    assert [(a.author_id, a.sample_email, a.commits, a.mapped_email) for a in everyone] == [
        ("101", "lin@home.example", 2, None),
        ("102", "max@users.noreply.github.com", 1, "max@example.com"),
    ]


def test_status_and_mapping_assistant_agree(identities):
    github = run(identities, unmapped_github)
    assert (github.users, github.commits, github.rows) == (1, 2, [("101", "lin", "lin@home.example", 2)])
    view = run(
        identities,
        lambda db: mappings_view(
            db, source="github", status="unmapped", search=None, page=1, allowed_domains=("example.com",)
        ),
    )
    assert [(u.external_id, u.label, u.sample_email, u.usage) for u in view.unmapped] == [
        ("101", "101 (@lin)", "lin@home.example", 2)
    ]


def test_unmapped_usage_is_listed_once_for_everyone(identities):
    rows = run(identities, unmapped_usage)
    assert [(r.identity, r.source, r.external_id, r.records, r.tokens, r.cost) for r in rows] == [
        ("claude_code:ci-key", "claude_code", "ci-key", 5, 1500, Decimal("2.000000")),
        ("cursor:team-x", "cursor", "team-x", 1, 9000, Decimal("4.000000")),
    ]
    summary = run(identities, unattributed)
    assert (summary.tokens, summary.cost, summary.api_keys) == (10500, Decimal("6.000000"), 1)
    assert summary.identities == [("claude_code:ci-key", 5, 1500), ("cursor:team-x", 1, 9000)]
    view = run(
        identities,
        lambda db: mappings_view(db, source=None, status="unmapped", search=None, page=1, allowed_domains=()),
    )
    # the assistant orders by unmapped dollars (issue 11), then GitHub authors (no cost) by commits
    assert [(u.source, u.external_id, u.usage, u.usage_kind, u.cost) for u in view.unmapped] == [
        ("cursor", "team-x", 1, "records", Decimal("4.000000")),
        ("claude_code", "ci-key", 5, "records", Decimal("2.000000")),
        ("github", "101", 2, "commits", None),
    ]
