"""Budgets: admin edits (audited), each budget's month figures, and the check that fires alerts exactly once.

The figures follow docs/metrics.md §12 (M-BUDGET-SPENT, M-BUDGET-FORECAST, M-BUDGET-STATUS, M-BUDGET-ALERTS): this
module reads the month's daily cost, seats and last data days in SQL and hands them to `domain/budgets.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.domain.budgets import (
    ALL_TOOLS,
    DEFAULT_THRESHOLDS,
    SCOPES,
    BudgetInputError,
    HeldSeat,
    budget_name,
    budget_status,
    cents,
    crossed_alerts,
    from_micro,
    month_days,
    month_end,
    month_end_projection,
    month_of,
    parse_amount,
    parse_channels,
    parse_thresholds,
    seat_projection,
    seat_spent,
    spent_through,
    to_micro,
    usage_spent,
)
from abacus.domain.periods import HISTORY_DAYS
from abacus.domain.seats import seat_cost
from abacus.domain.tools import KNOWN_TOOLS, TOOL_NAMES
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.logging_setup import get_logger
from abacus.models import Alert, AlertDelivery, Budget
from abacus.services.audit import record_audit

log = get_logger("abacus.budgets")

_SLUG = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_EMAIL = re.compile(r"[^@\s\x00-\x1f]{1,200}@[^@\s\x00-\x1f]{1,100}")
UNDELIVERED_AFTER = timedelta(minutes=2)
"""An alert with a channel never attempted this long after it fired lost its queued job: the next check requeues."""


class BudgetNotFound(LookupError):
    pass


# --- input --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetInput:
    scope: str
    scope_id: str
    tool: str
    amount_usd: Decimal
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    include_seats: bool = False
    channels: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "scope_id": self.scope_id,
            "tool": self.tool,
            "amount_usd": str(self.amount_usd),
            "thresholds": list(self.thresholds),
            "include_seats": self.include_seats,
            "channels": list(self.channels),
        }


def budget_input(
    *,
    scope: str,
    scope_id: str,
    tool: str,
    amount_usd: str,
    thresholds: str = "",
    include_seats: bool = False,
    channels: Sequence[str] = (),
) -> BudgetInput:
    """Validated budget fields from text (a form, the CLI); BudgetInputError names the first bad field."""
    for name, value in (("scope", scope), ("scope_id", scope_id), ("tool", tool), ("amount_usd", amount_usd)):
        if "\x00" in value:
            raise BudgetInputError(f"{name}: contains a NUL character")
    scope = scope.strip().lower()
    if scope not in SCOPES:
        raise BudgetInputError(f"scope: {scope[:20]!r} is not one of {', '.join(SCOPES)}")
    scope_id = scope_id.strip()
    if scope == "org":
        scope_id = ""
    elif scope == "team":
        scope_id = scope_id.lower()
        if not _SLUG.fullmatch(scope_id):
            raise BudgetInputError(f"scope_id: {scope_id[:40]!r} is not a team slug (letters, digits, . _ -)")
    else:
        scope_id = scope_id.lower()
        if len(scope_id) > 255 or not _EMAIL.fullmatch(scope_id):
            raise BudgetInputError(f"scope_id: {scope_id[:40]!r} is not an email address")
    tool = tool.strip().lower() or ALL_TOOLS
    if tool != ALL_TOOLS and tool not in KNOWN_TOOLS:
        raise BudgetInputError(f"tool: {tool[:30]!r} is not one of all, {', '.join(KNOWN_TOOLS)}")
    return BudgetInput(
        scope=scope,
        scope_id=scope_id,
        tool=tool,
        amount_usd=parse_amount(amount_usd),
        thresholds=parse_thresholds(thresholds) if thresholds.strip() else DEFAULT_THRESHOLDS,
        include_seats=include_seats,
        channels=parse_channels(channels),
    )


def budget_json(budget: Budget) -> dict[str, Any]:
    return {
        "id": budget.id,
        "scope": budget.scope,
        "scope_id": budget.scope_id,
        "tool": budget.tool,
        "amount_usd": str(budget.amount_usd),
        "thresholds": list(budget.thresholds),
        "include_seats": budget.include_seats,
        "channels": list(budget.channels),
    }


# --- edits (audited) ------------------------------------------------------------------------------------------


async def list_budgets(db: AsyncSession) -> list[Budget]:
    """Every budget: org first, then teams, then people, each by scope id and tool."""
    order = text("CASE scope WHEN 'org' THEN 0 WHEN 'team' THEN 1 ELSE 2 END")
    return list((await db.execute(select(Budget).order_by(order, Budget.scope_id, Budget.tool))).scalars())


async def save_budget(db: AsyncSession, fields: BudgetInput, *, actor: str, budget_id: int | None = None) -> Budget:
    """Create a budget, or update `budget_id` (or the budget of the same scope and tool when no id is given), with
    its audit event, in the caller's transaction. BudgetInputError when another budget already has that scope and
    tool; BudgetNotFound for an unknown id."""
    existing: Budget | None
    if budget_id is not None:
        existing = await db.get(Budget, budget_id, with_for_update=True)
        if existing is None:
            raise BudgetNotFound(f"budget {budget_id} does not exist")
    else:
        existing = (
            await db.execute(
                select(Budget)
                .where(Budget.scope == fields.scope, Budget.scope_id == fields.scope_id, Budget.tool == fields.tool)
                .with_for_update()
            )
        ).scalar_one_or_none()
    clash = (
        await db.execute(
            select(Budget.id).where(
                Budget.scope == fields.scope,
                Budget.scope_id == fields.scope_id,
                Budget.tool == fields.tool,
                Budget.id != (existing.id if existing is not None else -1),
            )
        )
    ).scalar_one_or_none()
    if clash is not None:
        raise BudgetInputError(f"scope: budget {clash} already covers this scope and tool; edit that one")
    values = {
        "scope": fields.scope,
        "scope_id": fields.scope_id,
        "tool": fields.tool,
        "amount_usd": fields.amount_usd,
        "thresholds": list(fields.thresholds),
        "include_seats": fields.include_seats,
        "channels": list(fields.channels),
        "updated_by": actor[:320],
    }
    if existing is None:
        budget = Budget(**values, created_by=actor[:320])
        db.add(budget)
        await db.flush()
        await db.refresh(budget)  # the stored values (amount as numeric(12,2)) are what the audit records
        await record_audit(
            db, actor=actor, action="budget.create", target=f"budget:{budget.id}", after=budget_json(budget)
        )
        return budget
    before = budget_json(existing)
    await db.execute(update(Budget).where(Budget.id == existing.id).values(**values, updated_at=text("now()")))
    await db.refresh(existing)
    await record_audit(
        db,
        actor=actor,
        action="budget.update",
        target=f"budget:{existing.id}",
        before=before,
        after=budget_json(existing),
    )
    return existing


async def delete_budget(db: AsyncSession, budget_id: int, *, actor: str) -> None:
    """Delete a budget (its alerts and their delivery history go with it) and audit it, in the caller's
    transaction; BudgetNotFound for an unknown id."""
    existing = await db.get(Budget, budget_id, with_for_update=True)
    if existing is None:
        raise BudgetNotFound(f"budget {budget_id} does not exist")
    before = budget_json(existing)
    await db.execute(delete(Budget).where(Budget.id == budget_id))
    await record_audit(db, actor=actor, action="budget.delete", target=f"budget:{budget_id}", before=before)


# --- figures --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetFigures:
    """One budget's month: M-BUDGET-SPENT, M-BUDGET-FORECAST, M-BUDGET-STATUS and the cumulative daily spend."""

    budget: Budget
    name: str
    month: date
    spent_usd: Decimal
    forecast_usd: Decimal
    status: str
    burn: list[tuple[date, Decimal]] = field(default_factory=list)
    """(day, cumulative spend at the day's end) for the month's days up to today."""

    @property
    def amount_usd(self) -> Decimal:
        return Decimal(self.budget.amount_usd)

    @property
    def percent_spent(self) -> int:
        return int(self.spent_usd * 100 / self.amount_usd) if self.amount_usd else 0


