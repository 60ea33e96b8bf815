"""The bench data set, generated inside PostgreSQL (generate_series, `random()` after `setseed`): usage rows in
Cursor's shape (many events per person-day, a long tail of ~40 models) plus Claude Code daily rows, commits across
~40 repositories attributed to every AI tool, identity mappings for some identities and a few unmapped ones.

The secondary indexes and unique constraints of the two big tables are dropped while rows are inserted and built
again afterwards (from their own definitions in the catalog, so a migration's new index is kept); every rollup
level is then built by `abacus.rollups.refresh_rollup`, the same function every writer of usage rows calls, and the
commit levels by `abacus.rollups.rebuild_commit_rollup`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from abacus.bench_ingest import MODELS as CURSOR_MODELS
from abacus.domain.modelnames import normalize_model_name
from abacus.domain.tools import CLAUDE_CODE, CODEX, CURSOR, GITHUB_COPILOT, WINDSURF
from abacus.rollups import rebuild_commit_rollup, refresh_rollup

DOMAIN = "bench.example"
REPOSITORIES = 40
COMMITS_PER_PERSON = 250
"""~500,000 commits for 2,000 people."""
CLAUDE_MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001")
AI_TOOLS = (CLAUDE_CODE, CURSOR, GITHUB_COPILOT, CODEX, WINDSURF)
AI_MODELS = ("sonnet-4.5", "gpt-5", None, "gpt-5-codex", "swe-1")
BIG_TABLES = ("usage_records", "commits")


@dataclass(frozen=True)
class Dataset:
    usage_rows: int
    claude_rows: int
    cursor_rows: int
    commits: int
    repositories: int
    mappings: int
    top_user: str
    top_repo: str


Step = Callable[[str], None]


def email(person: str) -> str:
    """SQL for person number `person`'s work email."""
    return f"'user' || {person} || '@{DOMAIN}'"


ACTIVE_CURSOR_DAYS = text("""
CREATE TEMP TABLE bench_person_days AS
SELECT row_number() OVER (ORDER BY u, d)::int AS id, u, d::date AS day
FROM generate_series(1, :people) u, generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d
WHERE u % 5 <> 4  -- four in five people use Cursor
  AND random() < CASE WHEN extract(isodow FROM d) < 6 THEN 0.8 ELSE 0.1 END
""")

CLAUDE_ROWS = text(f"""
INSERT INTO usage_records (date, identity, email, tool, model, raw_model, input_tokens, cache_write_tokens,
                           cache_read_tokens, output_tokens, cost, organization_id)
SELECT day, identity, CASE WHEN identity LIKE 'claude_code:api-key-%' THEN 'unmapped:' || identity
                           ELSE {email("u")} END,
       'claude_code', models[m], raws[m], (random() * 400000)::bigint, (random() * 200000)::bigint,
       (random() * 4000000)::bigint, (random() * 60000)::bigint, (random() * 40)::numeric(14, 6), 'bench-org'
FROM (
  SELECT u, d::date AS day, m,
         CASE WHEN u % 101 = 7 THEN 'claude_code:api-key-ci-' || u ELSE 'claude_code:' || {email("u")} END AS identity
  FROM generate_series(1, :people) u,
       generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') d,
       generate_series(1, 3) m
  WHERE u % 3 <> 0 AND extract(isodow FROM d) < 6 AND random() < CASE m WHEN 1 THEN 0.85 WHEN 2 THEN 0.35 ELSE 0.15 END
  LIMIT :cap
) s, (SELECT CAST(:models AS text[]) AS models, CAST(:raws AS text[]) AS raws) names
""")

CURSOR_ROWS = text(f"""
INSERT INTO usage_records (date, identity, email, tool, model, raw_model, input_tokens, cache_write_tokens,
                           cache_read_tokens, output_tokens, cost, timestamp_ms, organization_id)
SELECT p.day,
       CASE WHEN p.u % 97 = 5 THEN 'cursor:bot-' || p.u
            WHEN p.u % 10 = 3 THEN 'cursor:alias' || p.u || '@old.{DOMAIN}'
            ELSE 'cursor:' || {email("p.u")} END,
       CASE WHEN p.u % 97 = 5 THEN 'unmapped:cursor:bot-' || p.u ELSE {email("p.u")} END,
       'cursor', names.models[e.m], names.raws[e.m],
       (random() * 60000)::bigint, (random() * 20000)::bigint, (random() * 400000)::bigint, (random() * 8000)::bigint,
       (random() * 0.9)::numeric(14, 6),
       (extract(epoch FROM p.day) * 1000)::bigint + (e.n::bigint * 7919) % 86400000,  -- unique per event
       'cursor:bench'
FROM (SELECT n, 1 + floor(power(random(), 1.4) * :person_days)::int AS pd,
             1 + floor(power(random(), 3) * :model_count)::int AS m
      FROM generate_series(1, :events) n) e
JOIN bench_person_days p ON p.id = e.pd,
     (SELECT CAST(:models AS text[]) AS models, CAST(:raws AS text[]) AS raws) names
""")

