"""Provider storms, for every provider of the registry (so a provider added later is stormed too), over HTTP against
the emulators (through storm_proxy.py for the faults the emulator does not make) and real PostgreSQL.

For each provider and each fault kind, every request of that provider fails that way until the storm is cleared:
1. from empty tables the forward sync of every key fails with a precise error naming the fault, nothing is stored and
   no sync position moves;
2. a storm that starts after a few requests went through may keep what completed, then
3. a clean run ends exactly where a clean run from empty tables ends: the same usage rows, commits, mappings and
   sync positions (nothing lost, nothing duplicated), the usage tools equal to the emulator's ground truth, rollups
   consistent.
Faults: 429 with a Retry-After longer than we wait and without Retry-After, 500, 502, answers slower than the
client timeout, truncated JSON, an HTML page instead of JSON, a page missing a field, an empty page whose flag says
there are more."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from abacus.emulators.dataset import EmulatorConfig, demo_environment
from abacus.emulators.server import EmulatorServer
from abacus.providers import registry
from abacus.providers.http import ProviderClient
from abacus.settings import load_settings
from abacus.sync.context import SyncContext
from tests.integration.attack_support import long_run
from tests.integration.provider_support import (
    FIRST_DAY,
    HISTORY_DAYS,
    NOW,
    TODAY,
    data_snapshot,
    rollup_mismatches,
    state_snapshot,
    stored_totals,
    truth_totals,
)
from tests.integration.storm_proxy import StormProxy
from tests.support import ThreadedServer, truncate_tables

TIMEOUT = 0.3
# kind → (how it is armed, what the error must say). "emulator" kinds are the emulator's own fault switches.
STORMS: dict[str, tuple[str, dict[str, Any], str]] = {
    "429_retry_after_too_long": ("emulator", {"kind": "429", "retry_after": 61}, "rate limited"),
    "empty_page_has_more": ("proxy", {}, ""),  # the message is the provider's own: checked to name the page
    "429_no_retry_after": ("proxy", {}, "rate limited"),
    "500": ("emulator", {"kind": "500"}, "HTTP 500 after 3 tries"),
    "502": ("proxy", {}, "HTTP 502 after 3 tries"),
    "slower_than_timeout": ("emulator", {"kind": "slow", "delay": 1.0}, "Timeout after 3 tries"),
    "truncated_json": ("emulator", {"kind": "malformed"}, "malformed JSON"),
    "html_instead_of_json": ("proxy", {}, "malformed JSON"),
    "missing_field": ("emulator", {"kind": "missing_field"}, "missing field"),
}
PROVIDERS = [p.name for p in registry.PROVIDERS]
# The default run storms every kind once and every provider about equally (kinds dealt round-robin over the
# providers); ABACUS_FUZZ_LONG=1 runs every provider × every kind.
CASES = (
    [(provider, kind) for provider in PROVIDERS for kind in STORMS]
    if long_run()
    else [(PROVIDERS[i % len(PROVIDERS)], kind) for i, kind in enumerate(STORMS)]
)
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module")
def storm_emulator() -> Iterator[EmulatorServer]:
    """A small company on the provider tests' clock, with ordinary page sizes: a storm case is a few syncs."""
    config = EmulatorConfig(seed=7, users=6, days=HISTORY_DAYS, today=TODAY, now=lambda: NOW, repos=2, commits=30)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture()
def emulator(storm_emulator: EmulatorServer, clean_db: None) -> Iterator[EmulatorServer]:
    storm_emulator.state.reset()
    yield storm_emulator
    storm_emulator.state.reset()


@pytest.fixture(scope="module")
def proxy_server(storm_emulator: EmulatorServer) -> Iterator[tuple[StormProxy, str]]:
    storm = StormProxy(storm_emulator.base_url)
    with ThreadedServer(storm, health_path="/") as server:
        yield storm, server.url


@pytest.fixture()
def storm_ctx(emulator, proxy_server, sessionmaker, clock) -> SyncContext:
    storm, url = proxy_server
    storm.disarm()
    env = {k: v for k, v in demo_environment(url).items() if k != "GITHUB_WEBHOOK_SECRET"}
    settings = load_settings(env, web=False)
    return SyncContext(settings=settings, sessionmaker=sessionmaker, now=clock, backoff_base=0.01)


@contextmanager
def _short_timeouts(active: bool) -> Iterator[None]:
    """Every provider's HTTP client times out after TIMEOUT seconds (module settings where a provider has one)."""
    if not active:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(ProviderClient.__init__.__kwdefaults__, "timeout", TIMEOUT)
        for provider in registry.PROVIDERS:
            module = importlib.import_module(provider.sync_incremental.__module__)
            if hasattr(module, "REQUEST_TIMEOUT"):
                patch.setattr(module, "REQUEST_TIMEOUT", TIMEOUT)
        yield


async def _forward_sync(ctx: SyncContext, name: str) -> list[str]:
    """The forward sync of the provider's first configured key (one key is enough to storm); its errors."""
    provider = registry.get(name)
    keys = provider.keys(ctx.settings)[:1]
    assert keys, f"{name} is not configured by demo_environment(): the storm test cannot reach it"
    errors: list[str] = []
    for key in keys:
        result = await asyncio.wait_for(provider.sync_incremental(ctx, key), timeout=120)
        errors += result.errors
    return errors


