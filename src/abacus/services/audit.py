"""The audit log: one `audit_events` row per admin change, written in the transaction of the change itself.

Every admin write (mapping edits, CSV imports, manual syncs and backfills, and any later admin form) calls
`record_audit` with the session whose transaction makes the change: the row commits with the change or not at all.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.logging_setup import current_request_id
from abacus.models import AuditEvent, SyncState

MAX_TARGET = 512


def cli_actor() -> str:
    """The actor of a change made from the command line: `cli:<operating-system user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with an arbitrary uid)
        user = "unknown"
    return f"cli:{user}"


def jsonable(value: Any) -> Any:
    """`value` as plain JSON (dates, decimals and other scalars become their text form)."""
    return json.loads(json.dumps(value, default=str)) if value is not None else None


async def record_audit(
    db: AsyncSession, *, actor: str, action: str, target: str, before: Any = None, after: Any = None
) -> None:
    """Add one audit event to `db`'s current transaction (the caller commits it with the change it describes).

    `action` is a dotted name (`mapping.set`, `import.cursor_csv`, `sync.enqueue`…); `before`/`after` are the
    state the change replaced and produced, as JSON; the request (or job) id is taken from the logging context.
    """
    await db.execute(
        insert(AuditEvent).values(
            actor=actor[:320],
            action=action,
            target=target[:MAX_TARGET],
            before=jsonable(before),
            after=jsonable(after),
            request_id=current_request_id(),
        )
    )


async def sync_state_snapshot(db: AsyncSession, provider: str) -> dict[str, Any]:
    """The provider's sync progress per state row (forward and backfill position), the before/after of a manual
    sync, backfill or state change."""
    rows = (
        await db.execute(
            select(SyncState)
            .where(or_(SyncState.id == provider, SyncState.id.like(f"{provider}:%")))
            .order_by(SyncState.id)
        )
    ).scalars()
    return {
        row.id: {
            "last_synced_hour_end": row.last_synced_hour_end,
            "backfill_oldest_date": row.backfill_oldest_date,
            "backfill_complete": row.backfill_complete,
            "last_success_at": row.last_success_at,
        }
        for row in rows
    }
