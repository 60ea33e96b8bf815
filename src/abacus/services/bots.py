""" "Ignore as bot" and "not a bot": an admin's word on an identity, applied to the rows it owns in one transaction.

A GitHub author marked as a bot has `commits.is_bot` set on its commits, so its commits leave the commit rollups
(unless a rule attributes them to an AI tool) and it leaves contributor lists and AI-share denominators. A usage
identity (Claude Code key or actor, Cursor account) marked as a bot has its usage re-pointed to
`unmapped:<identity>`, so it is nobody's usage: it leaves the Team page and people counts. "Not a bot" undoes both
and also overrides the default rule (GitHub `[bot]` logins and noreply bot addresses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import own_email, unmapped_email
from abacus.models import BotIdentity, Commit, IdentityMapping
from abacus.rollups import refresh_commit_rollup
from abacus.services.mappings import (
    MappingError,
    lock_for_claude_code_days,
    normalise_external_id,
    repoint_identity,
)


@dataclass(frozen=True)
class BotChange:
    source: str
    external_id: str
    is_bot: bool
    before: bool | None
    """The admin's earlier word (None: none; the default rule applied)."""
    usage_rows: int
    commits: int


async def bot_flags(db: AsyncSession) -> dict[tuple[str, str], bool]:
    """Every (source, external id) an admin marked: True a bot, False not a bot."""
    rows = await db.execute(select(BotIdentity.source, BotIdentity.external_id, BotIdentity.is_bot))
    return {(r.source, r.external_id): r.is_bot for r in rows}


async def set_bot(db: AsyncSession, source: str, external_id: str, is_bot: bool, *, updated_by: str) -> BotChange:
    """Record that an identity is (or is not) a bot and re-point its rows (caller commits).

    A usage identity that is mapped to a person is refused: remove the mapping first.
    """
    external_id = normalise_external_id(source, external_id)
    await lock_for_claude_code_days(db, source)  # before the first write (the flag's row)
    mapping = (
        await db.execute(
            select(IdentityMapping.email).where(
                IdentityMapping.source == source, IdentityMapping.external_id == external_id
            )
        )
    ).scalar_one_or_none()
    if is_bot and mapping is not None:
        raise MappingError(f"{source} {external_id} is mapped to {mapping}: remove that mapping before ignoring it")
    before = (
        await db.execute(
            select(BotIdentity.is_bot).where(BotIdentity.source == source, BotIdentity.external_id == external_id)
        )
    ).scalar_one_or_none()
    stmt = insert(BotIdentity).values(source=source, external_id=external_id, is_bot=is_bot, updated_by=updated_by)
    await db.execute(
        stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={"is_bot": is_bot, "updated_by": updated_by, "updated_at": func.now()},
        )
    )
    usage_rows = commits = 0
    if source == "github":
        changed = (
            await db.execute(
                update(Commit)
                .where(Commit.author_id == external_id, Commit.is_bot.is_not(is_bot))
                .values(is_bot=is_bot)
                .returning(Commit.committed_at, Commit.repo_id)
            )
        ).all()
        commits = len(changed)
        slices = {(r.committed_at.astimezone(UTC).date(), r.repo_id) for r in changed}
        await refresh_commit_rollup(db, slices, [external_id])
    else:
        identity = f"{source}:{external_id}"
        email = mapping or (unmapped_email(identity) if is_bot else own_email(identity) or unmapped_email(identity))
        usage_rows = await repoint_identity(db, identity, email)
    return BotChange(source, external_id, is_bot, before, usage_rows, commits)
