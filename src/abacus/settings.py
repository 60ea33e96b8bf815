"""Settings read from environment variables and `.env`, validated once at start-up, grouped per concern.

Every variable is documented in `.env.example`. Each group (`DatabaseSettings`, `SignInSettings`, …) is a
pydantic-settings class that reads its own variables; `load_settings()` reads them all and raises one
`SettingsError` whose message names every missing or invalid variable, so a misconfigured deployment fails with one
readable paragraph.

Constructing a group or `Settings` directly reads nothing from the environment (defaults plus the arguments given),
which keeps tests independent of the machine; `load_settings()` is the one place that reads variables and files.
Environment variables win over the files; later files win over earlier ones.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENVIRONMENTS = ("production", "dev", "demo")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_QUEUE = "abacus:queue"
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")


class SettingsError(ValueError):
    """Raised when the environment does not describe a runnable Abacus."""


@dataclass(frozen=True)
class ProviderKey:
    """One admin key of a provider with the label that names its org/team (never the key itself)."""

    label: str
    key: str = field(repr=False)


def local_secret_key() -> str:
    """A generated key kept in `.abacus/secret_key`, shared by every process of this checkout (CSRF tokens signed
    by one web worker must verify in another). Only used without ABACUS_SECRET_KEY on dev/demo or loopback."""
    from abacus.embedded import project_root

    path = project_root() / ".abacus" / "secret_key"
    try:
        existing = path.read_text().strip()
        if len(existing) >= 32:
            return existing
    except OSError:
        pass
    key = secrets.token_hex(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
    except FileExistsError:
        return path.read_text().strip()
    except OSError:
        return key
    return key


# --- value types ----------------------------------------------------------------------------------------------


def _optional(check: Any) -> AfterValidator:
    """An after-validator applying `check` to a value that is set (None passes)."""
    return AfterValidator(lambda value: None if value is None else check(value))


def _http_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def _secret_http_url(value: str) -> str:
    """An http(s) URL that is itself a secret (a Slack incoming webhook): the error does not repeat it."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("not an http(s) URL")
    return value


def _database_url(value: str) -> str:
    if not value.startswith(("postgresql+asyncpg://", "postgresql://", "postgres://")):
        raise ValueError("must be a postgresql+asyncpg:// URL")
    return "postgresql+asyncpg://" + value.split("://", 1)[1]


def _redis_url(value: str) -> str:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must be a redis:// URL")
    return value


def _long_secret(value: str) -> str:
    if value and len(value) < 32:
        raise ValueError("must be at least 32 characters")
    return value


def _environment(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise ValueError(f"{value!r} is not one of {', '.join(ENVIRONMENTS)}")
    return value


VISIBILITY_MODES = ("everyone", "team", "self")


def _visibility(value: str) -> str:
    mode = value.strip().lower()
    if mode not in VISIBILITY_MODES:
        raise ValueError(f"{value!r} is not one of {', '.join(VISIBILITY_MODES)}")
    return mode


def _lowercase_list(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip().lower() for item in items if item.strip())


def _bounded(low: float, high: float, kind: type[int] | type[float] = int) -> BeforeValidator:
    noun = "an integer" if kind is int else "a number"

    def check(value: Any) -> int | float | None:
        if value is None:
            return None
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not {noun}") from None
        if not low <= number <= high:
            raise ValueError(f"{number:g} is outside {low:g}–{high:g}")
        return number

    return BeforeValidator(check)


def _key_entries(raw: str) -> tuple[ProviderKey, ...]:
    """`label=key,label=key` (or one bare key, labelled "default"); labels required for more than one."""
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    keys: list[ProviderKey] = []
    for entry in entries:
        label, sep, key = entry.partition("=")
        if not sep:
            if len(entries) > 1:
                raise ValueError(
                    "with more than one key every entry must be label=key "
                    "(positional labels would re-key stored rows when the list is re-ordered)"
                )
            keys.append(ProviderKey("default", entry))
            continue
        label, key = label.strip(), key.strip()
        if not _LABEL_RE.match(label) or not key:
            raise ValueError(f"entry with label {label!r} is not of the form label=key")
        keys.append(ProviderKey(label, key))
    labels = [k.label for k in keys]
    if len(set(labels)) != len(labels):
        raise ValueError(f"duplicate labels {sorted({x for x in labels if labels.count(x) > 1})}")
    return tuple(keys)


def parse_provider_keys(env: Mapping[str, str], plural: str, singular: str) -> tuple[ProviderKey, ...]:
    """Keys from `plural` (wins when set and non-empty) else `singular`; `label=key` entries; labels required for >1."""
    source = plural if env.get(plural, "") != "" else singular
    try:
        return _key_entries(env.get(source, ""))
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


def _provider_keys(value: Any) -> Any:
    return _key_entries(value) if isinstance(value, str) else value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _price_list(value: str) -> str:
    from abacus.domain.seats import parse_plan_prices

    parse_plan_prices(value)  # PriceListError (a ValueError) names the bad entry
    return value.strip()


def _price(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("must be a price in USD, 0 or more")
    return value


LowercaseList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_lowercase_list)]
ProviderKeys = Annotated[tuple[ProviderKey, ...], NoDecode, BeforeValidator(_provider_keys)]
Environment = Annotated[str, AfterValidator(_environment)]


