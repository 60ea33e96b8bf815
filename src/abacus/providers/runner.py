"""Runs a provider's operations across its configured keys: the one place jobs and the CLI go through.

A failure that escapes a provider for one key is caught, logged and recorded on that key's sync_state, and the
other keys still run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

from abacus.logging_setup import get_logger
from abacus.providers.provider import Provider
from abacus.providers.registry import provider_keys
from abacus.settings import ProviderKey
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.state import record_error

log = get_logger("abacus.sync")


async def _each_key(
    ctx: SyncContext,
    provider: Provider,
    label: str | None,
    call: Callable[[ProviderKey], Awaitable[SyncResult]],
) -> list[SyncResult]:
    results = []
    for key in provider_keys(ctx.settings, provider, label):
        try:
            result = await call(key)
        except Exception as exc:  # a provider bug must not stop other keys; it is recorded and reported
            message = f"{provider.name} ({key.label}): unexpected {type(exc).__name__}: {exc}"
            log.exception("sync failed", provider=provider.name, key=key.label)
            await record_error(ctx.sessionmaker, provider.state_id(key), message)
            result = SyncResult(provider=provider.name, label=key.label, errors=[message])
        log.info(
            "sync run",
            provider=provider.name,
            key=key.label,
            records=result.records,
            windows=result.windows,
            errors=result.errors[:3],
            complete=result.complete,
        )
        results.append(result)
    return results


async def run_incremental(ctx: SyncContext, provider: Provider, label: str | None = None) -> list[SyncResult]:
    """The provider's forward sync for each key (its own trailing re-read; idempotent)."""
    return await _each_key(ctx, provider, label, lambda key: provider.sync_incremental(ctx, key))


async def run_range(
    ctx: SyncContext, provider: Provider, start: date, end: date, label: str | None = None
) -> list[SyncResult]:
    """Re-read the UTC days start … end for each key (idempotent)."""
    return await _each_key(ctx, provider, label, lambda key: provider.sync_range(ctx, key, start, end))


async def run_backfill_step(
    ctx: SyncContext, provider: Provider, label: str | None = None, target: date | None = None
) -> list[SyncResult]:
    """One bounded chunk of each key's backwards walk; progress is saved with each chunk's data."""
    return await _each_key(ctx, provider, label, lambda key: provider.backfill_step(ctx, key, target))


async def run_mappings(ctx: SyncContext, provider: Provider, label: str | None = None) -> list[SyncResult]:
    """Refresh the provider's identity mappings for each key (nothing for a provider without mappings)."""
    sync_mappings = provider.sync_mappings
    if sync_mappings is None:
        return []

    async def call(key: ProviderKey) -> SyncResult:
        return SyncResult(provider=provider.name, label=key.label, records=await sync_mappings(ctx, key))

    return await _each_key(ctx, provider, label, call)


async def run_teams(ctx: SyncContext, provider: Provider, label: str | None = None) -> list[SyncResult]:
    """Sync the provider's teams into the teams tables for each key (nothing for a provider without teams)."""
    sync_teams = provider.sync_teams
    if sync_teams is None:
        return []

    async def call(key: ProviderKey) -> SyncResult:
        return SyncResult(provider=provider.name, label=key.label, records=await sync_teams(ctx, key))

    return await _each_key(ctx, provider, label, call)
