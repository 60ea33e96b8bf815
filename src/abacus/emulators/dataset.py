"""Deterministic synthetic company behind the provider emulators, and the ground truth the sync must reproduce.

Everything is derived from `EmulatorConfig.seed`: people, Anthropic orgs and API keys, Cursor teams, GitHub repos and
commits. Usage and commits are generated lazily per UTC day (each day from its own seeded RNG), so building the data
set is instant and any day can be regenerated independently. What a provider *shows* at a given moment depends on
the clock (late data): Anthropic's days are visible up to `now - 1 h`, a Cursor event appears `lag` minutes after
it happened, a commit exists once its committer date has passed.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from abacus.domain.modelnames import normalize_model_name
from abacus.domain.pricing import price_tokens

# --------------------------------------------------------------------------------------------------------------
# Demo credentials (loopback only; never valid anywhere else)


def _hex(label: str, length: int) -> str:
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(f"abacus-demo:{label}:{counter}".encode()).hexdigest()
        counter += 1
    return out[:length]


DEMO_ANTHROPIC_KEYS: dict[str, str] = {
    "acme": f"sk-ant-admin01-{_hex('anthropic:acme', 86)}AA",
    "labs": f"sk-ant-admin01-{_hex('anthropic:labs', 86)}AA",
}
DEMO_CURSOR_KEYS: dict[str, str] = {
    "core": f"key_{_hex('cursor:core', 64)}",
    "mobile": f"key_{_hex('cursor:mobile', 64)}",
}
DEMO_GITHUB_TOKEN = f"ghp_{_hex('github:pat', 36)}"
DEMO_GITHUB_ORG = "acme"
DEMO_GITHUB_WEBHOOK_SECRET = f"whsec_{_hex('github:webhook', 32)}"
DEMO_GITHUB_APP_ID = 424242
DEMO_GITHUB_INSTALLATION_ID = 5150515
# A throw-away 2048-bit RSA key (PKCS#1, the form GitHub issues) used only by the loopback GitHub emulator.
DEMO_GITHUB_APP_PRIVATE_KEY = """-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAnRYJ94uA/hGzat0JPSaJPOgOONLKg4T28wIan5ICBHadZL7M
S0ePkuJ2VK0D6dW9+YUwIY6cTQso/cHVnnjln+No5n5aHQsjlVhREXxiEuPg1P+l
YLGY+wwM7LOr32qSjA53tG+6dsK58FOVfQOGTRVdUQrQlZqDHNm3iAWePyEqtgYf
oBsgbkJnuTbb+j0SWQJXxPYrrTUpHLpqJX/j6qt7Sn+ZvkXw/8emMLsQ6XFrm8Ad
iH9QhV/dEE/MI+L1Db/eow/M+EYkaGjkj7U4PlgmrSVhOCS2tlXMHGKDrg2O8W+E
o29LuMgk1KjAV+Ev+aKYRYOF76K3Iv6/1CbytwIDAQABAoIBAAJFR9zCbdYcpnEe
GzypGa1fps+AnqAJNshmPzp7W/ih6d/8xTWhkcFZoFjG/fvbkwg1GGKkohSX25la
ySGLIU2+F55Zhbx25VV2hUvI1KWqabEy64s1ywisRQZLTOMTK432ZvFL9uK4eiuv
g7fRXPYwzuucSdSD+zJaWj7ZXEGlA1a+33ODRRveCLLtPn0AOqy9qzYBD3DtruXy
W6fEHJIYORwIvm4eZcWGlZRdoMewO98NO+zJqw2PimbGSAtXC6mlbjJiC4Q/YYDK
oruumLVT4IXtuAa5u4xCvMiktCHgZCpzBnmj3+wu1JOL/buBYLcC4L1SuDXXYwVr
6EpN5XkCgYEA0DjrnZy1dhf1IM0hycmaDgfKtyz295P2GjSUCQ13rEOH3azyKsCE
/QYuJWgDht1kw7VvXtv3U0Htl2qJART+Gc6BNgBMjQsSVYd+6NfDG6EX1RQ0DJFH
aFCw5SteLqaWbsrmXYxROslWeqNvSQlIAzYcKQpYIg0qZRaGgbs04S0CgYEAwSFZ
v0C+xnYqXOvtUcHuGjqRFr9SQmVR77O2J0lVzFsLeyBQ2Jdv8J/4Ns83uGZRsxZN
x00pffLE/TW+AnlJSM4MDZHtrPdp7EYLdvXedsBzk30ADKmwW9bwTO5stE8M7NWV
Z6dUX75ibQfsh4eA1i7G8kGPP34qFqJUFImZKfMCgYAsRH2rE37srWk64QGW8dpj
szpguRmERxuiNJ1oU0mnAPBoq3UMq8NaO68h2rwtNvJOPUuBIkixlamacFbSORFQ
kTudLHEZ50mtj1Hm1MAxJo13ioUKSvSgc8832YF7b4U55r8VEljOo7FT/10QbP23
WRChlQZprtzdgu1ztUYnvQKBgHxdV4eaz77I9PqlSkstkH//WtLFHNl4mUy78v5V
cRSJRFljM+xliEXxHUteIMlzygSCxk8i1yctn8BWTScWpyRk2soaQGzzXZgyest+
BGWABGzjP5bn5pMdU9yWZBWwGeigmPcIf4Kv/H2tbpjPnx1NPfteUDpYqg2tNmuL
N8AVAoGACgdsunX50Ug7wXikQeS4HEbQqKSDW9c7w4VzeySiGS910nyLTclTgn/e
O27eg8ZVLJ2V6+6yz0Sh2/+qN0ggLMtUfFjD89GOUvp550lqnQl/hfA+jZVPg5uw
xVAlrayJgS/kHjyZzkLZL7Lw2wl0lcf/5AyKUFEPB7d1bjrbw6o=
-----END RSA PRIVATE KEY-----
"""


def demo_environment(base_url: str, *, github_app: bool = False) -> dict[str, str]:
    """Environment variables that point Abacus at an emulator served at `base_url` (no trailing slash needed).

    With `github_app=True` the GitHub App variables replace `GITHUB_TOKEN`.
    """
    base = base_url.rstrip("/")
    env = {
        "ANTHROPIC_ADMIN_KEYS": ",".join(f"{label}={key}" for label, key in DEMO_ANTHROPIC_KEYS.items()),
        "ANTHROPIC_API_URL": f"{base}/anthropic",
        "CURSOR_ADMIN_KEYS": ",".join(f"{label}={key}" for label, key in DEMO_CURSOR_KEYS.items()),
        "CURSOR_API_URL": f"{base}/cursor",
        "GITHUB_ORG": DEMO_GITHUB_ORG,
        "GITHUB_API_URL": f"{base}/github",
        "GITHUB_WEBHOOK_SECRET": DEMO_GITHUB_WEBHOOK_SECRET,
        "COPILOT_ENABLED": "1",
        "ABACUS_PROVIDER_PACING_MS": "0",
    }
    if github_app:
        env["GITHUB_APP_ID"] = str(DEMO_GITHUB_APP_ID)
        env["GITHUB_APP_INSTALLATION_ID"] = str(DEMO_GITHUB_INSTALLATION_ID)
        env["GITHUB_APP_PRIVATE_KEY"] = DEMO_GITHUB_APP_PRIVATE_KEY
    else:
        env["GITHUB_TOKEN"] = DEMO_GITHUB_TOKEN
    return env


# --------------------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class EmulatorConfig:
    """Knobs of the synthetic company. `today`/`now` default to the real UTC clock."""

    seed: int = 7
    users: int = 40
    days: int = 90
    today: date | None = None
    now: Callable[[], datetime] | None = None
    max_page_size: int | None = None
    repos: int = 5
    commits: int = 3000
    domain: str = "example.com"
    lag: bool = True
    github_rate_limit: int = 5000


TOOL_CLAUDE_CODE = "claude_code"
TOOL_CURSOR = "cursor"
TOOL_COPILOT = "github_copilot"
COPILOT_FIRST_REPORT_DAY = date(2025, 10, 10)  # GitHub's per-user reports exist from this day
COPILOT_REPORT_DELAY = timedelta(hours=2)  # a day's report is published this long after the day ends
_COPILOT_IDES = ("vscode", "jetbrains", "visualstudio", "neovim")
_COPILOT_FEATURES = ("code_completion", "chat_panel_ask_mode", "chat_panel_agent_mode", "chat_inline")
_COPILOT_MODELS = ("gpt-4.1", "claude-sonnet-4.5", "gpt-5-mini")
ACTIVITY_COUNTS = (
    "sessions",
    "lines_added",
    "lines_removed",
    "suggested",
    "accepted",
    "requests",
    "commits",
    "pull_requests",
)
ANTHROPIC_REPORT_LAG = timedelta(hours=1)
CENT = Decimal("0.01")

# --------------------------------------------------------------------------------------------------------------
# People

_NAME_POOL: tuple[tuple[str, str], ...] = (
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Katherine", "Johnson"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Margaret", "Hamilton"),
    ("Dennis", "Ritchie"),
    ("Ken", "Thompson"),
    ("Frances", "Allen"),
    ("John", "Backus"),
    ("Radia", "Perlman"),
    ("Leslie", "Lamport"),
    ("Tony", "Hoare"),
    ("Niklaus", "Wirth"),
    ("Hedy", "Lamarr"),
    ("Claude", "Shannon"),
    ("John", "McCarthy"),
    ("Adele", "Goldberg"),
    ("Alan", "Kay"),
    ("Jean", "Bartik"),
    ("Annie", "Easley"),
    ("Dorothy", "Vaughan"),
    ("Mary", "Jackson"),
    ("Karen", "Jones"),
    ("Shafi", "Goldwasser"),
    ("Silvio", "Micali"),
    ("Whitfield", "Diffie"),
    ("Martin", "Hellman"),
    ("Ivan", "Sutherland"),
    ("Douglas", "Engelbart"),
    ("Lynn", "Conway"),
    ("Sophie", "Wilson"),
    ("Steve", "Furber"),
    ("Ward", "Cunningham"),
    ("Kent", "Beck"),
    ("Rob", "Pike"),
    ("Brian", "Kernighan"),
    ("Joan", "Clarke"),
    ("Betty", "Holberton"),
    ("Kathleen", "Booth"),
    ("Butler", "Lampson"),
    ("Robin", "Milner"),
    ("Peter", "Naur"),
    ("Ralph", "Merkle"),
    ("Judea", "Pearl"),
    ("Evelyn", "Berezin"),
    ("Fran", "Bilas"),
)


@dataclass(frozen=True)
class Person:
    """One employee. `email` is the work address; `commit_email` what their git commits carry."""

    index: int
    first: str
    last: str
    name: str
    email: str
    intensity: float
    uses_claude: bool
    anthropic_orgs: tuple[str, ...]
    cursor_team: str | None
    github_login: str | None
    github_id: int | None
    commit_email: str
    verified_domain_email: bool
    org_member: bool
    ai_mix: tuple[tuple[str | None, float], ...]


@dataclass(frozen=True)
class AnthropicUser:
    id: str
    email: str
    name: str
    role: str
    added_at: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "type": "user",
            "added_at": self.added_at,
        }


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    created_by: str
    created_at: str
    status: str
    workspace_id: str | None
    partial_key_hint: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "created_by": {"id": self.created_by, "type": "user"},
            "partial_key_hint": self.partial_key_hint,
            "status": self.status,
            "workspace_id": self.workspace_id,
            "type": "api_key",
        }


@dataclass(frozen=True)
class ApiKeyUsage:
    """An `api_actor` that shows up in the usage report under `key_name` (which may match no key at all)."""

    key_name: str
    daily_probability: float
    intensity: float
    weekdays_only: bool
    until: date | None = None


@dataclass
class AnthropicOrg:
    label: str
    admin_key: str
    organization_id: str
    customer_type: str
    people: list[Person]
    users: list[AnthropicUser]
    api_keys: list[ApiKey]
    api_usage: list[ApiKeyUsage]

    def user_by_email(self, email: str) -> AnthropicUser | None:
        return next((u for u in self.users if u.email == email), None)


@dataclass
class CursorTeam:
    label: str
    admin_key: str
    team_id: int
    people: list[Person]  # the members who use Cursor
    idle_members: list[Person] = field(default_factory=list)  # members with a seat who never use it

    @property
    def members(self) -> list[Person]:
        """Everyone on the team's member list (C2): the users, then the idle seats."""
        return [*self.people, *self.idle_members]