_SCOPE_FILTER = {
    "org": "",
    "team": (
        " AND email IN (SELECT m.email FROM team_members m JOIN teams t ON t.slug = m.team_slug"
        " WHERE m.team_slug = :scope_id AND m.removed_at IS NULL AND t.removed_at IS NULL)"
    ),
    "person": " AND email = :scope_id",
}


async def _daily_cost(db: AsyncSession, budget: Budget, first: date, last: date) -> dict[str, dict[date, int]]:
    tool_filter = "" if budget.tool == ALL_TOOLS else " AND tool = :tool"
    rows = await db.execute(
        text(
            "SELECT tool, date, sum(cost) AS cost FROM usage_user_daily WHERE date BETWEEN :first AND :last"
            f"{tool_filter}{_SCOPE_FILTER[budget.scope]} GROUP BY tool, date"
        ),
        {"first": first, "last": last, "tool": budget.tool, "scope_id": budget.scope_id},
    )
    daily: dict[str, dict[date, int]] = {}
    for row in rows:
        daily.setdefault(row.tool, {})[row.date] = to_micro(Decimal(row.cost))
    return daily


async def _seats(db: AsyncSession, budget: Budget, month: date) -> list[HeldSeat]:
    tool_filter = "" if budget.tool == ALL_TOOLS else " AND tool = :tool"
    rows = await db.execute(
        text(
            "SELECT price_usd, (since AT TIME ZONE 'UTC')::date AS since, (ended_at AT TIME ZONE 'UTC')::date AS ended"
            " FROM seats WHERE (since AT TIME ZONE 'UTC')::date <= :last"
            " AND (ended_at IS NULL OR (ended_at AT TIME ZONE 'UTC')::date >= :first)"
            f"{tool_filter}{_SCOPE_FILTER[budget.scope]}"
        ),
        {"first": month, "last": month_end(month), "tool": budget.tool, "scope_id": budget.scope_id},
    )
    return [HeldSeat(Decimal(r.price_usd), r.since, r.ended) for r in rows]


