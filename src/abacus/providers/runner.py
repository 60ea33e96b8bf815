"""Runs provider operations across every configured key: the one place jobs and the CLI go through.

Each provider module has the same shape (see providers/); this registry maps a provider name to its operations and
its configured keys, catches what escapes a provider, and records it on that key's sync_state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from abacus.logging_setup import get_logger
from abacus.settings import ProviderKey, Settings
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.state import record_error

log = get_logger("abacus.sync")
PROVIDERS = ("anthropic", "cursor", "github")
GITHUB_KEY = ProviderKey("org", "")


class UnknownKey(ValueError):
    pass


def configured(settings: Settings, provider: str) -> bool:
    return bool(provider_keys(settings, provider))


def provider_keys(settings: Settings, provider: str, label: str | None = None) -> list[ProviderKey]:
    """Configured keys of a provider (GitHub has one pseudo key), filtered by label (--org)."""
    if provider == "anthropic":
        keys = list(settings.anthropic_keys)
    elif provider == "cursor":
        keys = list(settings.cursor_keys)
    elif provider == "github":
        keys = [GITHUB_KEY] if settings.github_configured else []
    else:
        raise UnknownKey(f"unknown provider {provider!r} (expected one of {', '.join(PROVIDERS)})")
    if label is None:
        return keys
    chosen = [k for k in keys if k.label == label]
    if not chosen:
        what = {"anthropic": "Organization", "cursor": "Team"}.get(provider, "Key")
        raise UnknownKey(f"{what} '{label}' not found in configured keys")
    return chosen


def _module(provider: str) -> Any:
    if provider == "anthropic":
        from abacus.providers import anthropic as module
    elif provider == "cursor":
        from abacus.providers import cursor as module
    else:
        from abacus.providers import github as module
    return module


def state_id(provider: str, key: ProviderKey) -> str:
    return "github" if provider == "github" else _module(provider).state_id(key)


async def _each_key(
    ctx: SyncContext, provider: str, label: str | None, call: Callable[[Any, ProviderKey], Awaitable[SyncResult]]
) -> list[SyncResult]:
    results = []
    module = _module(provider)
    for key in provider_keys(ctx.settings, provider, label):
        try:
            result = await call(module, key)
        except Exception as exc:  # a provider bug must not stop other keys; it is recorded and reported
            message = f"{provider} ({key.label}): unexpected {type(exc).__name__}: {exc}"
            log.exception("sync failed", provider=provider, key=key.label)
            await record_error(ctx.sessionmaker, state_id(provider, key), message)
            result = SyncResult(provider=provider, label=key.label, errors=[message])
        log.info(
            "sync run",
            provider=provider,
            key=key.label,
            records=result.records,
            windows=result.windows,
            errors=result.errors[:3],
            complete=result.complete,
        )
        results.append(result)
    return results


def _extra(provider: str) -> dict[str, Any]:
    # API-key mappings are refreshed once per sync job / CLI run (run_mappings), not inside every window walk
    return {"with_mappings": False} if provider == "anthropic" else {}


async def run_incremental(ctx: SyncContext, provider: str, label: str | None = None) -> list[SyncResult]:
    if provider == "github":
        return await _each_key(ctx, provider, label, lambda m, _k: m.sync_incremental(ctx))
    return await _each_key(ctx, provider, label, lambda m, k: m.sync_incremental(ctx, k, **_extra(provider)))


async def run_range(
    ctx: SyncContext, provider: str, start: date, end: date, label: str | None = None
) -> list[SyncResult]:
    if provider == "github":
        return await _each_key(ctx, provider, label, lambda m, _k: m.sync_range(ctx, start, end))
    return await _each_key(ctx, provider, label, lambda m, k: m.sync_range(ctx, k, start, end, **_extra(provider)))


async def run_backfill_step(
    ctx: SyncContext, provider: str, label: str | None = None, target: date | None = None
) -> list[SyncResult]:
    if provider == "github":
        return await _each_key(ctx, provider, label, lambda m, _k: m.backfill_step(ctx))
    return await _each_key(
        ctx, provider, label, lambda m, k: m.backfill_step(ctx, k, target=target, **_extra(provider))
    )


async def run_mappings(ctx: SyncContext, provider: str, label: str | None = None) -> list[SyncResult]:
    async def call(module: Any, key: ProviderKey) -> SyncResult:
        count = await (module.sync_mappings(ctx) if provider == "github" else module.sync_mappings(ctx, key))
        return SyncResult(provider=provider, label=key.label, records=count)

    if provider == "cursor":
        return []
    return await _each_key(ctx, provider, label, call)