@dataclass(frozen=True)
class Repo:
    id: int
    name: str
    full_name: str
    default_branch: str
    archived: bool
    weight: float
    created_at: str
    archived_on: date | None

    def wire(self, org_id: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": f"R_kgDO{self.id}",
            "name": self.name,
            "full_name": self.full_name,
            "private": True,
            "owner": {"login": self.full_name.split("/")[0], "id": org_id, "type": "Organization"},
            "html_url": f"https://github.com/{self.full_name}",
            "description": None,
            "fork": False,
            "created_at": self.created_at,
            "archived": self.archived,
            "disabled": False,
            "visibility": "private",
            "default_branch": self.default_branch,
        }


@dataclass(frozen=True)
class Commit:
    """One commit on a repo's default branch; `ai_tool` is what docs/providers.md §4.7 makes of its message/author."""

    repo: str
    sha: str
    parents: tuple[str, ...]
    message: str
    author_name: str
    author_email: str
    author_date: datetime
    committer_name: str
    committer_email: str
    committer_date: datetime
    author_login: str | None
    author_id: int | None
    author_type: str
    additions: int
    deletions: int
    ai_tool: str | None
    utc_offset_minutes: int

    @property
    def is_merge(self) -> bool:
        return len(self.parents) >= 2

    @property
    def is_bot(self) -> bool:
        return self.author_type == "Bot"


@dataclass(frozen=True)
class GitHubMember:
    login: str
    id: int
    verified_emails: tuple[str, ...]


@dataclass(frozen=True)
class GitHubTeam:
    """A team of the demo org: members are (login, id); `maintainers` (logins) are its leads."""

    id: int
    slug: str
    name: str
    members: tuple[tuple[str, int], ...]
    maintainers: frozenset[str]


DEMO_TEAMS = (("platform", "Platform"), ("mobile", "Mobile"), ("data", "Data"), ("web", "Web"))


@dataclass(frozen=True)
class CopilotSeat:
    """A Copilot seat of the demo org: its holder's GitHub account, plan and dates. `person` is None for an
    account that is no employee (the contractor, whose login maps to nobody); `idle` holders never use it."""

    login: str
    user_id: int
    person: Person | None
    plan_type: str
    team_slug: str | None
    created_at: datetime
    idle: bool
    intensity: float

    def wire(self, last_activity_at: datetime | None) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None

        return {
            "created_at": iso(self.created_at),
            "updated_at": iso(self.created_at),
            "pending_cancellation_date": None,
            "last_activity_at": iso(last_activity_at),
            "last_activity_editor": "vscode/1.106.0/copilot-chat/0.33.0" if last_activity_at else None,
            "plan_type": self.plan_type,
            "assignee": {"login": self.login, "id": self.user_id, "type": "User", "site_admin": False},
            "assigning_team": {"slug": self.team_slug, "name": self.team_slug.title()} if self.team_slug else None,
        }


@dataclass(frozen=True)
class ClaudeRecord:
    """One Claude Code analytics record at full-day volume; the report scales it down while the day is young."""

    org_label: str
    day: date
    actor_type: str
    actor: str
    customer_type: str
    terminal_type: str
    sessions: int
    lines_added: int
    lines_removed: int
    commits: int
    pull_requests: int
    breakdown: tuple[tuple[str, int, int, int, int], ...]  # (raw model, input, output, cache_read, cache_creation)


@dataclass(frozen=True)
class CursorEvent:
    team: str
    timestamp_ms: int
    email: str | None
    model: str
    kind: str
    max_mode: bool
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int | None
    cache_read_tokens: int | None
    total_cents: Decimal | None
    has_token_usage: bool
    lag_minutes: int
    owning_user: int

    @property
    def token_total(self) -> int:
        return self.input_tokens + self.output_tokens + (self.cache_write_tokens or 0) + (self.cache_read_tokens or 0)

    def wire(self) -> dict[str, Any]:
        event: dict[str, Any] = {"timestamp": str(self.timestamp_ms)}
        if self.email is not None:
            event["userEmail"] = self.email
        event.update(
            {
                "model": self.model,
                "kind": self.kind,
                "kindLabel": _CURSOR_KIND_LABELS[self.kind],
                "maxMode": self.max_mode,
                "requestsCosts": 2 if self.max_mode else 1,
                "isTokenBasedCall": self.total_cents is not None,
                "isChargeable": self.total_cents is not None,
                "owningUser": str(self.owning_user),
                "owningTeam": str(_CURSOR_TEAM_IDS[self.team]),
            }
        )
        if self.has_token_usage:
            usage: dict[str, Any] = {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens}
            if self.cache_write_tokens is not None:
                usage["cacheWriteTokens"] = self.cache_write_tokens
            if self.cache_read_tokens is not None:
                usage["cacheReadTokens"] = self.cache_read_tokens
            if self.total_cents is not None:
                usage["totalCents"] = float(self.total_cents)
            usage["discountPercentOff"] = 0
            event["tokenUsage"] = usage
        event["usageBasedCosts"] = f"${self.total_cents / 100:.2f}" if self.total_cents is not None else "-"
        return event


_CURSOR_TEAM_IDS = {"core": 71001, "mobile": 71002}
_CURSOR_KIND_LABELS = {
    "USAGE_EVENT_KIND_USAGE_BASED": "Usage-based",
    "USAGE_EVENT_KIND_INCLUDED_IN_BUSINESS": "Included in Business",
    "USAGE_EVENT_KIND_ERRORED_NOT_CHARGED": "Errored, Not Charged",
}

# --------------------------------------------------------------------------------------------------------------
# Models

# (raw model, first day it is used, weight)
_CLAUDE_CODE_MODELS: tuple[tuple[str, date, float], ...] = (
    ("claude-sonnet-4-5-20250929", date(2025, 9, 29), 0.55),
    ("claude-opus-4-5-20251101", date(2025, 11, 24), 0.3),
    ("claude-haiku-4-5-20251001", date(2025, 10, 15), 0.15),
    ("claude-sonnet-4-20250514", date(2025, 5, 14), 0.25),
    ("claude-opus-4-1-20250805", date(2025, 8, 5), 0.1),
)
_CLAUDE_CODE_RETIRED = {"claude-sonnet-4-20250514": date(2025, 12, 1), "claude-opus-4-1-20250805": date(2025, 12, 1)}

_CURSOR_MODELS: tuple[tuple[str, float], ...] = (
    ("claude-4.5-sonnet-thinking", 0.3),
    ("gpt-5", 0.14),
    ("default", 0.16),
    ("composer-1", 0.14),
    ("claude-4-sonnet (T)", 0.06),
    ("claude-4.5-opus-high-thinking", 0.1),
    ("gpt-5-codex", 0.06),
    ("gemini-2.5-pro", 0.04),
)
_TERMINALS = ("vscode", "iTerm.app", "Apple_Terminal", "tmux", "ghostty", "WarpTerminal", "cursor", "jetbrains")