# --- groups ---------------------------------------------------------------------------------------------------


class _Group(BaseSettings):
    """A group of settings. Blank values count as unset; values are stripped of surrounding whitespace."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # reading the environment and files is load_settings()'s job

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return {k: v for k, v in cleaned.items() if v != ""}

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable of field `name` (the first one when it has aliases)."""
        info = cls.model_fields.get(name)
        alias = info.validation_alias if info is not None else None
        if isinstance(alias, AliasChoices):
            alias = alias.choices[0]
        return alias if isinstance(alias, str) else name


class _AppSettings(_Group):
    """The root values of `Settings` (read like a group, stored on the root)."""

    env: Environment = Field("production", validation_alias="ABACUS_ENV")
    embedded: bool = Field(False, validation_alias="ABACUS_EMBEDDED")
    base_url: HttpUrl = Field(DEFAULT_BASE_URL, validation_alias="ABACUS_BASE_URL")
    secret_key: Annotated[str, AfterValidator(_long_secret)] = Field(
        "", validation_alias="ABACUS_SECRET_KEY", repr=False
    )
    provider_pacing_ms: Annotated[int | None, _bounded(0, 600_000)] = Field(
        None, validation_alias="ABACUS_PROVIDER_PACING_MS"
    )


class DatabaseSettings(_Group):
    """PostgreSQL. `url` None: found or started by `resolve_runtime_settings()` (machine server, else embedded)."""

    url: Annotated[str | None, _optional(_database_url)] = Field(None, validation_alias="DATABASE_URL")
    pool_size: Annotated[int, _bounded(1, 100)] = Field(5, validation_alias="ABACUS_DB_POOL_SIZE")
    """Connections each web process keeps to PostgreSQL; a request holds at most one of them, while it reads."""
    pool_overflow: Annotated[int, _bounded(0, 100)] = Field(5, validation_alias="ABACUS_DB_POOL_OVERFLOW")
    """Connections a web process may open beyond `pool_size` under load (closed again when idle)."""
    pool_timeout_seconds: Annotated[float, _bounded(0.1, 600, float)] = Field(
        30.0, validation_alias="ABACUS_DB_POOL_TIMEOUT"
    )
    """How long a request waits for a free connection before it answers 503 "temporarily unavailable"."""
    fanout: Annotated[int, _bounded(0, 32)] = Field(4, validation_alias="ABACUS_DB_FANOUT")
    """Extra connections per web process for running a page's independent queries side by side while idle (0: a
    page's queries run one after another)."""


class RedisSettings(_Group):
    """Redis/Valkey of the arq queue and the sessions. `url` None: found or started like the database."""

    url: Annotated[str | None, _optional(_redis_url)] = Field(None, validation_alias="REDIS_URL")
    page_cache_seconds: Annotated[int, _bounded(0, 86_400)] = Field(3600, validation_alias="ABACUS_PAGE_CACHE_SECONDS")
    """How long a page's query results stay in Redis (0: no page cache). They are keyed on the data version, so a
    sync, import or mapping change shows at once whatever this is; it only bounds the memory of old versions."""


