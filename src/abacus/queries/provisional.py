"""The provisional marks of a range (M-PROVISIONAL, docs/metrics.md): the (day, person, model) keys of the
provisional OTel rows it holds, for everyone, one team's members or one person. Read through the partial indexes of
migration 0020 (only provisional rows are in them: today's and the subscription people's), so it costs a few index
probes whatever the range."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.provisional import Mark, ProvisionalMarks
from abacus.domain.tools import CLAUDE_CODE
from abacus.queries.cache import cached
from abacus.queries.usage import TEAM_EMAILS

MARKS_SQL = (
    "SELECT DISTINCT date, email, model FROM usage_records WHERE tool_record_id = 'otel' AND tool = :tool "
    "AND date BETWEEN :start AND :end {people} "
    "UNION SELECT DISTINCT date, email, NULL FROM activity_daily WHERE organization_id LIKE 'otel:%' AND tool = :tool "
    "AND date BETWEEN :start AND :end {people}"
)
EVERYONE = text(MARKS_SQL.format(people=""))
ONE_TEAM = text(MARKS_SQL.format(people=f"AND email IN {TEAM_EMAILS}"))
ONE_PERSON = text(MARKS_SQL.format(people="AND email = :email"))


@cached
async def provisional_marks(
    db: AsyncSession, start: date, end: date, *, team_slug: str | None = None, email: str | None = None
) -> ProvisionalMarks:
    """The marks of [start, end] (for `team_slug`'s members, or for `email`, when given)."""
    params: dict[str, object] = {"tool": CLAUDE_CODE, "start": start, "end": end}
    if email is not None:
        statement, params["email"] = ONE_PERSON, email
    elif team_slug is not None:
        statement, params["team_slug"] = ONE_TEAM, team_slug
    else:
        statement = EVERYONE
    rows = await db.execute(statement, params)
    return ProvisionalMarks(frozenset(Mark(r.date, r.email, r.model) for r in rows))