async def last_data_days(db: AsyncSession) -> dict[str, date | None]:
    """M-DATA-COMPLETE of every tool with usage."""
    rows = await db.execute(text("SELECT tool, max(date) AS last FROM usage_tool_totals_daily GROUP BY tool"))
    return {row.tool: row.last for row in rows}


async def figures_of(
    db: AsyncSession,
    budget: Budget,
    month: date,
    now: datetime,
    last_data: Mapping[str, date | None],
) -> BudgetFigures:
    """One budget's figures for `month` as of `now` (UTC)."""
    today = now.astimezone(UTC).date()
    hours = now.astimezone(UTC).hour + now.astimezone(UTC).minute / 60
    daily = await _daily_cost(db, budget, month - timedelta(days=HISTORY_DAYS), month_end(month))
    spent = usage_spent(daily, month, today)
    projection = month_end_projection(daily, last_data, month, today, hours)
    seats = await _seats(db, budget, month) if budget.include_seats else []
    spent += seat_spent(seats, month, today)
    projection += seat_projection(seats, month, today)
    amount = Decimal(budget.amount_usd)
    forecast = spent + projection
    burn: list[tuple[date, Decimal]] = []
    last = spent_through(month, today)
    running = Decimal(0)
    for day in month_days(month):
        if last is None or day > last:
            break
        running += from_micro(sum(series.get(day, 0) for series in daily.values()))
        running += sum((seat_cost(s.monthly_price, s.since, s.until, day, day) for s in seats), Decimal(0))
        burn.append((day, running))
    return BudgetFigures(
        budget=budget,
        name=budget_name(budget.scope, budget.scope_id, budget.tool, TOOL_NAMES.get(budget.tool, budget.tool)),
        month=month,
        spent_usd=spent,
        forecast_usd=forecast,
        status=budget_status(amount, cents(spent), cents(forecast)),
        burn=burn,
    )


TEAM_SIZES = text("SELECT team_slug, COUNT(*) AS size FROM team_members WHERE removed_at IS NULL GROUP BY team_slug")


async def visible_budgets(db: AsyncSession, budgets: list[Budget], viewer: Viewer) -> list[Budget]:
    """The budgets `viewer` may see (docs/security.md §6): org budgets, budgets of people they see, and budgets of
    teams whose aggregate they see (their own teams, or teams of at least ABACUS_MIN_GROUP people)."""
    if viewer.sees_everyone:
        return budgets
    sizes = {r.team_slug: int(r.size) for r in await db.execute(TEAM_SIZES)}
    return [
        b
        for b in budgets
        if b.scope == "org"
        or (b.scope == "person" and viewer.sees(b.scope_id))
        or (b.scope == "team" and viewer.sees_team(b.scope_id, sizes.get(b.scope_id, 0)))
    ]


async def budgets_for_month(
    db: AsyncSession, month: date, now: datetime, *, team: str | None = None, viewer: Viewer = EVERYONE
) -> list[BudgetFigures]:
    """Every budget's figures for `month` (the first of a month) as of `now`; with `team`, only that team's budgets
    and those of its current members; only the budgets `viewer` may see."""
    budgets = await visible_budgets(db, await list_budgets(db), viewer)
    if team is not None:
        members = set(
            (
                await db.execute(
                    text("SELECT email FROM team_members WHERE team_slug = :team AND removed_at IS NULL"),
                    {"team": team},
                )
            ).scalars()
        )
        budgets = [
            b
            for b in budgets
            if (b.scope == "team" and b.scope_id == team) or (b.scope == "person" and b.scope_id in members)
        ]
    if not budgets:
        return []
    last_data = await last_data_days(db)
    return [await figures_of(db, budget, month, now, last_data) for budget in budgets]


