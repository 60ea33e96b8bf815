"""sync_state rows: read with a row lock, advance only inside the data's own transaction, record errors apart."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.models import SyncState


async def lock_state(db: AsyncSession, state_id: str) -> SyncState:
    """The state row (created when missing), locked FOR UPDATE until the caller's transaction ends."""
    await db.execute(insert(SyncState).values(id=state_id).on_conflict_do_nothing(index_elements=["id"]))
    return (await db.execute(select(SyncState).where(SyncState.id == state_id).with_for_update())).scalar_one()


async def read_state(db: AsyncSession, state_id: str) -> SyncState | None:
    return (await db.execute(select(SyncState).where(SyncState.id == state_id))).scalar_one_or_none()


async def record_success(db: AsyncSession, state_id: str, records: int) -> None:
    """Mark a run successful (same transaction as its last data write)."""
    state = await lock_state(db, state_id)
    now = datetime.now(UTC)
    state.last_success_at = now
    state.last_sync_at = now
    state.records_last_run = records


async def record_error(sessionmaker: async_sessionmaker[AsyncSession], state_id: str, message: str) -> None:
    """Record a failed run in its own transaction (the failed window's data was rolled back)."""
    async with sessionmaker() as db, db.begin():
        state = await lock_state(db, state_id)
        state.last_error = message[:2000]
        state.last_error_at = datetime.now(UTC)
        state.last_sync_at = state.last_error_at