class SignInSettings(_Group):
    """OpenID Connect sign-in and who may sign in. The web app requires the client; the worker and CLI do not."""

    issuer: HttpUrl = Field("https://accounts.google.com", validation_alias="OIDC_ISSUER")
    client_id: str | None = Field(None, validation_alias=AliasChoices("OIDC_CLIENT_ID", "GOOGLE_CLIENT_ID"))
    client_secret: str | None = Field(
        None, validation_alias=AliasChoices("OIDC_CLIENT_SECRET", "GOOGLE_CLIENT_SECRET"), repr=False
    )
    allowed_domains: LowercaseList = Field((), validation_alias="ABACUS_ALLOWED_DOMAINS")
    admin_emails: LowercaseList = Field((), validation_alias="ABACUS_ADMIN_EMAILS")
    visibility: Annotated[str, AfterValidator(_visibility)] = Field("everyone", validation_alias="ABACUS_VISIBILITY")
    """Who a non-admin sees (docs/security.md §6): everybody, their teams' people and themselves, or themselves."""
    min_group: Annotated[int, _bounded(1, 10_000)] = Field(5, validation_alias="ABACUS_MIN_GROUP")
    """A team aggregate of fewer people is hidden from non-admins outside that team (when visibility is not
    `everyone`)."""

    @property
    def issuer_is_google(self) -> bool:
        return urlparse(self.issuer).hostname == "accounts.google.com"

    def is_admin(self, email: str | None) -> bool:
        return email is not None and email.lower() in self.admin_emails


class AnthropicSettings(_Group):
    """Anthropic Admin API: `ANTHROPIC_ADMIN_KEYS=label=key,…` (wins when set) or one `ANTHROPIC_ADMIN_KEY`."""

    keys: ProviderKeys = Field((), validation_alias=AliasChoices("ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY"))
    api_url: HttpUrl = Field("https://api.anthropic.com", validation_alias="ANTHROPIC_API_URL")
    # Monthly price of a Claude Code seat; unset: Claude Code seats are not tracked
    seat_price_usd: Annotated[Decimal | None, _optional(_price)] = Field(
        None, validation_alias="ANTHROPIC_SEAT_PRICE_USD"
    )


class CursorSettings(_Group):
    """Cursor Admin API: `CURSOR_ADMIN_KEYS=label=key,…` (wins when set) or one `CURSOR_ADMIN_KEY`."""

    keys: ProviderKeys = Field((), validation_alias=AliasChoices("CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY"))
    api_url: HttpUrl = Field("https://api.cursor.com", validation_alias="CURSOR_API_URL")
    seat_price_usd: Annotated[Decimal, AfterValidator(_price)] = Field(
        Decimal(40), validation_alias="CURSOR_SEAT_PRICE_USD"
    )


class SeatSettings(_Group):
    """Seats (docs/metrics.md §11): how many days without activity make a seat idle."""

    idle_days: Annotated[int, _bounded(1, 3650)] = Field(30, validation_alias="ABACUS_IDLE_DAYS")


class CopilotSettings(_Group):
    """GitHub Copilot metrics and seats (docs/providers.md §9): off unless COPILOT_ENABLED; the organisation, token
    and API URL default to GitHub's (GITHUB_ORG, GITHUB_TOKEN or the GitHub App, GITHUB_API_URL)."""

    # opt-in (docs/providers.md §9): it needs the org's "Copilot usage metrics" policy and a token that reads seats,
    # which a GitHub set up only for commits usually lacks
    enabled: bool = Field(False, validation_alias="COPILOT_ENABLED")
    org: str | None = Field(None, validation_alias="COPILOT_ORG")
    token: str | None = Field(None, validation_alias="COPILOT_TOKEN", repr=False)
    api_url: Annotated[str | None, _optional(_http_url)] = Field(None, validation_alias="COPILOT_API_URL")
    seat_prices: Annotated[str, AfterValidator(_price_list)] = Field(
        "business=19,enterprise=39", validation_alias="COPILOT_SEAT_PRICE_USD"
    )


