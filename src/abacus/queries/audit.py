"""The audit log's read side: the latest admin changes, newest first (written by services/audit.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.audit import change_summary
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.models import AuditEvent


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: Any
    after: Any
    request_id: str | None

    @property
    def summary(self) -> str:
        """What changed, in one line (the full before → after is shown on demand)."""
        return change_summary(self.before, self.after)


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


async def latest_audit_events(
    db: AsyncSession, *, page: int = 1, per_page: int = 50, viewer: Viewer = EVERYONE
) -> AuditPage:
    """One page of audit events, newest first (index ix_audit_events_at), and how many there are in all; nothing
    for a viewer who does not see everybody (the events name people, docs/security.md §6)."""
    page = max(1, page)
    if not viewer.sees_everyone:
        return AuditPage(rows=[], total=0, page=1, per_page=per_page)
    rows = (
        await db.execute(
            select(AuditEvent)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ).scalars()
    total = (await db.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    return AuditPage(
        rows=[AuditRow(r.id, r.at, r.actor, r.action, r.target, r.before, r.after, r.request_id) for r in rows],
        total=total,
        page=page,
        per_page=per_page,
    )
