"""Typed records the providers' pure parse step produces and the store step writes, and the error a provider
raises. Neutral ground: providers (which produce them) and sync (which stores them) both import this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple


class ProviderError(RuntimeError):
    """A provider call failed for good (after retries); the run for that key stops, state is not advanced."""


class NotPublished(ProviderError):
    """The provider has no data for this window yet (Copilot's 404 for a day without a report): a forward run stops
    there without an error and without advancing; a backfill counts the day as empty."""


class UsageRow(NamedTuple):
    """One usage_records row before email resolution (identity is `<source>:<external id>`, lower-cased).

    A named tuple, not a frozen dataclass: a Cursor window builds tens of thousands of them, and a tuple is built
    ~4× faster, is left alone by the garbage collector (its fields are atomic) and, its fields being in the staging
    table's column order, is already the record the store COPYs (sync/usage_store.py). Change a field with
    `row._replace(...)`."""

    date: date
    identity: str
    tool: str
    model: str
    raw_model: str | None
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal = Decimal(0)
    tool_record_id: str | None = None
    timestamp_ms: int | None = None
    organization_id: str | None = None
    customer_type: str | None = None

    @property
    def dedupe_key(self) -> tuple[object, ...]:
        return (
            self.date,
            self.identity,
            self.tool,
            self.raw_model,
            self.tool_record_id,
            self.timestamp_ms,
            self.organization_id,
        )


@dataclass(frozen=True)
class ActivityRow:
    """One activity_daily row before email resolution: what a tool produced for one identity on one UTC day
    (docs/schema.md, activity_daily). Counts are the vendor's daily aggregates, replaced whole on a re-read."""

    date: date
    identity: str  # `<source>:<external id>`, lower-cased like usage identities
    sessions: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    suggested: int = 0
    accepted: int = 0
    requests: int = 0
    commits: int = 0
    pull_requests: int = 0
    active: bool = False
    details: dict[str, object] | None = None  # vendor breakdowns kept raw (Copilot), not shown yet
    # The (source, external id) whose identity mapping names the email, when it is not the identity itself
    # (Copilot rows carry a login but map through the GitHub mapping of the user's numeric id).
    mapping: tuple[str, str] | None = None


@dataclass(frozen=True)
class ActivityBatch:
    """The activity of one (tool, organization) over whole UTC days: storing it replaces every stored row of
    those days, so a person the vendor no longer reports for a day disappears with the re-read."""

    tool: str
    organization_id: str
    days: tuple[date, ...]
    rows: tuple[ActivityRow, ...]


@dataclass(frozen=True)
class SeatRow:
    """One seat as a vendor lists it now, before email resolution (docs/schema.md §10)."""

    identity: str
    plan: str | None
    since: datetime | None  # the vendor's start of the seat; None: first seen
    last_activity_at: datetime | None
    price_usd: Decimal
    details: dict[str, object] | None = None
    mapping: tuple[str, str] | None = None  # as ActivityRow.mapping


@dataclass(frozen=True)
class CommitAttributionRecord:
    tool: str
    model: str | None
    source: str
    confidence: str = "detected"


@dataclass(frozen=True)
class CommitRecord:
    """One commit as the GitHub parse step understands it (stats None until fetched)."""

    repo_full_name: str
    sha: str
    message: str
    committed_at: datetime
    author_name: str | None
    author_raw_email: str | None
    author_id: str | None
    author_login: str | None
    is_bot: bool
    additions: int | None = None
    deletions: int | None = None
    attributions: tuple[CommitAttributionRecord, ...] = field(default_factory=tuple)

    @property
    def ai_tool(self) -> str | None:
        return self.attributions[0].tool if self.attributions else None

    @property
    def ai_model(self) -> str | None:
        return self.attributions[0].model if self.attributions else None