def _day_of_ms(epoch_ms: int) -> date:
    clamped = min(max(epoch_ms, 0), 253_402_300_799_000)  # 9999-12-31T23:59:59Z
    return datetime.fromtimestamp(clamped / 1000, UTC).date()


def cursor_stored_raw_model(model: str) -> str:
    """The raw model the sync stores for a Cursor event (`default` is rewritten to `auto`, docs/providers.md §1)."""
    return "auto" if model == "default" else model


def cents_for(raw_model: str, input_tokens: int, cache_write: int, cache_read: int, output: int) -> Decimal:
    """Provider-side cost in US cents, fixed at two decimals so sums of cents/100 are exact Decimals."""
    dollars = price_tokens(normalize_model_name(raw_model), input_tokens, cache_write, cache_read, output)
    return (Decimal(dollars) * 100).quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------------------------
# Commit messages


@dataclass(frozen=True)
class AttributionExample:
    """A row of docs/providers.md §4.7's examples table, as a commit the GitHub emulator serves."""

    message: str
    tools: tuple[str, ...]
    model: str | None = None
    source: str | None = None
    author: str = "person"  # "person" or "copilot-swe-agent"
    merge: bool = False

    @property
    def primary_tool(self) -> str | None:
        return self.tools[0] if self.tools else None


_GENERATED = "🤖 Generated with [Claude Code](https://claude.com/claude-code)"
ATTRIBUTION_EXAMPLES: tuple[AttributionExample, ...] = (
    AttributionExample(
        "Fix bug\n\nCo-Authored-By: Claude <noreply@anthropic.com>", ("claude_code",), None, "co_author"
    ),
    AttributionExample(
        "Add retry to the export job\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
        ("claude_code",),
        "opus-4.5",
        "co_author",
    ),
    AttributionExample(
        "Speed up dashboard query\n\nCo-authored-by: Claude Sonnet 4.5 <noreply@anthropic.com>",
        ("claude_code",),
        "sonnet-4.5",
        "co_author",
    ),
    AttributionExample(
        "Tidy error handling\n\nCo-Authored-By: Claude Code <noreply@anthropic.com>",
        ("claude_code",),
        None,
        "co_author",
    ),
    AttributionExample(
        "Summarise long audit logs\n\nCo-Authored-By: Claude Sonnet 4.5 (1M context) <noreply@anthropic.com>",
        ("claude_code",),
        "sonnet-4.5",
        "co_author",
    ),
    AttributionExample(
        f"Add usage export\n\n{_GENERATED}\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
        ("claude_code",),
        "opus-4.5",
        "co_author",
    ),
    AttributionExample(_GENERATED, ("claude_code",), None, "message_pattern"),
    AttributionExample("Written using Claude", ("claude_code",), None, "message_pattern"),
    AttributionExample("Co-Authored-By: Claude <claude@users.noreply.github.com>", ()),
    AttributionExample("Co-Authored-By:Claude <noreply@anthropic.com>", ()),
    AttributionExample("Co-authored-by: Codex <codex@openai.com>", ("codex",), None, "co_author"),
    AttributionExample("Codex assisted refactor", ("codex",), None, "message_pattern"),
    AttributionExample(
        "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>", ("github_copilot",), None, "co_author"
    ),
    AttributionExample("Co-authored-by: GitHub Copilot <copilot@github.com>", ("github_copilot",), None, "co_author"),
    AttributionExample("Accepted Copilot suggestion", ("github_copilot",), None, "message_pattern"),
    AttributionExample("Co-authored-by: Cursor Agent <cursoragent@cursor.com>", ("cursor",), None, "co_author"),
    AttributionExample("Fix cursor completion popup", ("cursor",), None, "message_pattern"),
    AttributionExample("Co-authored-by: Windsurf <windsurf@codeium.com>", ("windsurf",), None, "co_author"),
    AttributionExample("Co-authored-by: Codeium <bot@codeium.com>", ("windsurf",), None, "co_author"),
    AttributionExample("Initial plan", ("github_copilot",), None, "author_field", author="copilot-swe-agent"),
    AttributionExample(
        "Co-Authored-By: Claude <noreply@anthropic.com>\nCo-authored-by: Cursor <cursoragent@cursor.com>",
        ("claude_code", "cursor"),
        None,
        "co_author",
    ),
    AttributionExample("Co-authored-by: aider (gpt-4o) <aider@aider.chat>", ()),
    AttributionExample("Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>", ()),
    AttributionExample("Co-authored-by: Gemini <gemini@google.com>", ()),
    AttributionExample("Merge pull request #12 from x/y", (), merge=True),
)

_AI_TRAILERS: dict[str, tuple[str, ...]] = {
    "claude_code": (
        f"\n\n{_GENERATED}\n\nCo-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>",
        f"\n\n{_GENERATED}\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>",
        "\n\nCo-Authored-By: Claude Sonnet 4.5 <noreply@anthropic.com>",
        "\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
        f"\n\n{_GENERATED}",
    ),
    "cursor": ("\n\nCo-authored-by: Cursor Agent <cursoragent@cursor.com>",),
    "github_copilot": ("\n\nCo-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",),
    "codex": ("\n\nCo-authored-by: Codex <codex@openai.com>",),
    "windsurf": ("\n\nCo-authored-by: Windsurf <windsurf@codeium.com>",),
}
_VERBS = (
    "Fix",
    "Add",
    "Refactor",
    "Update",
    "Remove",
    "Improve",
    "Handle",
    "Speed up",
    "Simplify",
    "Document",
    "Rename",
    "Test",
    "Harden",
    "Cache",
    "Split",
)
_OBJECTS = (
    "session refresh",
    "export pagination",
    "billing webhook retries",
    "dashboard query",
    "login redirect",
    "rate limiter",
    "CSV import",
    "user table sorting",
    "date picker",
    "error banner",
    "health check",
    "cache invalidation",
    "search index",
    "feature flags",
    "deploy script",
    "API client timeouts",
    "mobile onboarding",
    "push notifications",
    "audit log",
    "settings page",
    "invoice totals",
    "team filters",
    "token refresh",
    "background jobs",
    "metrics endpoint",
)
_BODIES = (
    "The previous approach double-counted retries.",
    "Keeps behaviour identical for existing callers.",
    "Follow-up to the review comments.",
    "Needed for the quarterly report.",
    "Covers the edge case reported by support.",
)
_PACKAGES = ("httpx", "sqlalchemy", "react", "eslint", "typescript", "pytest", "boto3", "webpack", "jinja2")

_DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "dependabot[bot]", 49699333)
_COPILOT_AGENT = ("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com", "Copilot", 198982749)
_EXTERNALS = (("Sam Outside", "sam@outside.dev"), ("Riley Freelance", "riley.freelance@gmail.com"))


# --------------------------------------------------------------------------------------------------------------
# The data set