# --- the check ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingDelivery:
    alert_id: int
    channel: str
    database: str = ""
    """The database's random epoch (data_version): alert ids of a database made again start over, this does not."""


async def evaluate_budgets(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> list[PendingDelivery]:
    """Check every budget for the current month (UTC) and create the alerts it has reached, each at most once per
    (budget, month, kind) however many checks run at once (INSERT … ON CONFLICT DO NOTHING: only the check whose
    insert wins gets the id). Returns the deliveries to queue: those of the alerts this check created, and any of
    an older alert whose channel was never attempted (a queued job lost before it ran)."""
    month = month_of(now.astimezone(UTC).date())
    pending: list[PendingDelivery] = []
    created = 0
    async with sessionmaker() as db, db.begin():
        epoch = str(await db.scalar(text("SELECT epoch FROM data_version WHERE id = 1")))
        for figures in await budgets_for_month(db, month, now):
            budget = figures.budget
            amount = Decimal(budget.amount_usd)
            spent, forecast = cents(figures.spent_usd), cents(figures.forecast_usd)
            for kind in crossed_alerts(budget.thresholds, amount, spent, forecast):
                alert_id = (
                    await db.execute(
                        insert(Alert)
                        .values(
                            budget_id=budget.id,
                            month=month,
                            kind=kind,
                            spent_usd=spent,
                            forecast_usd=forecast,
                            amount_usd=amount,
                            channels=list(budget.channels),
                        )
                        .on_conflict_do_nothing(index_elements=["budget_id", "month", "kind"])
                        .returning(Alert.id)
                    )
                ).scalar_one_or_none()
                if alert_id is not None:
                    created += 1
                    log.info("budget alert", budget=budget.id, month=month.isoformat(), kind=kind, alert=alert_id)
                    pending.extend(PendingDelivery(alert_id, channel, epoch) for channel in budget.channels)
        stale = await db.execute(
            text(
                "SELECT a.id, c.channel FROM alerts a CROSS JOIN LATERAL unnest(a.channels) AS c(channel)"
                " WHERE a.created_at < :before AND a.month >= :since AND NOT EXISTS (SELECT 1 FROM alert_deliveries d"
                " WHERE d.alert_id = a.id AND d.channel = c.channel)"
            ),
            {"before": now - UNDELIVERED_AFTER, "since": month - timedelta(days=31)},
        )
        pending.extend(PendingDelivery(row.id, row.channel, epoch) for row in stale)
    log.info("budgets checked", month=month.isoformat(), alerts_created=created, deliveries=len(pending))
    return pending


# --- alert history --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryLine:
    channel: str
    attempt: int
    status: str
    http_status: int | None
    error: str | None
    at: datetime


@dataclass(frozen=True)
class AlertLine:
    id: int
    budget_id: int
    month: date
    kind: str
    spent_usd: Decimal
    forecast_usd: Decimal
    amount_usd: Decimal
    created_at: datetime
    channels: list[str]
    deliveries: list[DeliveryLine]

    def channel_state(self, channel: str) -> str:
        """`sent`, `failing` (attempted, not yet sent) or `pending` (not attempted yet)."""
        mine = [d for d in self.deliveries if d.channel == channel]
        if any(d.status == "sent" for d in mine):
            return "sent"
        return "failing" if mine else "pending"


async def alert_history(
    db: AsyncSession, *, limit: int = 100, budget_ids: Sequence[int] | None = None
) -> list[AlertLine]:
    """The newest alerts with every delivery attempt, newest first."""
    query = select(Alert).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    if budget_ids is not None:
        query = query.where(Alert.budget_id.in_(budget_ids))
    alerts = list((await db.execute(query)).scalars())
    attempts: dict[int, list[DeliveryLine]] = {}
    if alerts:
        rows = await db.execute(
            select(AlertDelivery)
            .where(AlertDelivery.alert_id.in_([a.id for a in alerts]))
            .order_by(AlertDelivery.at, AlertDelivery.id)
        )
        for d in rows.scalars():
            attempts.setdefault(d.alert_id, []).append(
                DeliveryLine(d.channel, d.attempt, d.status, d.http_status, d.error, d.at)
            )
    return [
        AlertLine(
            id=a.id,
            budget_id=a.budget_id,
            month=a.month,
            kind=a.kind,
            spent_usd=Decimal(a.spent_usd),
            forecast_usd=Decimal(a.forecast_usd),
            amount_usd=Decimal(a.amount_usd),
            created_at=a.created_at,
            channels=list(a.channels),
            deliveries=attempts.get(a.id, []),
        )
        for a in alerts
    ]