async def _snapshot(sessionmaker) -> dict[str, Any]:
    snapshot: dict[str, Any] = dict(await data_snapshot(sessionmaker))
    async with sessionmaker() as db:
        snapshot["commits"] = [
            tuple(row)
            for row in await db.execute(
                text(
                    "SELECT r.full_name, c.commit_id, c.author_email, c.author_id, c.committed_at, c.message,"
                    " c.ai_tool, c.ai_model, c.additions, c.deletions FROM commits c JOIN repositories r"
                    " ON r.id = c.repo_id ORDER BY 1, 2"
                )
            )
        ]
    return snapshot


def _progress(states: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """Sync positions, rows that record only an error (no position) left out."""
    return {k: v for k, v in states.items() if any(x not in (None, False) for x in v[1:])}


REFERENCE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


async def _reference(ctx: SyncContext, sessionmaker, database_url: str, name: str):
    """What a clean forward sync from empty tables stores (computed once per provider)."""
    if name not in REFERENCE:
        await truncate_tables(database_url)
        errors = await _forward_sync(ctx, name)
        assert not errors, errors
        REFERENCE[name] = (await _snapshot(sessionmaker), _progress(await state_snapshot(sessionmaker)))
        await truncate_tables(database_url)
    return REFERENCE[name]


def _arm(emulator: EmulatorServer, storm: StormProxy, provider: str, kind: str, after: int) -> None:
    where, spec, _ = STORMS[kind]
    if where == "emulator":
        emulator.state.add_fault(provider, "*", count=1_000_000, after=after, **spec)
    else:
        storm.arm(provider, kind, after)


def _clear(emulator: EmulatorServer, storm: StormProxy) -> None:
    emulator.state.clear_faults()
    storm.disarm()


@pytest.mark.parametrize(("provider", "kind"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
async def test_a_storm_fails_precisely_moves_nothing_and_a_clean_run_reaches_the_ground_truth(
    emulator, proxy_server, storm_ctx, sessionmaker, database_url, provider, kind
):
    storm, _ = proxy_server
    reference, reference_progress = await _reference(storm_ctx, sessionmaker, database_url, provider)
    empty = await _snapshot(sessionmaker)

    # 1. from empty tables: precise failure, nothing stored, no position
    slow = kind == "slower_than_timeout"
    _arm(emulator, storm, provider, kind, after=0)
    with _short_timeouts(slow):
        errors = await _forward_sync(storm_ctx, provider)
    if kind == "empty_page_has_more" and storm.flagged == 0:
        _clear(emulator, storm)
        pytest.skip(f"{provider} pages carry no 'more pages' flag in the body (e.g. Link headers)")
    assert errors, f"{provider} under a {kind} storm reported success"
    message = STORMS[kind][2]
    assert all(message in error for error in errors), errors
    assert all(provider in error.lower() or "key" in error for error in errors), errors
    assert await _snapshot(sessionmaker) == empty
    if kind != "empty_page_has_more":  # that storm only touches paged answers: an unpaged sync may succeed
        assert _progress(await state_snapshot(sessionmaker)) == {}
    _clear(emulator, storm)

    # 2. a storm after a few good requests: what completed may stay, nothing half-written
    _arm(emulator, storm, provider, kind, after=3)
    with _short_timeouts(slow):
        await _forward_sync(storm_ctx, provider)
    _clear(emulator, storm)
    assert await rollup_mismatches(sessionmaker) == 0

    # 3. the clean run reaches exactly what a clean run from empty tables stores
    errors = await _forward_sync(storm_ctx, provider)
    assert not errors, errors
    assert await _snapshot(sessionmaker) == reference
    assert _progress(await state_snapshot(sessionmaker)) == reference_progress
    assert await rollup_mismatches(sessionmaker) == 0
    tool = registry.get(provider).tool
    if tool in ("claude_code", "cursor"):  # the usage the emulator's ground truth describes
        stored = await stored_totals(sessionmaker, tool, FIRST_DAY, TODAY)
        assert stored, "the forward sync stored nothing"
        first = min(day for day, _ in stored)  # the forward window may start inside its first day
        label = registry.get(provider).keys(storm_ctx.settings)[0].label
        truth = truth_totals(emulator, tool, first + timedelta(days=1), TODAY, org=label)
        assert {k: v for k, v in stored.items() if k[0] > first} == truth
    TRIED[f"{provider}:{kind}"] = 1


async def test_cursor_empty_page_flagged_as_having_more_fails_at_once():
    """Regression: Cursor kept asking for the next page up to MAX_PAGES (10,000 requests) when pages came back
    empty with hasNextPage true; now the window fails on the first such page."""
    from datetime import UTC, datetime

    import httpx

    from abacus.providers import cursor
    from abacus.records import ProviderError

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"usageEvents": [], "pagination": {"hasNextPage": True, "numPages": 9}})

    client = ProviderClient("cursor", "http://cursor.test", label="core", transport=httpx.MockTransport(handler))
    async with client:
        with pytest.raises(ProviderError, match="page 1 is empty but hasNextPage is true"):
            await cursor.fetch_usage_events(client, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert len(calls) == 1
