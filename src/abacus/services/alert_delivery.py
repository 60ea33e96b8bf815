"""Delivering one budget alert to one channel (a Slack-compatible webhook or the signed generic webhook).

Each try is one `alert_deliveries` row. A delivery already sent is never sent again (checked first, and a partial
unique index allows one `sent` row per alert and channel); the worker's job retries failed tries with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.domain.budgets import (
    CHANNELS,
    AlertMessage,
    budget_name,
    encode_body,
    generic_body,
    signature,
    slack_body,
)
from abacus.domain.tools import TOOL_NAMES
from abacus.logging_setup import get_logger
from abacus.models import Alert, AlertDelivery, Budget
from abacus.settings import Settings

log = get_logger("abacus.alerts")

TIMEOUT_SECONDS = 10.0
FAILING_AFTER = timedelta(hours=24)
CHANNEL_VARIABLES = {"slack": "ABACUS_ALERT_SLACK_URL", "webhook": "ABACUS_ALERT_WEBHOOK_URL"}


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    """`sent`, `failed`, `already sent` or `gone` (the alert was deleted with its budget)."""
    retry: bool = False
    detail: str = ""


def budgets_url(settings: Settings, month: str, budget_id: int) -> str:
    return f"{settings.base_url}/budgets?month={month}#budget-{budget_id}"


def request_for(settings: Settings, channel: str, message: AlertMessage) -> tuple[str, bytes, dict[str, str]]:
    """(URL, body, headers) of one delivery; ValueError naming the setting when the channel cannot send."""
    url = settings.alerts.url(channel)
    if url is None:
        raise ValueError(f"{CHANNEL_VARIABLES[channel]} is not set")
    headers = {"Content-Type": "application/json", "User-Agent": "Abacus-Alerts"}
    if channel == "slack":
        return url, encode_body(slack_body(message)), headers
    secret = settings.alerts.webhook_secret
    if not secret:
        raise ValueError("ABACUS_ALERT_WEBHOOK_SECRET is not set (the generic webhook is always signed)")
    body = encode_body(generic_body(message))
    return url, body, {**headers, "X-Abacus-Signature": signature(secret, body)}


async def _record(
    db: AsyncSession, alert_id: int, channel: str, attempt: int, status: str, code: int | None, error: str | None
) -> bool:
    stmt = insert(AlertDelivery).values(
        alert_id=alert_id, channel=channel, attempt=attempt, status=status, http_status=code, error=error
    )
    if status == "sent":
        stmt = stmt.on_conflict_do_nothing(index_elements=["alert_id", "channel"], index_where=text("status = 'sent'"))
    return (await db.execute(stmt.returning(AlertDelivery.id))).scalar_one_or_none() is not None


async def deliver_alert(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    alert_id: int,
    channel: str,
    attempt: int,
    *,
    last_attempt: bool = False,
) -> DeliveryOutcome:
    """Send alert `alert_id` to `channel` once, unless it was sent already; store the attempt. `retry` says whether
    a later try may succeed (a network error or a non-2xx answer, and not the last attempt)."""
    if channel not in CHANNELS:
        return DeliveryOutcome("failed", detail=f"unknown channel {channel!r}")
    async with sessionmaker() as db:
        row = (
            await db.execute(
                select(Alert, Budget).join(Budget, Budget.id == Alert.budget_id).where(Alert.id == alert_id)
            )
        ).first()
        if row is None:
            return DeliveryOutcome("gone")
        sent = await db.scalar(
            select(AlertDelivery.id).where(
                AlertDelivery.alert_id == alert_id, AlertDelivery.channel == channel, AlertDelivery.status == "sent"
            )
        )
        if sent is not None:
            return DeliveryOutcome("already sent")
        alert, budget = row
        month = alert.month.strftime("%Y-%m")
        message = AlertMessage(
            budget_id=budget.id,
            budget_name=budget_name(
                budget.scope, budget.scope_id, budget.tool, TOOL_NAMES.get(budget.tool, budget.tool)
            ),
            scope=budget.scope,
            scope_id=budget.scope_id,
            tool=budget.tool,
            month=alert.month,
            kind=alert.kind,
            spent_usd=Decimal(alert.spent_usd),
            forecast_usd=Decimal(alert.forecast_usd),
            amount_usd=Decimal(alert.amount_usd),
            url=budgets_url(settings, month, budget.id),
        )
    code: int | None = None
    error: str | None
    try:
        url, body, headers = request_for(settings, channel, message)
    except ValueError as exc:
        error, retry = str(exc), False
    else:
        try:
            response = await client.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
            code = response.status_code
            error = None if response.is_success else f"HTTP {code}"
        except httpx.HTTPError as exc:
            # the exception text may carry the URL, whose path is the Slack secret: name only the kind of failure
            error = f"could not reach the receiver ({type(exc).__name__})"
        retry = error is not None and not last_attempt
    async with sessionmaker() as db, db.begin():
        recorded = await _record(db, alert_id, channel, attempt, "failed" if error else "sent", code, error)
    status = "failed" if error else ("sent" if recorded else "already sent")
    log.info(
        "alert delivery", alert=alert_id, channel=channel, attempt=attempt, status=status, http_status=code, error=error
    )
    return DeliveryOutcome(status, retry=retry, detail=error or "")


@dataclass(frozen=True)
class ChannelHealth:
    channel: str
    failing_since: datetime | None
    """The first failed attempt after the channel's last success, when its latest attempt failed."""
    last_sent_at: datetime | None

    def flagged(self, now: datetime) -> bool:
        """Failing for 24 hours: every attempt since the first failure, at least 24 h ago, has failed."""
        return self.failing_since is not None and now - self.failing_since >= FAILING_AFTER


async def channel_health(db: AsyncSession) -> list[ChannelHealth]:
    """Per channel that has attempts: its last success and, when its latest attempt failed, since when it fails."""
    rows = await db.execute(
        text(
            "WITH last_sent AS (SELECT channel, max(at) AS at FROM alert_deliveries WHERE status = 'sent'"
            " GROUP BY channel),"
            " latest AS (SELECT DISTINCT ON (channel) channel, status FROM alert_deliveries"
            " ORDER BY channel, at DESC, id DESC)"
            " SELECT l.channel, s.at AS last_sent,"
            " (SELECT min(d.at) FROM alert_deliveries d WHERE d.channel = l.channel AND d.status = 'failed'"
            "  AND (s.at IS NULL OR d.at > s.at)) AS failing_since, l.status AS latest"
            " FROM latest l LEFT JOIN last_sent s ON s.channel = l.channel ORDER BY l.channel"
        )
    )
    return [
        ChannelHealth(
            channel=row.channel,
            failing_since=row.failing_since if row.latest == "failed" else None,
            last_sent_at=row.last_sent,
        )
        for row in rows
    ]


def utc_now() -> datetime:
    return datetime.now(UTC)