MAPPINGS = text(f"""
INSERT INTO identity_mappings (source, external_id, email, updated_by)
SELECT 'cursor', 'alias' || u || '@old.{DOMAIN}', {email("u")}, 'bench' FROM generate_series(1, :people) u
WHERE u % 10 = 3
UNION ALL
SELECT 'github', (100000 + u)::text, {email("u")}, 'bench' FROM generate_series(1, :people) u WHERE u % 13 <> 0
""")

REPOS = text("""
INSERT INTO repositories (source, full_name)
SELECT 'github', 'bench/' || (ARRAY['web', 'api', 'infra', 'mobile', 'data', 'tools', 'docs', 'sdk'])[1 + r % 8]
       || '-' || r FROM generate_series(1, :repos) r
""")

COMMITS = text(f"""
INSERT INTO commits (repo_id, commit_id, author_email, author_id, author_login, author_raw_email, committed_at,
                     message, is_bot, ai_tool, ai_model, additions, deletions)
SELECT r.id, md5(c.n::text || ':' || :seed), CASE WHEN c.bot THEN NULL ELSE {email("c.u")} END,
       CASE WHEN c.bot THEN '49699333' ELSE (100000 + c.u)::text END,
       CASE WHEN c.bot THEN 'dependabot[bot]' ELSE 'user' || c.u END,
       CASE WHEN c.bot THEN NULL WHEN c.u % 4 = 0 THEN c.u || '+user' || c.u || '@users.noreply.github.com'
            ELSE {email("c.u")} END,
       c.at, 'Change ' || c.n || CASE WHEN c.t IS NULL THEN '' ELSE E'\\n\\nCo-authored-by: ' || names.tools[c.t] END,
       c.bot, names.tools[c.t], names.models[c.t],
       CASE WHEN c.n % 23 = 0 THEN NULL ELSE (random() * 400)::int END,
       CASE WHEN c.n % 23 = 0 THEN NULL ELSE (random() * 150)::int END
FROM (SELECT n, 1 + floor(power(random(), 1.5) * :people)::int AS u,
             1 + floor(power(random(), 1.8) * :repos)::int AS repo,
             now() - random() * (:days * interval '1 day') AS at,
             random() < 0.02 AS bot,
             CASE WHEN random() < 0.45 THEN 1 + floor(power(random(), 1.6) * 5)::int END AS t
      FROM generate_series(1, :commits) n) c
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM repositories) r ON r.k = c.repo,
     (SELECT CAST(:tools AS text[]) AS tools, CAST(:models AS text[]) AS models) names
""")

ATTRIBUTIONS = text("""
INSERT INTO commit_attributions (commit_id, ai_tool, ai_model, source)
SELECT id, ai_tool, ai_model, 'co_author' FROM commits WHERE ai_tool IS NOT NULL
UNION ALL
SELECT id, CASE ai_tool WHEN 'cursor' THEN 'claude_code' ELSE 'cursor' END, NULL, 'co_author'
FROM commits WHERE ai_tool IS NOT NULL AND id % 10 = 0
""")

SECONDARY = text("""
SELECT 'constraint' AS kind, c.conname AS name, t.relname AS tbl, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
WHERE t.relname = ANY(CAST(:tables AS text[])) AND c.contype = 'u'
UNION ALL
SELECT 'index', i.indexname, i.tablename, i.indexdef FROM pg_indexes i
WHERE i.tablename = ANY(CAST(:tables AS text[])) AND i.schemaname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
""")


async def _drop_secondary(conn: AsyncConnection) -> list[str]:
    """Drop the unique constraints and indexes (not primary keys) of the big tables; returns the DDL that builds
    them again."""
    rebuild = []
    for row in await conn.execute(SECONDARY, {"tables": list(BIG_TABLES)}):
        if row.kind == "constraint":
            await conn.execute(text(f'ALTER TABLE {row.tbl} DROP CONSTRAINT "{row.name}"'))
            rebuild.append(f'ALTER TABLE {row.tbl} ADD CONSTRAINT "{row.name}" {row.definition}')
        else:
            await conn.execute(text(f'DROP INDEX "{row.name}"'))
            rebuild.append(row.definition)
    return rebuild


