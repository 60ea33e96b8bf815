"""The mapping assistant's read side: unmapped identities with usage and suggestions, existing mappings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.attribution import is_work_email
from abacus.domain.identities import is_default_bot
from abacus.queries.activity import unmapped_copilot_users
from abacus.queries.cache import cached
from abacus.queries.identities import github_authors, unmapped_usage

PAGE_SIZE = 50


@dataclass(frozen=True)
class UnmappedIdentity:
    source: str
    external_id: str
    label: str  # what people recognise: key name, GitHub login
    sample_email: str | None
    usage: int  # usage records or commits
    usage_kind: str
    suggestion: str | None
    cost: Decimal | None = None
    """Unmapped usage in dollars, all time (None for GitHub authors, who have commits instead)."""
    bot: str | None = None
    """Why this identity is a bot ("marked by an admin", "a [bot] login", …); None for a person."""
    suggestion_outside: bool = False
    """The suggested email is outside ABACUS_ALLOWED_DOMAINS."""

    @property
    def sort_key(self) -> tuple[Decimal, int, str, str]:
        """Most unmapped dollars first, then GitHub authors by commits."""
        return (-(self.cost if self.cost is not None else Decimal(-1)), -self.usage, self.source, self.external_id)


@dataclass(frozen=True)
class MappingRow:
    source: str
    external_id: str
    email: str
    display_name: str | None
    updated_by: str | None
    updated_at: datetime
    outside: bool = False
    """The email is outside ABACUS_ALLOWED_DOMAINS."""


@dataclass(frozen=True)
class MappingsView:
    unmapped: list[UnmappedIdentity]
    mappings: list[MappingRow]
    known_emails: list[str]
    total: int
    page: int
    pages: int
    bots: list[UnmappedIdentity] = field(default_factory=list)
    """Identities ignored as bots (by an admin or by default), matching the filters; not paged."""
    suggested_all: list[UnmappedIdentity] = field(default_factory=list)
    """Every suggestion over all pages inside the allowed domains (what "Accept all" offers)."""
    unmapped_cost: Decimal = Decimal(0)
    """Dollars of usage not linked to a person, over every listed identity (bots excluded)."""

    @property
    def suggested(self) -> list[UnmappedIdentity]:
        return self.suggested_all


# usage emails from the (email, tool) spans (a few rows per person); commit authors by a skip scan (one index probe
# per distinct value) over ix_commits_author_email instead of reading every row
KNOWN_EMAILS = text("""
WITH RECURSIVE usage_emails AS (
  SELECT email FROM usage_user_tools
),
author_emails AS (
  (SELECT author_email AS email FROM commits WHERE author_email IS NOT NULL ORDER BY author_email LIMIT 1)
  UNION ALL
  SELECT (SELECT c.author_email FROM commits c WHERE c.author_email > a.email ORDER BY c.author_email LIMIT 1)
  FROM author_emails a WHERE a.email IS NOT NULL
)
SELECT email FROM (
  SELECT email FROM usage_emails WHERE email NOT LIKE 'unmapped:%'
  UNION SELECT email FROM identity_mappings
  UNION SELECT email FROM author_emails WHERE email LIKE '%@%.%' AND email NOT LIKE '%noreply%'
) e ORDER BY email
""")


BOT_FLAGS = text("SELECT source, external_id, is_bot FROM bot_identities")
# OTel people known by an email of their own (a Pro/Max subscription is often on a personal address): their
# provisional rows, per identity, through the partial index of migration 0020
OTEL_OWN_EMAILS = text("""
SELECT substr(identity, 6) AS external_id, email, COUNT(*) AS records, SUM(cost) AS cost
FROM usage_records WHERE tool_record_id = 'otel' AND tool = 'claude_code' AND email NOT LIKE 'unmapped:%'
AND identity = 'otel:' || email
GROUP BY identity, email
""")

# OTel people who send only activity (sessions, lines, edit decisions: a metrics exporter filtered to those, or days
# without a model call): unmapped accounts and own emails, from the provisional activity rows (organisation `otel:`)
OTEL_ACTIVITY = text("""
SELECT substr(identity, 6) AS external_id, email, COUNT(*) AS days
FROM activity_daily WHERE tool = 'claude_code' AND organization_id LIKE 'otel:%'
AND (email LIKE 'unmapped:%' OR identity = 'otel:' || email)
GROUP BY identity, email
""")


def _squash(value: str) -> str:
    return re.sub(r"[^a-z0-9]", "", value.lower())


def suggest_for_key_name(name: str, known: list[str]) -> str | None:
    """An API key named after a person (`ada-laptop`, `grace.hopper_ci`) suggests that person's email."""
    first = re.split(r"[-_.\s]", name.lower(), maxsplit=1)[0]
    if len(first) < 3:
        return None
    matches = [e for e in known if e.split("@")[0] == first or e.split("@")[0].split(".")[0] == first]
    return matches[0] if len(matches) == 1 else None


