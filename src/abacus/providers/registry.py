"""The list of providers. Adding one = its module (ending in `DESCRIPTION = Provider(...)`) + one line here.

Everything that used to name providers one by one reads this list instead: the runner (CLI and jobs), the worker's
job functions and cron table, the status page, and the rule for which tools count as configured.
"""

from __future__ import annotations

from abacus.providers import anthropic, copilot, cursor, github
from abacus.providers.names import PROVIDER_NAMES
from abacus.providers.provider import Job, Provider
from abacus.settings import ProviderKey, Settings

PROVIDERS: tuple[Provider, ...] = (
    anthropic.DESCRIPTION,
    cursor.DESCRIPTION,
    github.DESCRIPTION,
    copilot.DESCRIPTION,
)
NAMES: tuple[str, ...] = tuple(provider.name for provider in PROVIDERS)
if NAMES != PROVIDER_NAMES:
    raise RuntimeError(f"abacus.providers.names lists {PROVIDER_NAMES}, the registry {NAMES}: make them the same")
_BY_NAME = {provider.name: provider for provider in PROVIDERS}


class UnknownProvider(ValueError):
    """A provider name or key label that is not registered / configured; the message says what is."""


def get(name: str) -> Provider:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownProvider(f"unknown provider {name!r} (expected one of {', '.join(NAMES)})") from None


def provider_keys(settings: Settings, provider: Provider, label: str | None = None) -> list[ProviderKey]:
    """The configured keys of a provider, or just the one labelled `label` (the CLI's --org)."""
    keys = list(provider.keys(settings))
    if label is None:
        return keys
    chosen = [key for key in keys if key.label == label]
    if not chosen:
        raise UnknownProvider(f"{provider.key_noun} '{label}' not found in configured keys")
    return chosen


def configured(settings: Settings, provider: Provider) -> bool:
    return bool(provider.keys(settings))


def configured_tools(settings: Settings) -> set[str]:
    """M-PROJ rule 2: the usage tools whose provider is configured (Anthropic → Claude Code, Cursor → Cursor)."""
    return {p.tool for p in PROVIDERS if p.tool is not None and configured(settings, p)}


def all_jobs() -> list[tuple[Provider, Job]]:
    return [(provider, job) for provider in PROVIDERS for job in provider.jobs]


def initial_jobs() -> list[str]:
    """What a first start (the demo) enqueues: mappings first, then forward syncs, teams (whose logins need the
    mappings the forward sync brings), then backfills."""
    order = {"mappings": 0, "forward": 1, "teams": 2, "backfill": 3}
    return [job.name for _, job in sorted(all_jobs(), key=lambda pair: order[pair[1].kind])]