class EmulatorDataset:
    """The synthetic company for one config; pure function of the seed except for the clock (visibility)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._clock_override: datetime | None = None
        self._lock = threading.RLock()
        self.anchor: date = config.today or self._base_now().date()
        self.first_day: date = self.anchor - timedelta(days=max(config.days, 1) - 1)
        self.people: list[Person] = self._build_people()
        self.anthropic_orgs: dict[str, AnthropicOrg] = self._build_anthropic_orgs()
        self.cursor_teams: dict[str, CursorTeam] = self._build_cursor_teams()
        self.github_org = DEMO_GITHUB_ORG
        self.github_org_id = 90210
        self.repos: list[Repo] = self._build_repos()
        self.github_members: list[GitHubMember] = self._build_members()
        self.github_teams: list[GitHubTeam] = self._build_teams()
        self.copilot_seats: list[CopilotSeat] = self._build_copilot_seats()
        self._copilot_days: dict[date, list[dict[str, Any]]] = {}
        self._examples_by_day: dict[tuple[str, date], list[tuple[int, AttributionExample]]] = self._place_examples()
        self._commit_authors = [p for p in self.people if p.github_login]
        self._commit_rate = self._base_commit_rate()
        self._claude_days: dict[date, list[ClaudeRecord]] = {}
        self._cursor_days: dict[date, list[CursorEvent]] = {}
        self._commit_days: dict[tuple[str, date], list[Commit]] = {}
        self._commit_index: dict[str, tuple[date, dict[str, Commit]]] = {}

    # ---- clock ------------------------------------------------------------------------------------------------

    def _base_now(self) -> datetime:
        if self.config.now is not None:
            value = self.config.now()
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.now(UTC)

    def now(self) -> datetime:
        """The emulators' current time: the clock override, else `config.now()`, else the real UTC clock."""
        return self._clock_override or self._base_now()

    def set_now(self, value: datetime | None) -> None:
        """Move the data clock (None returns to the configured/real clock)."""
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        self._clock_override = value

    @property
    def last_day(self) -> date:
        """Last day with data: the fixed `today`, or the current clock's day when `today` follows the clock."""
        if self.config.today is not None:
            return self.config.today
        return max(self.anchor, self.now().date())

    def days(self, start: date | None = None, end: date | None = None) -> Iterator[date]:
        day = max(start or self.first_day, self.first_day)
        stop = min(end or self.last_day, self.last_day)
        while day <= stop:
            yield day
            day += timedelta(days=1)

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join([str(self.config.seed), *map(str, parts)]))

    def _ident(self, prefix: str, *parts: object, length: int = 24) -> str:
        alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
        number = int.from_bytes(hashlib.sha256(":".join([str(self.config.seed), *map(str, parts)]).encode()).digest())
        chars = []
        for _ in range(length):
            number, rest = divmod(number, len(alphabet))
            chars.append(alphabet[rest])
        return prefix + "".join(chars)

    def stable_sha(self, *parts: object) -> str:
        """A 40-hex id that depends only on the seed and `parts`."""
        return hashlib.sha1(":".join([str(self.config.seed), *map(str, parts)]).encode()).hexdigest()

    def _weekday_factor(self, day: date) -> float:
        return 1.0 if day.weekday() < 5 else 0.15

    def _trend(self, day: date) -> float:
        span = max((self.anchor - self.first_day).days, 1)
        return 0.75 + 0.35 * min(max((day - self.first_day).days / span, 0.0), 1.0)

    # ---- static entities ----------------------------------------------------------------------------------------

    def _build_people(self) -> list[Person]:
        rng = self._rng("people")
        pool = list(_NAME_POOL)
        rng.shuffle(pool)
        names = [("Ada", "Lovelace"), *pool]
        extra = 2
        while len(names) < self.config.users:
            first, last = _NAME_POOL[len(names) % len(_NAME_POOL)]
            names.append((first, f"{last}{extra}"))
            extra += 1
        names = names[: max(self.config.users, 1)]
        used_ids: set[int] = set()
        people: list[Person] = []
        for index, (first, last) in enumerate(names):
            ada = index == 0
            local = "ada" if ada else f"{first}.{last}".lower().replace(" ", "")
            email = f"{local}@{self.config.domain}"
            intensity = 1.4 if ada else round(rng.choice((0.25, 0.5, 0.8, 1.0, 1.3)) * rng.uniform(0.8, 1.2), 3)
            uses_claude = ada or rng.random() < 0.8
            orgs: tuple[str, ...] = ()
            if uses_claude:
                orgs = ("acme",) if ada or index == 2 or rng.random() < 0.7 else ("labs",)
                if index == 1:
                    orgs = ("labs",)
                if rng.random() < 0.1 and index > 2:
                    orgs = ("acme", "labs")
            cursor_team = None
            if ada or rng.random() < 0.6:
                cursor_team = "core" if ada or rng.random() < 0.65 else "mobile"
            has_github = ada or rng.random() < 0.92
            login = gid = None
            commit_email = email
            verified = False
            member = False
            if has_github:
                style = 0 if ada else rng.randrange(4)
                login = (
                    (
                        f"{first}{last}"
                        if style == 0
                        else f"{first[0]}{last}"
                        if style == 1
                        else f"{first}-{last}"
                        if style == 2
                        else f"{last}{first[0]}{rng.randrange(10, 99)}"
                    )
                    .lower()
                    .replace(" ", "")
                )
                gid = 583231 if ada else rng.randrange(100_000, 90_000_000)
                while gid in used_ids:
                    gid += 1
                used_ids.add(gid)
                roll = 0.0 if ada else rng.random()
                if roll < 0.62:
                    commit_email = email
                elif roll < 0.85:
                    commit_email = f"{gid}+{login}@users.noreply.github.com"
                else:
                    commit_email = f"{first}.{last}.dev@gmail.com".lower()
                member = ada or rng.random() < 0.95
                verified = member and (ada or rng.random() < 0.85)
            claude_share = (0.45 if ada else rng.uniform(0.1, 0.5)) if uses_claude else 0.0
            cursor_share = rng.uniform(0.05, 0.3) if cursor_team else 0.0
            mix: tuple[tuple[str | None, float], ...] = (
                ("claude_code", claude_share),
                ("cursor", cursor_share),
                ("github_copilot", 0.06),
                ("codex", 0.03),
                ("windsurf", 0.01),
                (None, max(0.05, 1.0 - claude_share - cursor_share - 0.1)),
            )
            people.append(
                Person(
                    index=index,
                    first=first,
                    last=last,
                    name=f"{first} {last}",
                    email=email,
                    intensity=intensity,
                    uses_claude=uses_claude,
                    anthropic_orgs=orgs,
                    cursor_team=cursor_team,
                    github_login=login,
                    github_id=gid,
                    commit_email=commit_email,
                    verified_domain_email=verified,
                    org_member=member,
                    ai_mix=mix,
                )
            )
        return people

    def _build_anthropic_orgs(self) -> dict[str, AnthropicOrg]:
        rng = self._rng("anthropic-orgs")
        orgs: dict[str, AnthropicOrg] = {}
        for label, customer_type in (("acme", "subscription"), ("labs", "api")):
            members = [p for p in self.people if label in p.anthropic_orgs] or [self.people[0]]
            users = []
            for position, person in enumerate(members):
                added = self.first_day - timedelta(days=200 - position * 3)
                users.append(
                    AnthropicUser(
                        id=self._ident("user_", label, person.email),
                        email=person.email,
                        name=person.name,
                        role="admin" if position == 0 else rng.choice(("developer", "user", "claude_code_user")),
                        added_at=f"{added.isoformat()}T09:00:00Z",
                    )
                )
            organization_id = str(
                uuid.UUID(bytes=hashlib.sha256(f"{self.config.seed}:org:{label}".encode()).digest()[:16], version=4)
            )
            orgs[label] = AnthropicOrg(
                label=label,
                admin_key=DEMO_ANTHROPIC_KEYS[label],
                organization_id=organization_id,
                customer_type=customer_type,
                people=members,
                users=users,
                api_keys=[],
                api_usage=[],
            )
        self._add_api_keys(orgs)
        return orgs

    def _add_api_keys(self, orgs: dict[str, AnthropicOrg]) -> None:
        def key(org: AnthropicOrg, name: str, creator: str, status: str, days_ago: int) -> ApiKey:
            created = self.first_day - timedelta(days=days_ago)
            key_id = self._ident("apikey_", org.label, name, status, creator)
            return ApiKey(
                id=key_id,
                name=name,
                created_by=creator,
                created_at=f"{created.isoformat()}T12:00:00Z",
                status=status,
                workspace_id=None if status == "archived" else f"wrkspc_{key_id[-10:]}",
                partial_key_hint=f"sk-ant-api03-{key_id[7:10]}...{key_id[-4:]}AA",
            )

        def creator(org: AnthropicOrg, position: int) -> str:
            return org.users[position % len(org.users)].id

        retired = self.first_day + timedelta(days=max(self.config.days // 3, 1))
        acme = orgs["acme"]
        ada_first = self.people[0].first.lower()
        acme.api_keys = [
            key(acme, f"{ada_first}-laptop", creator(acme, 0), "active", 40),
            key(acme, "ci-pipeline", creator(acme, 1), "active", 30),
            key(acme, "ci-pipeline", creator(acme, 2), "archived", 120),  # name clash: the active key wins
            key(acme, "legacy-deploy", creator(acme, 3), "archived", 150),
            key(acme, "paused-bot", creator(acme, 4), "inactive", 60),
            key(acme, "orphan-script", self._ident("user_", "acme", "departed-contractor"), "active", 90),
        ]
        acme.api_usage = [
            ApiKeyUsage(f"{ada_first}-laptop", 0.5, 0.6, weekdays_only=True),
            ApiKeyUsage("ci-pipeline", 0.9, 0.9, weekdays_only=True),
            ApiKeyUsage("legacy-deploy", 0.6, 0.4, weekdays_only=False, until=retired),
            ApiKeyUsage("paused-bot", 0.5, 0.3, weekdays_only=False),
            ApiKeyUsage("orphan-script", 0.6, 0.3, weekdays_only=True),
            ApiKeyUsage("shared-ci-runner", 0.7, 0.5, weekdays_only=False),  # no key has this name
        ]
        labs = orgs["labs"]
        labs.api_keys = [
            key(labs, "eval-harness", creator(labs, 0), "active", 45),
            key(labs, "notebook-sandbox", creator(labs, 1), "inactive", 70),
            key(labs, "old-experiments", creator(labs, 2), "archived", 160),
        ]
        labs.api_usage = [
            ApiKeyUsage("eval-harness", 0.8, 0.8, weekdays_only=False),
            ApiKeyUsage("notebook-sandbox", 0.4, 0.3, weekdays_only=True),
            ApiKeyUsage("old-experiments", 0.6, 0.3, weekdays_only=True, until=retired),
        ]

    def _build_cursor_teams(self) -> dict[str, CursorTeam]:
        """Each team's Cursor users, plus a few people who hold a seat and never use it (two on core, one on mobile,
        taken from the people on no Cursor team) so the seats page has idle Cursor seats to show."""
        spare = [p for p in self.people if p.cursor_team is None]
        idle = {"core": spare[:2], "mobile": spare[2:3]}
        return {
            label: CursorTeam(
                label=label,
                admin_key=DEMO_CURSOR_KEYS[label],
                team_id=_CURSOR_TEAM_IDS[label],
                people=[p for p in self.people if p.cursor_team == label],
                idle_members=idle[label],
            )
            for label in ("core", "mobile")
        }

    def _build_repos(self) -> list[Repo]:
        specs = [
            ("web", "main", False, 0.35),
            ("infra", "trunk", False, 0.12),
            ("legacy", "main", True, 0.1),
            ("api", "main", False, 0.28),
            ("mobile", "main", False, 0.15),
        ]
        count = max(self.config.repos, 1)
        for extra in range(len(specs), count):
            specs.append((f"service-{extra - len(specs) + 1}", "main", False, 0.08))
        archived_on = self.first_day + timedelta(days=max((self.config.days * 2) // 3, 1))
        repos = []
        for position, (name, branch, archived, weight) in enumerate(specs[:count]):
            repos.append(
                Repo(
                    id=700_000_000 + position * 1117,
                    name=name,
                    full_name=f"{DEMO_GITHUB_ORG}/{name}",
                    default_branch=branch,
                    archived=archived,
                    weight=weight,
                    created_at=f"{(self.first_day - timedelta(days=400 + position * 30)).isoformat()}T10:00:00Z",
                    archived_on=archived_on if archived else None,
                )
            )
        return repos

    def _build_members(self) -> list[GitHubMember]:
        members = [
            GitHubMember(p.github_login, p.github_id, (p.email,) if p.verified_domain_email else ())
            for p in self.people
            if p.github_login and p.github_id and p.org_member
        ]
        members.append(GitHubMember("acme-contractor", 31337001, ()))
        return sorted(members, key=lambda m: m.id)

    def _build_teams(self) -> list[GitHubTeam]:
        """Four teams over the org members, round robin; every fifth person is also in the next team (people in two
        teams), each team's first member is its maintainer (lead), and the contractor (no email) is in Platform."""
        people = [m for m in self.github_members if m.login != "acme-contractor"]
        rosters: list[list[tuple[str, int]]] = [[] for _ in DEMO_TEAMS]
        for i, member in enumerate(people):
            rosters[i % len(DEMO_TEAMS)].append((member.login, member.id))
            if i % 5 == 0:
                rosters[(i + 1) % len(DEMO_TEAMS)].append((member.login, member.id))
        contractor = next((m for m in self.github_members if m.login == "acme-contractor"), None)
        if contractor is not None:
            rosters[0].append((contractor.login, contractor.id))
        return [
            GitHubTeam(
                id=4200 + n,
                slug=slug,
                name=name,
                members=tuple(roster),
                maintainers=frozenset({roster[0][0]}) if roster else frozenset(),
            )
            for n, ((slug, name), roster) in enumerate(zip(DEMO_TEAMS, rosters, strict=True))
        ]

    def repo(self, full_name: str) -> Repo | None:
        return next((r for r in self.repos if r.full_name.lower() == full_name.lower()), None)

    def person_by_email(self, email: str) -> Person | None:
        return next((p for p in self.people if p.email == email.lower()), None)

    # ---- Anthropic -------------------------------------------------------------------------------------------

    def _claude_day(self, day: date) -> list[ClaudeRecord]:
        cached = self._claude_days.get(day)
        if cached is not None:
            return cached
        rng = self._rng("anthropic", day.isoformat())
        factor = self._weekday_factor(day) * self._trend(day) * rng.uniform(0.85, 1.15)
        models = [
            (m, w)
            for m, since, w in _CLAUDE_CODE_MODELS
            if since <= day and day < _CLAUDE_CODE_RETIRED.get(m, date.max)
        ]
        records: list[ClaudeRecord] = []
        for org in self.anthropic_orgs.values():
            for person in org.people:
                if not person.uses_claude:
                    continue
                if rng.random() >= min(0.97, (0.35 + 0.45 * person.intensity) * factor):
                    continue
                terminals = rng.sample(_TERMINALS, 2 if rng.random() < 0.15 else 1)
                for terminal in terminals:
                    records.append(
                        self._claude_record(
                            rng,
                            org,
                            day,
                            "user_actor",
                            person.email,
                            org.customer_type,
                            terminal,
                            person.intensity,
                            models,
                        )
                    )
            for usage in org.api_usage:
                if usage.until is not None and day >= usage.until:
                    continue
                chance = usage.daily_probability * (self._weekday_factor(day) if usage.weekdays_only else 1.0)
                if rng.random() < chance:
                    records.append(
                        self._claude_record(
                            rng,
                            org,
                            day,
                            "api_actor",
                            usage.key_name,
                            "api",
                            "non-interactive",
                            usage.intensity,
                            models,
                        )
                    )
        with self._lock:
            self._claude_days[day] = records
        return records

    def _claude_record(
        self,
        rng: random.Random,
        org: AnthropicOrg,
        day: date,
        actor_type: str,
        actor: str,
        customer_type: str,
        terminal: str,
        intensity: float,
        models: list[tuple[str, float]],
    ) -> ClaudeRecord:
        chosen: list[str] = []
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            model = rng.choices([m for m, _ in models], weights=[w for _, w in models])[0]
            if model not in chosen:
                chosen.append(model)
        breakdown = []
        for model in chosen:
            scale = intensity * rng.uniform(0.3, 1.7) / len(chosen)
            breakdown.append(
                (
                    model,
                    int(scale * rng.uniform(2_000, 40_000)),
                    int(scale * rng.uniform(5_000, 80_000)),
                    int(scale * rng.uniform(300_000, 6_000_000)),
                    int(scale * rng.uniform(50_000, 400_000)),
                )
            )
        lines = int(intensity * rng.uniform(20, 900))
        return ClaudeRecord(
            org_label=org.label,
            day=day,
            actor_type=actor_type,
            actor=actor,
            customer_type=customer_type,
            terminal_type=terminal,
            sessions=rng.randint(1, 12),
            lines_added=lines,
            lines_removed=int(lines * rng.uniform(0.1, 0.7)),
            commits=rng.randint(0, 6),
            pull_requests=rng.randint(0, 2),
            breakdown=tuple(breakdown),
        )

    def _anthropic_fraction(self, day: date, now: datetime) -> tuple[int, int]:
        """Visible share of `day` as (seconds, 86400): the report covers the day up to `now - 1 h` (lag)."""
        cutoff = now - ANTHROPIC_REPORT_LAG if self.config.lag else now
        start = datetime.combine(day, time(0), tzinfo=UTC)
        seconds = int((cutoff - start).total_seconds())
        return min(max(seconds, 0), 86_400), 86_400

    def claude_code_report(self, org_label: str, day: date) -> list[dict[str, Any]]:
        """A1 `data[]` for one org and UTC day as visible at `now` (all records, before pagination)."""
        if day < self.first_day or day > self.last_day or org_label not in self.anthropic_orgs:
            return []
        seen, whole = self._anthropic_fraction(day, self.now())
        if seen == 0:
            return []
        org = self.anthropic_orgs[org_label]
        out = []
        for record in self._claude_day(day):
            if record.org_label != org_label:
                continue
            out.append(self._claude_wire(org, record, seen, whole))
        return out

    @staticmethod
    def _scaled(value: int, seen: int, whole: int) -> int:
        return value if seen >= whole else value * seen // whole

    def _claude_wire(self, org: AnthropicOrg, record: ClaudeRecord, seen: int, whole: int) -> dict[str, Any]:
        def s(value: int) -> int:
            return self._scaled(value, seen, whole)

        actor: dict[str, Any] = (
            {"type": "user_actor", "email_address": record.actor}
            if record.actor_type == "user_actor"
            else {"type": "api_actor", "api_key_name": record.actor}
        )
        breakdown = []
        for model, input_tokens, output, cache_read, cache_creation in record.breakdown:
            i, o, cr, cw = s(input_tokens), s(output), s(cache_read), s(cache_creation)
            breakdown.append(
                {
                    "model": model,
                    "tokens": {"input": i, "output": o, "cache_read": cr, "cache_creation": cw},
                    "estimated_cost": {"currency": "USD", "amount": float(cents_for(model, i, cw, cr, o))},
                }
            )
        edits = s(record.lines_added // 10)
        return {
            "date": f"{record.day.isoformat()}T00:00:00Z",
            "actor": actor,
            "organization_id": org.organization_id,
            "customer_type": record.customer_type,
            "terminal_type": record.terminal_type,
            "core_metrics": {
                "num_sessions": max(s(record.sessions), 1),
                "lines_of_code": {"added": s(record.lines_added), "removed": s(record.lines_removed)},
                "commits_by_claude_code": s(record.commits),
                "pull_requests_by_claude_code": s(record.pull_requests),
            },
            "tool_actions": {
                "edit_tool": {"accepted": edits, "rejected": edits // 6},
                "multi_edit_tool": {"accepted": edits // 3, "rejected": edits // 15},
                "write_tool": {"accepted": edits // 2, "rejected": edits // 10},
                "notebook_edit_tool": {"accepted": 0, "rejected": 0},
            },
            "model_breakdown": breakdown,
        }

    # ---- Cursor ----------------------------------------------------------------------------------------------

    def _cursor_day(self, day: date) -> list[CursorEvent]:
        cached = self._cursor_days.get(day)
        if cached is not None:
            return cached
        rng = self._rng("cursor", day.isoformat())
        factor = self._weekday_factor(day) * self._trend(day) * rng.uniform(0.85, 1.15)
        start_ms = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)
        force_twin = day.toordinal() % 4 == 0
        events: list[CursorEvent] = []
        for team in self.cursor_teams.values():
            for person in team.people:
                if rng.random() >= min(0.95, (0.3 + 0.5 * person.intensity) * factor):
                    continue
                for _ in range(max(1, int(rng.gauss(14 * person.intensity, 4)))):
                    event = self._cursor_event(rng, team.label, person.email, start_ms, person.index)
                    events.append(event)
                    if force_twin or rng.random() < 0.01:
                        force_twin = False
                        events.append(self._cursor_twin(rng, event))
            if team.label == "core" and (day.toordinal() % 7 == 0 or day == self.anchor - timedelta(days=1)):
                # an event without userEmail (stored as unmapped:cursor:unknown by the sync)
                events.append(
                    self._cursor_event(rng, team.label, None, start_ms, 0, kind="USAGE_EVENT_KIND_USAGE_BASED")
                )
        events.sort(key=lambda e: (e.timestamp_ms, e.email or "", e.model, e.input_tokens))
        with self._lock:
            self._cursor_days[day] = events
        return events

    def _cursor_event(
        self, rng: random.Random, team: str, email: str | None, start_ms: int, owner: int, kind: str | None = None
    ) -> CursorEvent:
        hour = min(max(rng.gauss(14.5, 3.5), 0.0), 23.999)
        timestamp = start_ms + int(hour * 3_600_000) + rng.randrange(60_000)
        timestamp = min(timestamp, start_ms + 86_400_000 - 1)
        model = rng.choices([m for m, _ in _CURSOR_MODELS], weights=[w for _, w in _CURSOR_MODELS])[0]
        if kind is None:
            roll = rng.random()
            kind = (
                "USAGE_EVENT_KIND_ERRORED_NOT_CHARGED"
                if roll < 0.05
                else "USAGE_EVENT_KIND_INCLUDED_IN_BUSINESS"
                if roll < 0.5
                else "USAGE_EVENT_KIND_USAGE_BASED"
            )
        lag = rng.randint(0, 60)
        if kind == "USAGE_EVENT_KIND_ERRORED_NOT_CHARGED":
            has_usage = rng.random() < 0.5
            return CursorEvent(
                team,
                timestamp,
                email,
                model,
                kind,
                False,
                0,
                0,
                0 if has_usage else None,
                None,
                None,
                has_usage,
                lag,
                4_000_000 + owner,
            )
        input_tokens = int(rng.uniform(300, 30_000))
        output_tokens = int(rng.uniform(50, 8_000))
        cache_read = int(rng.uniform(0, 250_000)) if rng.random() < 0.7 else None
        cache_write = int(rng.uniform(0, 20_000)) if rng.random() < 0.4 else None
        max_mode = rng.random() < 0.1
        cents = None
        if kind == "USAGE_EVENT_KIND_USAGE_BASED":
            cents = cents_for(model, input_tokens, cache_write or 0, cache_read or 0, output_tokens)
        return CursorEvent(
            team,
            timestamp,
            email,
            model,
            kind,
            max_mode,
            input_tokens,
            output_tokens,
            cache_write,
            cache_read,
            cents,
            True,
            lag,
            4_000_000 + owner,
        )

    def _cursor_twin(self, rng: random.Random, event: CursorEvent) -> CursorEvent:
        """A second event of the same user, model and millisecond with other token counts (docs/providers.md §3.3)."""
        input_tokens = event.input_tokens + rng.randint(1, 5_000)
        output_tokens = event.output_tokens + rng.randint(1, 500)
        cents = None
        if event.total_cents is not None:
            cents = cents_for(
                event.model, input_tokens, event.cache_write_tokens or 0, event.cache_read_tokens or 0, output_tokens
            )
        return CursorEvent(
            event.team,
            event.timestamp_ms,
            event.email,
            event.model,
            event.kind,
            event.max_mode,
            input_tokens,
            output_tokens,
            event.cache_write_tokens,
            event.cache_read_tokens,
            cents,
            True,
            event.lag_minutes,
            event.owning_user,
        )

    def _cursor_visible(self, event: CursorEvent, now_ms: int) -> bool:
        lag = event.lag_minutes * 60_000 if self.config.lag else 0
        return event.timestamp_ms + lag <= now_ms

    def cursor_events(self, team_label: str, start_ms: int, end_ms: int) -> list[CursorEvent]:
        """Events of a team with `start_ms <= timestamp <= end_ms` visible at `now`, newest first."""
        if team_label not in self.cursor_teams or end_ms < start_ms:
            return []
        now_ms = int(self.now().timestamp() * 1000)
        first = _day_of_ms(start_ms)
        last = _day_of_ms(end_ms)
        out = [
            event
            for day in self.days(first, last)
            for event in self._cursor_day(day)
            if event.team == team_label
            and start_ms <= event.timestamp_ms <= end_ms
            and self._cursor_visible(event, now_ms)
        ]
        out.reverse()
        return out

    def cursor_daily_usage(self, team_label: str, day: date) -> list[dict[str, Any]]:
        """C3 `data[]` of one team and UTC day as visible at `now`: a row per team member, derived from the
        member's visible events of that day (inactive members get zeros)."""
        team = self.cursor_teams.get(team_label)
        if team is None:
            return []
        day_ms = int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000)
        events = self.cursor_events(team_label, day_ms, day_ms + 86_400_000 - 1)
        rows = []
        for person in team.people:
            mine = [e for e in events if e.email == person.email]
            models = Counter(e.model for e in mine)
            lines = sum(e.output_tokens for e in mine) // 40
            rows.append(
                {
                    "date": day_ms,
                    "email": person.email,
                    "isActive": bool(mine),
                    "totalLinesAdded": lines,
                    "totalLinesDeleted": lines // 3,
                    "acceptedLinesAdded": lines * 2 // 3,
                    "acceptedLinesDeleted": lines // 5,
                    "totalApplies": len(mine),
                    "totalAccepts": len(mine) * 3 // 4,
                    "totalRejects": len(mine) // 4,
                    "totalTabsShown": len(mine) * 9,
                    "totalTabsAccepted": len(mine) * 3,
                    "composerRequests": len(mine) // 2,
                    "chatRequests": len(mine) // 3,
                    "agentRequests": len(mine) - len(mine) // 2 - len(mine) // 3,
                    "cmdkUsages": len(mine) // 5,
                    "subscriptionIncludedReqs": len(mine),
                    "apiKeyReqs": 0,
                    "usageBasedReqs": sum(e.total_cents is not None for e in mine),
                    "bugbotUsages": 0,
                    "mostUsedModel": models.most_common(1)[0][0] if models else None,
                    "applyMostUsedExtension": ".py" if mine else None,
                    "tabMostUsedExtension": ".ts" if mine else None,
                    "clientVersion": "2.0.77" if mine else None,
                }
            )
        return rows

    # ---- GitHub Copilot ---------------------------------------------------------------------------------------

    def _build_copilot_seats(self) -> list[CopilotSeat]:
        """About half the people with a GitHub account hold a seat (Cursor users too), a few of them idle, plus the
        contractor's seat (a login no mapping names)."""
        rng = self._rng("copilot", "seats")
        seats: list[CopilotSeat] = []
        for person in self.people:
            if not (person.github_login and person.github_id) or rng.random() >= 0.6:
                continue
            seats.append(
                CopilotSeat(
                    login=person.github_login,
                    user_id=person.github_id,
                    person=person,
                    plan_type="enterprise" if rng.random() < 0.25 else "business",
                    team_slug=rng.choice(("platform", "mobile", None)),
                    created_at=datetime.combine(
                        self.first_day - timedelta(days=rng.randint(5, 200)), time(9, rng.randint(0, 59)), tzinfo=UTC
                    ),
                    idle=False,
                    intensity=person.intensity,
                )
            )
        # every third seat's holder never uses it (at least one idle seat, at least two used ones)
        for position in range(2, len(seats), 3):
            seats[position] = replace(seats[position], idle=True)
        seats.append(
            CopilotSeat(
                "acme-contractor",
                31337001,
                None,
                "business",
                None,
                datetime.combine(self.first_day - timedelta(days=30), time(12), tzinfo=UTC),
                False,
                0.6,
            )
        )
        return sorted(seats, key=lambda seat: seat.user_id)

    def copilot_report_published(self, day: date) -> bool:
        """A day's per-user report exists once the day is over (+ 2 h with lag) and within the data set's days."""
        if day < max(self.first_day, COPILOT_FIRST_REPORT_DAY) or day > self.last_day:
            return False
        delay = COPILOT_REPORT_DELAY if self.config.lag else timedelta(0)
        return self.now() >= datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) + delay

    def copilot_report(self, day: date) -> list[dict[str, Any]]:
        """P1 NDJSON records of one day (one per active seat holder), whatever the clock (see `published`)."""
        cached = self._copilot_days.get(day)
        if cached is not None:
            return cached
        rng = self._rng("copilot", day.isoformat())
        factor = self._weekday_factor(day)
        records = []
        for seat in self.copilot_seats:
            if seat.idle or day < seat.created_at.date():
                continue
            if rng.random() >= min(0.95, (0.3 + 0.45 * seat.intensity) * factor):
                continue
            interactions = rng.randint(1, 40)
            generated = int(seat.intensity * rng.uniform(20, 400))
            accepted = int(generated * rng.uniform(0.2, 0.4))
            suggested_lines = int(generated * rng.uniform(1.5, 3.0))
            added = int(suggested_lines * rng.uniform(0.25, 0.45))
            ide = rng.choice(_COPILOT_IDES)
            records.append(
                {
                    "report_day": day.isoformat(),
                    "day": day.isoformat(),
                    "user_id": seat.user_id,
                    "user_login": seat.login,
                    "user_initiated_interaction_count": interactions,
                    "code_generation_activity_count": generated,
                    "code_acceptance_activity_count": accepted,
                    "loc_suggested_to_add_sum": suggested_lines,
                    "loc_suggested_to_delete_sum": suggested_lines // 8,
                    "loc_added_sum": added,
                    "loc_deleted_sum": added // 4,
                    "used_agent": rng.random() < 0.4,
                    "used_chat": rng.random() < 0.7,
                    "totals_by_ide": [
                        {
                            "ide": ide,
                            "user_initiated_interaction_count": interactions,
                            "code_generation_activity_count": generated,
                            "code_acceptance_activity_count": accepted,
                        }
                    ],
                    "totals_by_feature": [
                        {"feature": rng.choice(_COPILOT_FEATURES), "code_generation_activity_count": generated}
                    ],
                    "totals_by_model_feature": [
                        {
                            "model": rng.choice(_COPILOT_MODELS),
                            "feature": "code_completion",
                            "code_generation_activity_count": generated,
                        }
                    ],
                }
            )
        with self._lock:
            self._copilot_days[day] = records
        return records

    def copilot_last_activity(self, seat: CopilotSeat) -> datetime | None:
        """P2 `last_activity_at`: an afternoon moment of the holder's last active day that has passed by `now`."""
        now = self.now()
        for day in sorted(self.days(), reverse=True):
            if any(r["user_login"] == seat.login for r in self.copilot_report(day)):
                moment = datetime.combine(day, time(15, seat.user_id % 60), tzinfo=UTC)
                if moment <= now:
                    return moment
        return None

    def copilot_seat_list(self) -> list[dict[str, Any]]:
        """P2 `seats[]` at `now`: every seat created by then, by assignee id."""
        now = self.now()
        return [seat.wire(self.copilot_last_activity(seat)) for seat in self.copilot_seats if seat.created_at <= now]

    # ---- GitHub -----------------------------------------------------------------------------------------------

    def _place_examples(self) -> dict[tuple[str, date], list[tuple[int, AttributionExample]]]:
        placed: dict[tuple[str, date], list[tuple[int, AttributionExample]]] = {}
        span = max(self.config.days - 1, 1)
        repo = self.repos[0].full_name
        for position, example in enumerate(ATTRIBUTION_EXAMPLES):
            day = max(self.anchor - timedelta(days=1 + position % span), self.first_day)
            placed.setdefault((repo, day), []).append((position, example))
        return placed

    def _base_commit_rate(self) -> float:
        weekday_average = (5 + 2 * 0.15) / 7
        active_weight = sum(r.weight * (2 / 3 if r.archived else 1) for r in self.repos) or 1.0
        return self.config.commits / (max(self.config.days, 1) * weekday_average * active_weight * 0.95)

    def _commit_count(self, repo: Repo, day: date) -> int:
        if day < self.first_day or day > self.last_day:
            return 0
        examples = len(self._examples_by_day.get((repo.full_name, day), ()))
        if repo.archived_on is not None and day >= repo.archived_on:
            return examples
        rng = self._rng("commit-count", repo.name, day.isoformat())
        expected = self._commit_rate * repo.weight * self._weekday_factor(day) * self._trend(day)
        return int(expected * rng.uniform(0.5, 1.5) + rng.random()) + examples

    def _tail_sha(self, repo: Repo, before: date) -> str | None:
        day = before - timedelta(days=1)
        while day >= self.first_day:
            count = self._commit_count(repo, day)
            if count:
                return self.stable_sha("commit", repo.name, day.isoformat(), count - 1)
            day -= timedelta(days=1)
        return None

    def _commit_day(self, repo: Repo, day: date) -> list[Commit]:
        key = (repo.full_name, day)
        cached = self._commit_days.get(key)
        if cached is not None:
            return cached
        count = self._commit_count(repo, day)
        examples = self._examples_by_day.get(key, [])
        rng = self._rng("commits", repo.name, day.isoformat())
        drafts: list[dict[str, Any]] = [self._draft_commit(rng, repo, day) for _ in range(count - len(examples))]
        for position, example in examples:
            drafts.append(self._draft_example(repo, day, position, example))
        drafts.sort(key=lambda d: (d["committer_date"], d["order"]))
        parent = self._tail_sha(repo, day)
        commits = []
        for index, draft in enumerate(drafts):
            sha = self.stable_sha("commit", repo.name, day.isoformat(), index)
            parents: tuple[str, ...] = (parent,) if parent else ()
            if draft.pop("merge"):
                parents = (*parents, self.stable_sha("branch-tip", repo.name, day.isoformat(), index))
            draft.pop("order")
            commits.append(Commit(repo=repo.full_name, sha=sha, parents=parents, **draft))
            parent = sha
        with self._lock:
            self._commit_days[key] = commits
        return commits

    def _author_fields(self, rng: random.Random, person: Person) -> dict[str, Any]:
        if rng.random() < 0.03:  # a commit from a mis-configured laptop: GitHub cannot link it to an account
            email = f"{person.first.lower()}@{(person.github_login or 'dev')}-mbp.local"
            return {
                "author_name": person.name,
                "author_email": email,
                "author_login": None,
                "author_id": None,
                "author_type": "User",
            }
        return {
            "author_name": person.name,
            "author_email": person.commit_email,
            "author_login": person.github_login,
            "author_id": person.github_id,
            "author_type": "User",
        }

    def _draft_commit(self, rng: random.Random, repo: Repo, day: date) -> dict[str, Any]:
        hour = min(max(rng.gauss(14, 3.5), 0.0), 23.9)
        authored = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=int(hour * 3600))
        roll = rng.random()
        merge = False
        ai_tool: str | None = None
        subject = f"{rng.choice(_VERBS)} {rng.choice(_OBJECTS)}"
        if roll < 0.03:
            package = rng.choice(_PACKAGES)
            major = rng.randint(1, 9)
            message = (
                f"Bump {package} from {major}.{rng.randint(0, 20)}.0 to {major}.{rng.randint(21, 40)}.1\n\n"
                f"Bumps {package}.\n\n---\nupdated-dependencies:\n- dependency-name: {package}\n\n"
                "Signed-off-by: dependabot[bot] <support@github.com>"
            )
            name, email, login, gid = _DEPENDABOT
            author = {
                "author_name": name,
                "author_email": email,
                "author_login": login,
                "author_id": gid,
                "author_type": "Bot",
            }
        elif roll < 0.05:
            helper = rng.choice(self._commit_authors or self.people)
            message = f"{subject}\n\nCo-authored-by: {helper.name} <{helper.commit_email}>"
            name, email, login, gid = _COPILOT_AGENT
            author = {
                "author_name": name,
                "author_email": email,
                "author_login": login,
                "author_id": gid,
                "author_type": "Bot",
            }
            ai_tool = "github_copilot"
        elif roll < 0.07:
            name, email = rng.choice(_EXTERNALS)
            message = f"{subject}\n\n{rng.choice(_BODIES)}"
            author = {
                "author_name": name,
                "author_email": email,
                "author_login": None,
                "author_id": None,
                "author_type": "User",
            }
        else:
            people = self._commit_authors or self.people
            person = rng.choices(people, weights=[p.intensity for p in people])[0]
            author = self._author_fields(rng, person)
            if rng.random() < 0.08:
                merge = True
                message = (
                    f"Merge pull request #{day.toordinal() % 9000 + rng.randint(1, 999)} from "
                    f"{DEMO_GITHUB_ORG}/{subject.lower().replace(' ', '-')}\n\n{subject}"
                )
            else:
                tools = [t for t, _ in person.ai_mix]
                ai_tool = rng.choices(tools, weights=[w for _, w in person.ai_mix])[0]
                body = f"\n\n{rng.choice(_BODIES)}" if rng.random() < 0.4 else ""
                message = subject + (f" (#{rng.randint(100, 4999)})" if rng.random() < 0.5 else "") + body
                if ai_tool is not None:
                    message += rng.choice(_AI_TRAILERS[ai_tool])
                elif rng.random() < 0.1:
                    peer = rng.choice(people)
                    message += f"\n\nCo-authored-by: {peer.name} <{peer.commit_email}>"
        committed = authored
        committer_name, committer_email = author["author_name"], author["author_email"]
        if not merge and rng.random() < 0.15:  # squash-merged in the web UI: GitHub commits later the same day
            day_end = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
            committed = min(authored + timedelta(minutes=rng.randint(10, 180)), day_end)
            committer_name, committer_email = "GitHub", "noreply@github.com"
        additions = int(rng.lognormvariate(3.0, 1.3))
        return {
            "message": message,
            **author,
            "author_date": authored,
            "committer_name": committer_name,
            "committer_email": committer_email,
            "committer_date": committed,
            "additions": additions,
            "deletions": int(additions * rng.uniform(0, 0.8)),
            "ai_tool": ai_tool,
            "merge": merge,
            "utc_offset_minutes": rng.choice((0, 60, -300, -480, 330)),
            "order": rng.random(),
        }

    def _draft_example(self, repo: Repo, day: date, position: int, example: AttributionExample) -> dict[str, Any]:
        authored = datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(minutes=7 * position)
        if example.author == "copilot-swe-agent":
            name, email, login, gid = _COPILOT_AGENT
            author = {
                "author_name": name,
                "author_email": email,
                "author_login": login,
                "author_id": gid,
                "author_type": "Bot",
            }
        else:
            people = self._commit_authors or self.people
            person = people[position % len(people)]
            author = {
                "author_name": person.name,
                "author_email": person.commit_email,
                "author_login": person.github_login,
                "author_id": person.github_id,
                "author_type": "User",
            }
        return {
            "message": example.message,
            **author,
            "author_date": authored,
            "committer_name": author["author_name"],
            "committer_email": author["author_email"],
            "committer_date": authored,
            "additions": 10 + position,
            "deletions": position,
            "ai_tool": example.primary_tool,
            "merge": example.merge,
            "utc_offset_minutes": -480 if position % 2 else 60,
            "order": -1.0,
        }

    def commits(
        self,
        repo_full_name: str,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        visible_only: bool = True,
    ) -> list[Commit]:
        """Default-branch commits of a repo with `since <= committer date <= until`, newest first."""
        repo = self.repo(repo_full_name)
        if repo is None:
            return []
        now = self.now()
        first = since.astimezone(UTC).date() if since else None
        last = until.astimezone(UTC).date() if until else None
        out = [
            c
            for day in self.days(first, last)
            for c in self._commit_day(repo, day)
            if (since is None or c.committer_date >= since)
            and (until is None or c.committer_date <= until)
            and (not visible_only or c.committer_date <= now)
        ]
        out.reverse()
        return out

    def commit(self, repo_full_name: str, sha: str) -> Commit | None:
        """One visible commit by full sha (or a unique prefix of ≥ 7 characters)."""
        repo = self.repo(repo_full_name)
        if repo is None or len(sha) < 7:
            return None
        last = self.last_day
        cached = self._commit_index.get(repo.full_name)
        if cached is None or cached[0] != last:
            index = {c.sha: c for day in self.days() for c in self._commit_day(repo, day)}
            cached = (last, index)
            with self._lock:
                self._commit_index[repo.full_name] = cached
        found = cached[1].get(sha.lower())
        if found is None:
            matches = [c for s, c in cached[1].items() if s.startswith(sha.lower())]
            found = matches[0] if len(matches) == 1 else None
        return found if found is not None and found.committer_date <= self.now() else None

    # ---- ground truth -----------------------------------------------------------------------------------------

    def truth_usage(
        self, start: date, end: date, *, tool: str | None = None, org_label: str | None = None
    ) -> list[dict[str, Any]]:
        """What the sync must store for [start, end], per (date, tool, normalised model), as visible at `now`.

        Anthropic: every record of every org (unmapped api_actors included), cost = Σ amount/100.
        Cursor: every visible event of the window except zero-token ones, cost = totalCents/100 (0 when absent).
        """
        groups: dict[tuple[date, str, str], dict[str, Any]] = {}

        def add(day: date, tool_name: str, raw: str, i: int, cw: int, cr: int, o: int, cost: Decimal) -> None:
            model = normalize_model_name(raw)
            row = groups.get((day, tool_name, model))
            if row is None:
                row = groups[(day, tool_name, model)] = {
                    "date": day,
                    "tool": tool_name,
                    "model": model,
                    "raw_models": set(),
                    "records": 0,
                    "input_tokens": 0,
                    "cache_write_tokens": 0,
                    "cache_read_tokens": 0,
                    "output_tokens": 0,
                    "cost": Decimal(0),
                }
            row["raw_models"].add(raw)
            row["records"] += 1
            row["input_tokens"] += i
            row["cache_write_tokens"] += cw
            row["cache_read_tokens"] += cr
            row["output_tokens"] += o
            row["cost"] += cost

        if tool in (None, TOOL_CLAUDE_CODE):
            for label in self.anthropic_orgs:
                if org_label not in (None, label):
                    continue
                for day in self.days(start, end):
                    for record in self.claude_code_report(label, day):
                        for entry in record["model_breakdown"]:
                            tokens = entry["tokens"]
                            add(
                                day,
                                TOOL_CLAUDE_CODE,
                                entry["model"] or "unknown",
                                tokens["input"],
                                tokens["cache_creation"],
                                tokens["cache_read"],
                                tokens["output"],
                                Decimal(str(entry["estimated_cost"]["amount"])) / 100,
                            )
        if tool in (None, TOOL_CURSOR):
            start_ms = int(datetime.combine(start, time(0), tzinfo=UTC).timestamp() * 1000)
            end_ms = int(datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC).timestamp() * 1000) - 1
            for label in self.cursor_teams:
                if org_label not in (None, label):
                    continue
                for event in self.cursor_events(label, start_ms, end_ms):
                    if event.token_total == 0:
                        continue
                    day = datetime.fromtimestamp(event.timestamp_ms / 1000, UTC).date()
                    add(
                        day,
                        TOOL_CURSOR,
                        cursor_stored_raw_model(event.model),
                        event.input_tokens,
                        event.cache_write_tokens or 0,
                        event.cache_read_tokens or 0,
                        event.output_tokens,
                        (event.total_cents or Decimal(0)) / 100,
                    )
        rows = []
        for key in sorted(groups):
            row = groups[key]
            raw_models = sorted(row.pop("raw_models"))
            row["raw_model"] = ",".join(raw_models)
            row["raw_models"] = raw_models
            row["tokens"] = (
                row["input_tokens"] + row["cache_write_tokens"] + row["cache_read_tokens"] + row["output_tokens"]
            )
            rows.append(row)
        return rows

    def truth_activity(
        self, start: date, end: date, *, tool: str | None = None, org_label: str | None = None
    ) -> list[dict[str, Any]]:
        """What the activity sync must store for [start, end] as visible at `now` (docs/providers.md §8), one row per
        (tool, organization, identity, date), sorted; `organization` is `anthropic:<org>` / `cursor:<team>`.

        Claude Code: every A1 record summed per (day, actor) — sessions, lines, Σ tool decisions, commits, PRs; active
        when any is above 0. Cursor: every C3 row (inactive members too) with the spec's column sums.
        """
        rows: dict[tuple[str, str, str, date], dict[str, Any]] = {}

        def row(tool_name: str, organization: str, identity: str, day: date) -> dict[str, Any]:
            key = (tool_name, organization, identity, day)
            if key not in rows:
                rows[key] = {
                    "tool": tool_name,
                    "organization": organization,
                    "identity": identity,
                    "date": day,
                    **dict.fromkeys(ACTIVITY_COUNTS, 0),
                    "active": False,
                }
            return rows[key]

        if tool in (None, TOOL_CLAUDE_CODE):
            for label in self.anthropic_orgs:
                if org_label not in (None, label):
                    continue
                for day in self.days(start, end):
                    for record in self.claude_code_report(label, day):
                        actor = record["actor"]
                        name = actor.get("email_address") or actor.get("api_key_name")
                        out = row(TOOL_CLAUDE_CODE, f"anthropic:{label}", f"claude_code:{name.lower()}", day)
                        core = record["core_metrics"]
                        decisions = record["tool_actions"].values()
                        out["sessions"] += core["num_sessions"]
                        out["lines_added"] += core["lines_of_code"]["added"]
                        out["lines_removed"] += core["lines_of_code"]["removed"]
                        out["suggested"] += sum(d["accepted"] + d["rejected"] for d in decisions)
                        out["accepted"] += sum(d["accepted"] for d in decisions)
                        out["commits"] += core["commits_by_claude_code"]
                        out["pull_requests"] += core["pull_requests_by_claude_code"]
                        out["active"] = any(out[name] for name in ACTIVITY_COUNTS)
        if tool in (None, TOOL_CURSOR):
            for label in self.cursor_teams:
                if org_label not in (None, label):
                    continue
                for day in self.days(start, end):
                    for wire in self.cursor_daily_usage(label, day):
                        out = row(TOOL_CURSOR, f"cursor:{label}", f"cursor:{wire['email'].lower()}", day)
                        out["lines_added"] = wire["acceptedLinesAdded"]
                        out["lines_removed"] = wire["acceptedLinesDeleted"]
                        out["suggested"] = wire["totalTabsShown"] + wire["totalApplies"]
                        out["accepted"] = wire["totalTabsAccepted"] + wire["totalAccepts"]
                        out["requests"] = (
                            wire["composerRequests"] + wire["chatRequests"] + wire["agentRequests"] + wire["cmdkUsages"]
                        )
                        out["active"] = wire["isActive"]
        if tool in (None, TOOL_COPILOT) and org_label in (None, self.github_org):
            for day in self.days(start, end):
                if not self.copilot_report_published(day):
                    continue
                for record in self.copilot_report(day):
                    out = row(
                        TOOL_COPILOT, f"copilot:{self.github_org}", f"copilot:{record['user_login'].lower()}", day
                    )
                    out["sessions"] = record["user_initiated_interaction_count"]
                    out["lines_added"] = record["loc_added_sum"]
                    out["lines_removed"] = record["loc_deleted_sum"]
                    out["suggested"] = record["code_generation_activity_count"]
                    out["accepted"] = record["code_acceptance_activity_count"]
                    out["active"] = True
        return [rows[key] for key in sorted(rows)]

    def truth_commits(self, start: date, end: date) -> dict[str, Any]:
        """Commits the sync stores for [start, end] by author date: non-merge, non-archived repos, default branch.

        `by_tool` counts each commit's primary AI tool; `human` the rest (bots such as Dependabot included);
        `bot` how many of the total have a Bot author.
        """
        by_tool: dict[str, int] = {}
        total = human = bot = 0
        since = datetime.combine(start, time(0), tzinfo=UTC)
        until = datetime.combine(end + timedelta(days=2), time(0), tzinfo=UTC)
        for repo in self.repos:
            if repo.archived:
                continue
            for commit in self.commits(repo.full_name, since, until):
                if commit.is_merge or not (start <= commit.author_date.date() <= end):
                    continue
                total += 1
                bot += commit.is_bot
                if commit.ai_tool:
                    by_tool[commit.ai_tool] = by_tool.get(commit.ai_tool, 0) + 1
                else:
                    human += 1
        return {"total": total, "by_tool": dict(sorted(by_tool.items())), "human": human, "bot": bot}

    def snapshot(self) -> dict[str, Any]:
        """Everything the data set contains over its whole window at `now` — equal for equal seeds."""
        return {
            "people": [p.__dict__ for p in self.people],
            "anthropic": {
                label: (
                    [u.wire() for u in o.users],
                    [k.wire() for k in o.api_keys],
                    o.organization_id,
                    [r for d in self.days() for r in self.claude_code_report(label, d)],
                )
                for label, o in self.anthropic_orgs.items()
            },
            "cursor": {label: [e.wire() for e in self.cursor_events(label, 0, 2**62)] for label in self.cursor_teams},
            "github": {r.full_name: [c.__dict__ for c in self.commits(r.full_name)] for r in self.repos},
            "members": [m.__dict__ for m in self.github_members],
        }