def people_index(known: list[str]) -> dict[str, set[str]]:
    """Known emails by their squashed local part (`katherine.johnson@…` → `katherinejohnson`), for suggestions."""
    index: dict[str, set[str]] = {}
    for address in known:
        local = _squash(address.split("@")[0])
        if len(local) >= 5:
            index.setdefault(local, set()).add(address)
    return index


def suggest_for_github(login: str | None, email: str | None, people: dict[str, set[str]]) -> str | None:
    """A GitHub author whose login or commit email names a known person (`katherinejohnson`, `lynn.conway.dev@…`):
    a local part equal to the candidate, or the candidate minus a short suffix (≤ 4 characters, e.g. `dev`)."""
    candidates = [_squash(login or "")]
    if email:
        candidates.append(_squash(email.split("@")[0].split("+", 1)[-1]))
    matches: set[str] = set()
    for candidate in filter(None, candidates):
        for cut in range(0, 5):
            matches |= people.get(candidate[: len(candidate) - cut], set())
    return matches.pop() if len(matches) == 1 else None


@cached
async def mappings_view(
    db: AsyncSession,
    *,
    source: str | None,
    status: str,
    search: str | None,
    page: int,
    allowed_domains: tuple[str, ...],
    page_size: int | None = PAGE_SIZE,
) -> MappingsView:
    """Unmapped identities (most unmapped dollars first, then GitHub authors by commits) and/or existing mappings,
    filtered, one page of `page_size` (None: all); bots are listed apart and never suggested."""
    known = [r.email for r in await db.execute(KNOWN_EMAILS)]
    people = people_index([k for k in known if is_work_email(k, allowed_domains)])
    flags = {(r.source, r.external_id): r.is_bot for r in await db.execute(BOT_FLAGS)}

    def outside(email: str | None) -> bool:
        return bool(email and allowed_domains and not is_work_email(email, allowed_domains))

    def bot_reason(
        source: str, external_id: str, login: str | None, email: str | None, flagged: bool = False
    ) -> str | None:
        flag = flags.get((source, external_id))
        if flag is not None:
            return "marked by an admin" if flag else None
        return "GitHub bot account (default)" if flagged or is_default_bot(source, login, email) else None

    def otel_identity(
        account: str, email: str | None, usage: int, kind: str, cost: Decimal | None = None
    ) -> UnmappedIdentity:
        """An OTel identity (account or email) that needs a mapping: listed by itself, never suggested."""
        return UnmappedIdentity(
            "otel", account, account, email, usage, kind, None, cost=cost, bot=bot_reason("otel", account, None, email)
        )

    candidates: list[UnmappedIdentity] = []
    if status in ("unmapped", "all"):
        for usage in await unmapped_usage(db):
            src, external = usage.source, usage.external_id
            suggestion = suggest_for_key_name(external, known) if src == "claude_code" else None
            candidates.append(
                UnmappedIdentity(
                    src,
                    external,
                    external,
                    None,
                    usage.records,
                    "records",
                    suggestion,
                    cost=usage.cost,
                    bot=bot_reason(src, external, None, None),
                    suggestion_outside=outside(suggestion),
                )
            )
        if allowed_domains:  # an OTel email outside the work domains is nobody's yet: it needs a mapping too
            for row in await db.execute(OTEL_OWN_EMAILS):
                if is_work_email(row.email, allowed_domains):
                    continue
                candidates.append(
                    otel_identity(row.external_id, row.email, int(row.records), "records", Decimal(row.cost or 0))
                )
        listed_otel = {u.external_id for u in candidates if u.source == "otel"}
        for row in await db.execute(OTEL_ACTIVITY):  # activity only: not listed above through usage
            unmapped_account = row.email.startswith("unmapped:")
            if row.external_id in listed_otel or not (unmapped_account or outside(row.email)):
                continue
            email = None if unmapped_account else row.email
            candidates.append(otel_identity(row.external_id, email, int(row.days), "active days"))
        for author in await github_authors(db):
            email = author.sample_email
            suggestion = (
                email.lower()
                if email and is_work_email(email, allowed_domains)
                else suggest_for_github(author.login, email, people)
            )
            label = f"{author.author_id} (@{author.login})" if author.login else author.author_id
            candidates.append(
                UnmappedIdentity(
                    "github",
                    author.author_id,
                    label,
                    email,
                    author.commits,
                    "commits",
                    suggestion,
                    bot=bot_reason("github", author.author_id, author.login, email, author.is_bot),
                    suggestion_outside=outside(suggestion),
                )
            )
        listed = {u.external_id for u in candidates if u.source == "github"}
        for user in await unmapped_copilot_users(db):  # Copilot rows map through the GitHub id (docs/providers.md §9)
            if user.user_id in listed:
                continue
            suggestion = suggest_for_github(user.login, None, people)
            candidates.append(
                UnmappedIdentity(
                    "github",
                    user.user_id,
                    f"{user.user_id} (@{user.login}) · Copilot",
                    None,
                    user.active_days,
                    "Copilot days",
                    suggestion,
                    bot=bot_reason("github", user.user_id, user.login, None),
                    suggestion_outside=outside(suggestion),
                )
            )
    unmapped = [u for u in candidates if not u.bot]
    bots = [replace(u, suggestion=None) for u in candidates if u.bot]
    needle = (search or "").lower()

    def wanted(u: UnmappedIdentity) -> bool:
        return (source is None or u.source == source) and (
            not needle
            or needle in u.external_id.lower()
            or needle in (u.sample_email or "").lower()
            or needle in u.label.lower()
        )

    unmapped = sorted(filter(wanted, unmapped), key=lambda u: u.sort_key)
    bots = sorted(filter(wanted, bots), key=lambda u: u.sort_key)
    mappings: list[MappingRow] = []
    if status in ("mapped", "all"):
        rows = await db.execute(
            text(
                "SELECT * FROM identity_mappings WHERE (CAST(:s AS text) IS NULL OR source = :s) AND "
                "(CAST(:q AS text) IS NULL OR external_id ILIKE :q OR email ILIKE :q) ORDER BY source, external_id"
            ),
            {"s": source, "q": f"%{needle}%" if needle else None},
        )
        mappings = [
            MappingRow(
                r.source, r.external_id, r.email, r.display_name, r.updated_by, r.updated_at, outside=outside(r.email)
            )
            for r in rows
        ]
    total = (
        len(unmapped)
        if status == "unmapped"
        else len(mappings)
        if status == "mapped"
        else max(len(unmapped), len(mappings))
    )
    size = page_size or max(1, total)
    pages = max(1, -(-total // size))
    start = (min(page, pages) - 1) * size
    return MappingsView(
        unmapped[start : start + size],
        mappings[start : start + size],
        known,
        total,
        min(page, pages),
        pages,
        bots=bots,
        suggested_all=[u for u in unmapped if u.suggestion and not u.suggestion_outside],
        unmapped_cost=sum((u.cost or Decimal(0) for u in unmapped), Decimal(0)),
    )