async def _scalar(conn: AsyncConnection, sql: str) -> int:
    return int((await conn.execute(text(sql))).scalar_one() or 0)


TOP_USER = text(
    "SELECT email FROM usage_user_daily WHERE email NOT LIKE 'unmapped:%' GROUP BY email "
    "ORDER BY SUM(total_tokens) DESC, email LIMIT 1"
)
TOP_REPO = text(
    "SELECT r.full_name FROM repositories r JOIN commits c ON c.repo_id = r.id "
    "GROUP BY r.full_name ORDER BY COUNT(*) DESC, r.full_name LIMIT 1"
)


async def top_user_and_repo(conn: AsyncConnection) -> tuple[str | None, str | None]:
    """The person with the most tokens and the repository with the most commits (None when there is none): the
    person and repository pages are timed on them."""
    top_user = (await conn.execute(TOP_USER)).scalar_one_or_none()
    top_repo = (await conn.execute(TOP_REPO)).scalar_one_or_none()
    return top_user, top_repo


async def build(engine: AsyncEngine, *, events: int, people: int, days: int, seed: int, step: Step) -> Dataset:
    """Fill an empty, migrated database: `events` usage rows in total for `people` people over the last `days` days
    (today included), ~250 commits per person, mappings; then indexes, every rollup level and statistics."""
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    cursor_raws = list(CURSOR_MODELS)
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL synchronous_commit = off"))
        await conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        await conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 2000) / 1000 - 1})
        rebuild = await _drop_secondary(conn)
        step("usage rows: Claude Code daily rows")
        window = {"people": people, "first": first, "last": last}
        claude = await conn.execute(
            CLAUDE_ROWS,
            {
                **window,
                "cap": events // 4,
                "models": [normalize_model_name(r) for r in CLAUDE_MODELS],
                "raws": list(CLAUDE_MODELS),
            },
        )
        claude_rows = int(claude.rowcount or 0)
        step(f"usage rows: {events - claude_rows:,} Cursor events")
        await conn.execute(ACTIVE_CURSOR_DAYS, window)
        person_days = await _scalar(conn, "SELECT COUNT(*) FROM bench_person_days")
        if person_days == 0:  # a tiny run on a weekend: someone works anyway
            await conn.execute(text("INSERT INTO bench_person_days VALUES (1, 1, CAST(:last AS date))"), window)
            person_days = 1
        cursor = await conn.execute(
            CURSOR_ROWS,
            {
                "events": max(0, events - claude_rows),
                "person_days": person_days,
                "model_count": len(cursor_raws),
                "models": [normalize_model_name(r) for r in cursor_raws],
                "raws": cursor_raws,
            },
        )
        cursor_rows = int(cursor.rowcount or 0)
        step("identity mappings, repositories, commits")
        mappings = (await conn.execute(MAPPINGS, {"people": people})).rowcount or 0
        repos = min(REPOSITORIES, max(1, people * 2))
        await conn.execute(REPOS, {"repos": repos})
        commits = COMMITS_PER_PERSON * people
        await conn.execute(
            COMMITS,
            {
                "seed": str(seed),
                "people": people,
                "repos": repos,
                "days": days,
                "commits": commits,
                "tools": list(AI_TOOLS),
                "models": list(AI_MODELS),
            },
        )
        await conn.execute(ATTRIBUTIONS)
        step("indexes and constraints")
        for ddl in rebuild:
            await conn.execute(text(ddl))
    step("rollups (abacus.rollups.refresh_rollup, every level)")
    async with AsyncSession(engine) as db, db.begin():
        await db.execute(text("SET LOCAL synchronous_commit = off"))
        await db.execute(text("SET LOCAL work_mem = '256MB'"))
        slices = [(r.date, r.tool) for r in await db.execute(text("SELECT DISTINCT date, tool FROM usage_records"))]
        await refresh_rollup(db, slices)
        await rebuild_commit_rollup(db)  # the commits were written with plain SQL
    step("VACUUM ANALYZE")
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
    async with engine.connect() as conn:
        top_user, top_repo = await top_user_and_repo(conn)
    assert top_user is not None and top_repo is not None
    return Dataset(
        usage_rows=claude_rows + cursor_rows,
        claude_rows=claude_rows,
        cursor_rows=cursor_rows,
        commits=commits,
        repositories=repos,
        mappings=int(mappings),
        top_user=top_user,
        top_repo=top_repo,
    )
