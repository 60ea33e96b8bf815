"""Unmapped identities, the one home of two questions: which usage is not linked to a person yet (M-UNATTR), and
which GitHub commit authors have no mapping (M-UNMAPPED-GH). The status page and its JSON, the mapping assistant
and the CLI (`abacus github users`, `abacus mappings fix`) all read them here.

A GitHub author is shown with the commit email as GitHub sent it (`author_raw_email`, docs/schema.md): that is the
address a person recognises and the one a suggestion can start from. `author_email` is what the sync resolved it
to; it only differs once a mapping re-points the author, so the two agree for unmapped authors except on rows a
removed mapping has not re-pointed yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.queries.cache import cached

SHOWN = 50
"""Rows the status page and the CLI list (the counts cover them all)."""


# --- usage not linked to a person ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmappedUsage:
    identity: str
    """`<source>:<external id>`, e.g. `claude_code:ci-deploy-key` (the row's email is `unmapped:<identity>`)."""
    records: int
    tokens: int
    cost: Decimal

    @property
    def source(self) -> str:
        return self.identity.partition(":")[0]

    @property
    def external_id(self) -> str:
        return self.identity.partition(":")[2]


# lifetime sums per (email, tool): a few rows per identity, whatever the history
UNMAPPED_USAGE = text("""
SELECT substr(email, 10) AS identity, SUM(record_count) AS records, SUM(total_tokens) AS tokens, SUM(cost) AS cost
FROM usage_user_tools WHERE email LIKE 'unmapped:%'
GROUP BY email ORDER BY records DESC, identity
""")


async def unmapped_usage(db: AsyncSession) -> list[UnmappedUsage]:
    """Every identity with usage and no mapping, all time, most usage records first (ties by identity)."""
    rows = await db.execute(UNMAPPED_USAGE)
    return [UnmappedUsage(r.identity, int(r.records), int(r.tokens), Decimal(r.cost)) for r in rows]


@dataclass(frozen=True)
class Unattributed:
    """M-UNATTR for the status page: totals over every unmapped identity, the first `SHOWN` of them listed."""

    tokens: int
    cost: Decimal
    api_keys: int
    identities: list[tuple[str, int, int]]  # identity, records, tokens


@cached
async def unattributed(db: AsyncSession) -> Unattributed:
    rows = await unmapped_usage(db)
    return Unattributed(
        tokens=sum(r.tokens for r in rows),
        cost=sum((r.cost for r in rows), Decimal(0)),
        api_keys=sum(1 for r in rows if r.source == "claude_code"),
        identities=[(r.identity, r.records, r.tokens) for r in rows[:SHOWN]],
    )


# --- GitHub commit authors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubAuthor:
    author_id: str
    login: str | None
    sample_email: str | None
    """MIN(author_raw_email): the commit email as GitHub sent it."""
    commits: int
    mapped_email: str | None
    """The identity mapping's email; None for an unmapped author."""
    is_bot: bool = False
    """Its commits are a bot's (docs/schema.md §3.1)."""


# one row per author id from the lifetime level `commit_authors` (commits of `github` repositories), never raw commits
GITHUB_AUTHORS = """
SELECT a.author_id, a.login, a.sample_email AS email, a.commits AS n, m.email AS mapped, a.is_bot
FROM commit_authors a
LEFT JOIN identity_mappings m ON m.source = 'github' AND m.external_id = a.author_id
WHERE TRUE {unmapped}
ORDER BY a.commits DESC, a.author_id
"""
ALL_GITHUB_AUTHORS = text(GITHUB_AUTHORS.format(unmapped=""))
UNMAPPED_GITHUB_AUTHORS = text(GITHUB_AUTHORS.format(unmapped="AND m.email IS NULL"))
# a bot (docs/schema.md §3.1): an admin's word, else a [bot] login or a noreply bot address
AUTHOR_IS_BOT = "a.is_bot"  # commits.is_bot is the effective flag (the sync's rule or an admin's word)
UNMAPPED_GITHUB_PEOPLE = text(GITHUB_AUTHORS.format(unmapped=f"AND m.email IS NULL AND NOT {AUTHOR_IS_BOT}"))


async def github_authors(
    db: AsyncSession, *, unmapped_only: bool = True, people_only: bool = False
) -> list[GitHubAuthor]:
    """Commit authors of GitHub repositories with a GitHub user id, most commits first (ties by id): only those
    without an identity mapping (with `people_only`, bots left out: M-UNMAPPED-GH), or all of them with their
    mapping."""
    statement = UNMAPPED_GITHUB_PEOPLE if people_only else UNMAPPED_GITHUB_AUTHORS
    rows = await db.execute(statement if unmapped_only else ALL_GITHUB_AUTHORS)
    return [GitHubAuthor(r.author_id, r.login, r.email, int(r.n), r.mapped, bool(r.is_bot)) for r in rows]


@dataclass(frozen=True)
class UnmappedGitHub:
    """M-UNMAPPED-GH for the status page: Users and Commits over every unmapped author who is not a bot, the first
    `SHOWN` listed."""

    users: int
    commits: int
    rows: list[tuple[str, str | None, str | None, int]]  # author id, login, sample email, commits


@cached
async def unmapped_github(db: AsyncSession) -> UnmappedGitHub:
    authors = await github_authors(db, people_only=True)
    return UnmappedGitHub(
        users=len(authors),
        commits=sum(a.commits for a in authors),
        rows=[(a.author_id, a.login, a.sample_email, a.commits) for a in authors[:SHOWN]],
    )
