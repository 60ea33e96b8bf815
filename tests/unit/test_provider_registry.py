"""Every registered provider is wired everywhere it must be: jobs, cron schedule, status rows, emulator.

Adding a provider is its module plus one registry entry; these tests fail when that entry lacks a piece."""

from __future__ import annotations

import pytest
from litestar import Router

from abacus.emulators.dataset import EmulatorConfig
from abacus.emulators.faults import EmulatorState
from abacus.emulators.server import create_emulator_app, provider_emulator
from abacus.providers import registry
from abacus.providers.provider import Provider
from abacus.settings import load_settings
from abacus.worker.tasks import CRON_JOBS, FUNCTIONS

EVERY_PROVIDER_CONFIGURED = {
    "ABACUS_ENV": "dev",
    "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-test",
    "CURSOR_ADMIN_KEY": "key_test",
    "GITHUB_TOKEN": "ghp_test",
    "GITHUB_ORG": "acme",
    "COPILOT_ENABLED": "1",
}
NOTHING_CONFIGURED = {"ABACUS_ENV": "dev"}
by_name = pytest.mark.parametrize("provider", registry.PROVIDERS, ids=registry.NAMES)


def test_names_are_unique():
    assert len(set(registry.NAMES)) == len(registry.NAMES)
    assert len({job.name for _, job in registry.all_jobs()}) == len(registry.all_jobs())


@by_name
def test_has_a_forward_and_a_backfill_job(provider: Provider):
    assert provider.job("forward") is not None
    assert provider.job("backfill") is not None


@by_name
def test_every_job_is_a_worker_function_and_on_the_cron_schedule(provider: Provider):
    functions = {f.name for f in FUNCTIONS}
    cron_names = {c.name for c in CRON_JOBS}
    for job in provider.jobs:
        assert job.name in functions
        assert job.name in cron_names
        assert job.schedule
        assert 0 <= job.minute < 60
        assert job.hours is None or job.hours <= set(range(24))


@by_name
def test_status_rows_follow_configuration(provider: Provider):
    configured = load_settings(EVERY_PROVIDER_CONFIGURED, web=False)
    rows = provider.rows_for_status(configured, [])
    assert rows, f"{provider.name} shows no status row when configured"
    assert all(row.state_id and row.label for row in rows)
    assert provider.rows_for_status(load_settings(NOTHING_CONFIGURED, web=False), []) == []


@by_name
def test_keys_and_configured(provider: Provider):
    assert registry.configured(load_settings(EVERY_PROVIDER_CONFIGURED, web=False), provider)
    assert not registry.configured(load_settings(NOTHING_CONFIGURED, web=False), provider)


def test_unknown_names_and_labels_say_what_exists():
    with pytest.raises(registry.UnknownProvider, match="expected one of anthropic, cursor, github"):
        registry.get("copilot-typo")
    settings = load_settings(EVERY_PROVIDER_CONFIGURED, web=False)
    with pytest.raises(registry.UnknownProvider, match="Team 'mobile' not found"):
        registry.provider_keys(settings, registry.get("cursor"), "mobile")


def test_configured_tools_are_the_usage_tools_of_configured_providers():
    assert registry.configured_tools(load_settings(EVERY_PROVIDER_CONFIGURED, web=False)) == {"claude_code", "cursor"}
    assert registry.configured_tools(load_settings(NOTHING_CONFIGURED, web=False)) == set()


@pytest.fixture(scope="module")
def emulator_state() -> EmulatorState:
    return EmulatorState(EmulatorConfig(users=4, days=3))


@by_name
def test_has_an_emulator_mounted_by_the_emulator_server(provider: Provider, emulator_state: EmulatorState):
    router = provider_emulator(provider.emulator_module).create_router(emulator_state)
    assert isinstance(router, Router)
    assert router.routes, f"{provider.name}'s emulator serves nothing"
    app = create_emulator_app(EmulatorConfig(users=4, days=3))
    served = {route.path for route in app.routes}
    assert {route.path for route in router.routes} <= served
