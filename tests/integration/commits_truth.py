"""Independent truth for the commit pages, API and CSV: plain SQL over `commits` / `commit_attributions` written
here (day of a commit = its UTC calendar day), never the app's query functions; plus the names of the edge rows the
commit tests add on top of tests/seed.py (the `edge_rows` fixture in tests/integration/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tests import dom
from tests.integration.pages_support import sql_rows

IN_RANGE = "(c.committed_at AT TIME ZONE 'UTC')::date BETWEEN :s AND :e"
EDGE_REPO = "acme/edge"
WEIRD_REPO = '=acme/we"ird,name'
EDGE_DAY = date(2026, 3, 4)
"""acme/edge has one commit at EDGE_DAY 23:59:59Z and one at (EDGE_DAY + 1) 00:00:00Z."""
MAPPED_AUTHOR_ID = "1000"
MAPPED_EMAIL = "ada@example.com"


def rate(part: int, whole: int) -> int:
    """round(part / whole × 100) half-up with integers only; 0 when whole is 0."""
    return (200 * part + whole) // (2 * whole) if whole else 0


def previous(s: date, e: date) -> tuple[date, date]:
    n = (e - s).days + 1
    return s - timedelta(days=n), s - timedelta(days=1)


@dataclass
class Figures:
    commits: int = 0
    ai: int = 0
    additions: int = 0
    deletions: int = 0
    ai_additions: int = 0
    ai_deletions: int = 0
    authors: int = 0
    repos: int = 0
    no_stats: int = 0
    first: datetime | None = None
    last: datetime | None = None
    tools: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> int:
        return rate(self.ai, self.commits)


def figures(db: str, s: date, e: date, repo: str | None = None) -> Figures:
    """Totals of commits whose UTC day is in [s, e] (optionally of one repository), computed row by row in Python."""
    rows = sql_rows(
        db,
        f"""
        SELECT c.repo_id, c.ai_tool, c.additions, c.deletions, c.author_email, c.author_id, c.committed_at
        FROM commits c JOIN repositories r ON r.id = c.repo_id
        WHERE {IN_RANGE} AND (CAST(:repo AS text) IS NULL OR r.full_name = :repo)""",
        s=s,
        e=e,
        repo=repo,
    )
    out = Figures()
    authors, repos = set(), set()
    for repo_id, tool, adds, dels, email, author_id, at in rows:
        out.commits += 1
        out.additions += adds or 0
        out.deletions += dels or 0
        out.no_stats += adds is None or dels is None
        if tool is not None:
            out.ai += 1
            out.ai_additions += adds or 0
            out.ai_deletions += dels or 0
            out.tools[tool] = out.tools.get(tool, 0) + 1
        key = email if email is not None else (f"github:{author_id}" if author_id is not None else None)
        if key is not None:
            authors.add(key)
        repos.add(repo_id)
        out.first = at if out.first is None else min(out.first, at)
        out.last = at if out.last is None else max(out.last, at)
    out.authors, out.repos = len(authors), len(repos)
    return out


def per_repo(db: str, s: date, e: date) -> dict[str, Figures]:
    names = [
        r[0]
        for r in sql_rows(
            db,
            f"""SELECT DISTINCT r.full_name FROM commits c
        JOIN repositories r ON r.id = c.repo_id WHERE {IN_RANGE}""",
            s=s,
            e=e,
        )
    ]
    return {name: figures(db, s, e, name) for name in names}


def name_ranks(db: str) -> dict[str, int]:
    """Each repository's position when sorted by full name in the database's collation (the tie-breaker)."""
    rows = sql_rows(db, "SELECT full_name, rank() OVER (ORDER BY full_name) FROM repositories")
    return {name: int(rank) for name, rank in rows}


def repo_commits(db: str, repo: str, s: date, e: date, ai: bool | None = None) -> list[tuple]:
    """(id, sha, committed_at, message, ai_tool, additions, deletions, author_email, author_id) newest first, ties by
    sha; `ai` True/False keeps AI-attributed / human commits only."""
    rows = sql_rows(
        db,
        f"""
        SELECT c.id, c.commit_id, c.committed_at, c.message, c.ai_tool, c.additions, c.deletions, c.author_email,
               c.author_id
        FROM commits c JOIN repositories r ON r.id = c.repo_id WHERE r.full_name = :repo AND {IN_RANGE}""",
        repo=repo,
        s=s,
        e=e,
    )
    if ai is not None:
        rows = [r for r in rows if (r[4] is not None) == ai]
    rows.sort(key=lambda r: r[1])
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows


def attributions(db: str, commit_ids: list[int]) -> dict[int, set[tuple[str, str | None]]]:
    out: dict[int, set[tuple[str, str | None]]] = {i: set() for i in commit_ids}
    for commit_id, tool, model in sql_rows(db, "SELECT commit_id, ai_tool, ai_model FROM commit_attributions"):
        if commit_id in out:
            out[commit_id].add((tool, model))
    return out


def table_rows(page: str) -> list[str]:
    """Full names of the Commits table rows, in order."""
    return dom.texts(dom.one(page, "table.repo-pivot"), "tbody td.repo-name > a:not(.ext-link)")


def _one_decimal(value) -> str:
    from fractions import Fraction
    from math import floor

    tenths = floor(abs(Fraction(value)) * 10 + Fraction(1, 2))
    whole, frac = divmod(tenths, 10)
    return f"{whole}" if frac == 0 else f"{whole}.{frac}"


def expected_delta(cur: int, prev: int) -> str | None:
    """M-DELTA written out: hidden when prev is 0 or the change is under 3 %."""
    from fractions import Fraction

    if prev == 0:
        return None
    d = Fraction(cur - prev, prev) * 100
    if abs(d) < 3:
        return None
    return f"{'↑' if d >= 0 else '↓'} {_one_decimal(d)}%"


def expected_rate_delta(ai: int, total: int, prev_ai: int, prev_total: int) -> str | None:
    """AI-rate change in percentage points of the unrounded rates; hidden under 1 pp or without previous commits."""
    from fractions import Fraction

    if prev_total == 0:
        return None
    cur = Fraction(ai * 100, total) if total else Fraction(0)
    d = cur - Fraction(prev_ai * 100, prev_total)
    if abs(d) < 1:
        return None
    return f"{'↑' if d >= 0 else '↓'} {_one_decimal(d)} pp"