class GitHubSettings(_Group):
    """GitHub: a token or a GitHub App (all three GITHUB_APP_* variables), the org, and the push webhook."""

    APP_VARIABLES: ClassVar[tuple[str, ...]] = ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID")

    token: str | None = Field(None, validation_alias="GITHUB_TOKEN", repr=False)
    app_id: str | None = Field(None, validation_alias="GITHUB_APP_ID")
    app_private_key: Annotated[str | None, _optional(lambda key: key.replace("\\n", "\n"))] = Field(
        None, validation_alias="GITHUB_APP_PRIVATE_KEY", repr=False
    )
    app_installation_id: str | None = Field(None, validation_alias="GITHUB_APP_INSTALLATION_ID")
    webhook_secret: str | None = Field(None, validation_alias="GITHUB_WEBHOOK_SECRET", repr=False)
    org: str | None = Field(None, validation_alias="GITHUB_ORG")
    backfill_days: Annotated[int, _bounded(1, 3650)] = Field(90, validation_alias="GITHUB_BACKFILL_DAYS")
    api_url: HttpUrl = Field("https://api.github.com", validation_alias="GITHUB_API_URL")

    @property
    def uses_app(self) -> bool:
        return bool(self.app_id and self.app_private_key and self.app_installation_id)

    @property
    def configured(self) -> bool:
        return bool(self.org) and (bool(self.token) or bool(self.app_id))

    @model_validator(mode="after")
    def _complete(self) -> GitHubSettings:
        problems = []
        values = (self.app_id, self.app_private_key, self.app_installation_id)
        parts = dict(zip(self.APP_VARIABLES, values, strict=True))
        if any(parts.values()) and not all(parts.values()):
            missing = ", ".join(name for name, value in parts.items() if not value)
            problems.append(
                f"{missing}: GitHub App auth needs all of {', '.join(self.APP_VARIABLES[:2])} and "
                f"{self.APP_VARIABLES[2]}"
            )
        if (self.token or self.uses_app) and not self.org:
            problems.append("GITHUB_ORG: required when GitHub is configured (the org whose repositories are synced)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class AlertSettings(_Group):
    """Budget alerts (docs/operations.md §12): where they are delivered and how deliveries retry."""

    slack_url: Annotated[str | None, _optional(_secret_http_url)] = Field(
        None, validation_alias="ABACUS_ALERT_SLACK_URL", repr=False
    )
    webhook_url: Annotated[str | None, _optional(_secret_http_url)] = Field(
        None, validation_alias="ABACUS_ALERT_WEBHOOK_URL", repr=False
    )
    webhook_secret: str | None = Field(None, validation_alias="ABACUS_ALERT_WEBHOOK_SECRET", repr=False)
    retry_seconds: Annotated[float, _bounded(0.01, 3600, float)] = Field(
        30.0, validation_alias="ABACUS_ALERT_RETRY_SECONDS"
    )
    """The first retry's delay; each next one doubles (capped at an hour)."""
    max_tries: Annotated[int, _bounded(1, 20)] = Field(8, validation_alias="ABACUS_ALERT_MAX_TRIES")

    def url(self, channel: str) -> str | None:
        return {"slack": self.slack_url, "webhook": self.webhook_url}.get(channel)


class OtlpSettings(_Group):
    """The OTLP/HTTP receiver of Claude Code's metrics (docs/operations.md): ingest tokens per organisation label
    (`label=token,…`; unset = every export is refused with 401), the body cap and the per-token rate limit."""

    tokens: ProviderKeys = Field((), validation_alias="ABACUS_OTLP_TOKENS", repr=False)
    max_body_bytes: Annotated[int, _bounded(1024, 25 * 1024 * 1024)] = Field(
        5 * 1024 * 1024, validation_alias="ABACUS_OTLP_MAX_BODY_BYTES"
    )
    requests_per_minute: Annotated[int, _bounded(1, 1_000_000)] = Field(
        600, validation_alias="ABACUS_OTLP_REQUESTS_PER_MINUTE"
    )


class JobSettings(_Group):
    """The arq queue. Every Redis name of the worker carries the queue name, so installs can share a Redis."""

    queue: str = Field(DEFAULT_QUEUE, validation_alias="ABACUS_QUEUE")
    lock_seconds: Annotated[float, _bounded(1, 3600, float)] = Field(60.0, validation_alias="ABACUS_JOB_LOCK_SECONDS")


class Settings(BaseModel):
    """Everything Abacus is configured with: a few root values and one group per concern."""

    model_config = ConfigDict(frozen=True)

    env: str = "production"
    embedded: bool = False  # ABACUS_EMBEDDED: use the project-local servers even when others answer
    base_url: str = DEFAULT_BASE_URL
    secret_key: str = Field("", repr=False)
    provider_pacing_ms: int | None = None
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    sign_in: SignInSettings = Field(default_factory=SignInSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    cursor: CursorSettings = Field(default_factory=CursorSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    copilot: CopilotSettings = Field(default_factory=CopilotSettings)
    seats: SeatSettings = Field(default_factory=SeatSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    otlp: OtlpSettings = Field(default_factory=OtlpSettings)

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def oidc_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    def pacing_seconds(self, provider: str) -> float:
        """Pause between provider requests: explicit setting, else the provider's own polite default."""
        if self.provider_pacing_ms is not None:
            return self.provider_pacing_ms / 1000
        return {"cursor": 3.0, "github": 0.05}.get(provider, 0.0)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes`: root values, whole groups, or a dict of some fields of a group
        (`settings.replace(base_url=…, github={"token": None})`). Values are taken as they are, not validated."""
        update: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in type(self).model_fields:
                raise TypeError(f"Settings has no field {name!r}")
            current = getattr(self, name)
            if isinstance(value, dict) and isinstance(current, _Group):
                unknown = set(value) - set(type(current).model_fields)
                if unknown:
                    raise TypeError(f"Settings.{name} has no field {', '.join(sorted(unknown))}")
                value = current.model_copy(update=value)
            update[name] = value
        return self.model_copy(update=update)

    def with_services(self, database_url: str, redis_url: str) -> Settings:
        """These settings with the database and Redis URLs resolved (see `abacus.runtime`)."""
        return self.replace(database={"url": database_url}, redis={"url": redis_url})


GROUPS: dict[str, type[_Group]] = {
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "sign_in": SignInSettings,
    "anthropic": AnthropicSettings,
    "cursor": CursorSettings,
    "github": GitHubSettings,
    "copilot": CopilotSettings,
    "seats": SeatSettings,
    "alerts": AlertSettings,
    "jobs": JobSettings,
    "otlp": OtlpSettings,
}


# --- loading --------------------------------------------------------------------------------------------------


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (os.environ, or a test's dict)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls, case_sensitive=True, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name: value for name, value in self._environ.items() if value != ""}


def _read(group: type[_Group], environ: Mapping[str, str], files: Sequence[Path]) -> Any:
    sources: list[Any] = [_MappingSource(group, environ)]
    if files:
        sources.append(DotEnvSettingsSource(group, env_file=list(files), case_sensitive=True, env_ignore_empty=True))
    return group(_build_sources=(tuple(sources), {}))


def _messages(error: ValidationError, group: type[_Group]) -> Iterable[str]:
    """One "VARIABLE: what is wrong" line per problem; never the value (it may be a secret)."""
    for item in error.errors():
        message = str(item["ctx"]["error"]) if item["type"] == "value_error" else item["msg"]
        if item["loc"]:  # a field's own problem; model-wide problems name their variables themselves
            message = f"{group.variable(str(item['loc'][0]))}: {message}"
        yield from message.split("\n")


def _loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in LOOPBACK_HOSTS


def load_settings(
    env: Mapping[str, str] | None = None, *, web: bool = True, env_files: Sequence[Path | str] | None = None
) -> Settings:
    """Build Settings from the environment; raise SettingsError naming every bad variable.

    `env` defaults to `os.environ`, then read together with `env_files` (default: `.env` in the working directory;
    variables in `env` win). An explicit `env` mapping is read alone unless `env_files` are given too.
    `web=False` (worker, CLI data commands) does not require the sign-in variables nor a secret key.
    """
    if env_files is None:
        env_files = [Path.cwd() / ".env"] if env is None else []
    environ = os.environ if env is None else env
    files = [Path(path) for path in env_files]
    errors: list[str] = []
    read: dict[str, Any] = {}
    every_group: dict[str, type[_Group]] = {"app": _AppSettings, **GROUPS}
    for name, group in every_group.items():
        try:
            read[name] = _read(group, environ, files)
        except ValidationError as exc:
            errors.extend(_messages(exc, group))

    app: _AppSettings | None = read.get("app")
    sign_in: SignInSettings | None = read.get("sign_in")
    if web and sign_in is not None:
        if not sign_in.client_id:
            errors.append("OIDC_CLIENT_ID: required (or GOOGLE_CLIENT_ID) — the OAuth client used for sign-in")
        if not sign_in.client_secret:
            errors.append("OIDC_CLIENT_SECRET: required (or GOOGLE_CLIENT_SECRET)")
    if web and app is not None and not app.secret_key and app.env == "production" and not _loopback(app.base_url):
        errors.append("ABACUS_SECRET_KEY: required when ABACUS_ENV=production (e.g. `openssl rand -hex 32`)")
    if errors:
        raise SettingsError("Invalid configuration:\n  - " + "\n  - ".join(errors))

    assert app is not None
    root = app.model_dump(exclude={"secret_key"})
    groups = {name: read[name] for name in GROUPS}
    return Settings(**root, secret_key=app.secret_key or local_secret_key(), **groups)
