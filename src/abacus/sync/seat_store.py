"""Writing seats (docs/schema.md §10): a vendor's current seat list replaces the open seats of its (tool, organization),
inside the caller's transaction, keeping history.

A listed identity with an open seat has that row updated (plan, last activity, price, email, details, `seen_at`) when
any of them changed; `seen_at` alone moves at most once an hour (`SEEN_REFRESH`), so a listing that changes nothing
writes no row and leaves the cached pages in place (migration 0024); a new one gets a new open row (`since` = the
vendor's start, else now); an open seat the list no longer has is ended (`ended_at` = now), never deleted, so the seat
cost of past ranges stays true.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.logging_setup import get_logger
from abacus.models import Seat
from abacus.records import ProviderError, SeatRow
from abacus.sync.activity_store import resolve_mapped_emails
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.state import lock_state, record_error, record_success

log = get_logger(__name__)

SEEN_REFRESH = timedelta(hours=1)
"""How old `seen_at` may grow before a listing that changed nothing else writes it again."""


@dataclass(frozen=True)
class SeatChange:
    added: int
    updated: int
    ended: int

    @property
    def total(self) -> int:
        return self.added + self.updated + self.ended


async def replace_seats(
    db: AsyncSession, tool: str, organization_id: str, rows: Sequence[SeatRow], now: datetime
) -> SeatChange:
    """Make the open seats of (tool, organization) exactly `rows` (one per identity; the last one wins)."""
    listed = {row.identity: row for row in rows}
    emails = await resolve_mapped_emails(db, {(row.identity, row.mapping) for row in listed.values()})
    open_seats = {
        seat.identity: seat
        for seat in (
            await db.execute(
                select(Seat)
                .where(Seat.tool == tool, Seat.organization_id == organization_id, Seat.ended_at.is_(None))
                .with_for_update()
            )
        ).scalars()
    }
    added = updated = ended = 0
    for identity, row in listed.items():
        email = emails[(identity, row.mapping)]
        seat = open_seats.get(identity)
        if seat is None:
            db.add(
                Seat(
                    tool=tool,
                    organization_id=organization_id,
                    identity=identity,
                    email=email,
                    plan=row.plan,
                    since=row.since or now,
                    last_activity_at=row.last_activity_at,
                    price_usd=row.price_usd,
                    seen_at=now,
                    details=row.details,
                )
            )
            added += 1
            continue
        listed_now: dict[str, Any] = {
            "email": email,
            "plan": row.plan,
            "last_activity_at": row.last_activity_at,
            "price_usd": row.price_usd,
            "details": row.details,
        }
        if row.since is not None:
            listed_now["since"] = row.since
        changed = any(getattr(seat, name) != value for name, value in listed_now.items())
        for name, value in listed_now.items():
            setattr(seat, name, value)
        if changed or now - seat.seen_at >= SEEN_REFRESH:  # a listing that changes nothing leaves the row alone
            seat.seen_at = now
        updated += 1
    for identity, seat in open_seats.items():
        if identity not in listed:
            seat.ended_at = now
            ended += 1
    await db.flush()
    return SeatChange(added, updated, ended)


async def sync_seat_list(
    ctx: SyncContext,
    sid: str,
    result: SyncResult,
    *,
    read: Callable[[], Awaitable[list[SeatRow]]],
    tool: str,
    organization_id: str,
    provider: str,
    label: str,
) -> None:
    """Read a vendor's whole seat list, then replace the stored one and mark the state `sid` successful in one
    transaction; a failed read (or a malformed seat) changes nothing and is recorded on `sid`."""
    try:
        rows = await read()
    except ProviderError as exc:
        message = f"seats: {exc}"
        result.errors.append(message)
        log.warning(f"{provider} seat list failed; seats unchanged", key=label, error=str(exc))
        await record_error(ctx.sessionmaker, sid, message)
        return
    async with ctx.sessionmaker() as db, db.begin():
        await lock_state(db, sid)
        change = await replace_seats(db, tool, organization_id, rows, ctx.now())
        await record_success(db, sid, len(rows))
    result.records += change.total
    result.add_detail(f"seats: {len(rows)} listed, {change.added} new, {change.ended} ended")
