"""What a provider is, as the rest of Abacus sees it: one `Provider` value per provider module.

Each provider module (anthropic.py, cursor.py, github.py) ends with a `PROVIDER = Provider(...)` describing itself —
its keys, its operations with one uniform signature, its jobs and how fresh its data should be — and
`providers/registry.py` lists them. The worker's cron table, the CLI, the status page and the "which tools are
configured" rule all read these values; none of them names a provider.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from abacus.settings import ProviderKey, Settings
from abacus.sync.context import SyncContext, SyncResult

JobKind = Literal["forward", "backfill", "mappings", "teams"]


@dataclass(frozen=True)
class Job:
    """One arq job of a provider and when cron runs it (UTC). Forward syncs also run when a worker starts, so a
    restart after downtime catches up at once; backfills re-enqueue themselves until their history is complete."""

    name: str
    kind: JobKind
    schedule: str  # what the status page says, e.g. "Hourly"
    minute: int
    hours: frozenset[int] | None = None  # None: every hour
    run_at_startup: bool = True
    timeout_seconds: int = 1800


@dataclass(frozen=True)
class StatusRow:
    """One line of a provider's card on the status page: a sync_state row and the label people know it by."""

    state_id: str
    label: str
    backfills: bool = True
    """False for a state with no history to backfill (a seat list is read whole each time)."""
    hourly: bool = True
    """For a provider with `hourly_progress`: whether this state's `last_synced_hour_end` is the hour its usage is
    complete to. False where the mark means something else (the first hour of the last activity day read) or is not
    kept (a seat list): the row shows its last success, and the card's "last synced" is not held at midnight."""


@dataclass(frozen=True)
class Provider:
    """A provider's description. Operations take (context, key) whatever the provider: GitHub has one pseudo key."""

    name: str  # CLI argument, job names, sync_state ids
    display_name: str  # status page card title
    tool: str | None  # the usage `tool` it fills (None: it brings commits, not usage)
    key_noun: str  # what one of its keys is called in messages ("Organization", "Team")
    keys: Callable[[Settings], tuple[ProviderKey, ...]]
    state_id: Callable[[ProviderKey], str]
    sync_incremental: Callable[[SyncContext, ProviderKey], Awaitable[SyncResult]]
    sync_range: Callable[[SyncContext, ProviderKey, date, date], Awaitable[SyncResult]]
    backfill_step: Callable[[SyncContext, ProviderKey, date | None], Awaitable[SyncResult]]
    jobs: tuple[Job, ...]
    fresh_within: timedelta  # M-SYNC-STATUS: "up to date" when the last success is at most this old
    emulator_module: str  # its loopback emulator: a module with `create_router(state)`, mounted by the emulator server
    sync_mappings: Callable[[SyncContext, ProviderKey], Awaitable[int]] | None = None
    sync_teams: Callable[[SyncContext, ProviderKey], Awaitable[int]] | None = None  # org teams → teams tables
    mappings_before_sync: bool = False  # refresh identity mappings once before each forward sync / backfill run
    hourly_progress: bool = False  # status shows sync_state.last_synced_hour_end rather than last_success_at
    status_rows: Callable[[Settings, Iterable[str]], list[StatusRow]] | None = None  # default: one row per key

    def job(self, kind: JobKind) -> Job | None:
        return next((job for job in self.jobs if job.kind == kind), None)

    def rows_for_status(self, settings: Settings, state_ids: Iterable[str]) -> list[StatusRow]:
        if self.status_rows is not None:
            return self.status_rows(settings, state_ids)
        return [StatusRow(self.state_id(key), key.label) for key in self.keys(settings)]
