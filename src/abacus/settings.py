"""Settings read from environment variables, validated once at start-up.

Every variable is documented in `.env.example`. `load_settings()` raises `SettingsError` whose message names each
missing or invalid variable, so a misconfigured deployment fails with one readable paragraph.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

ENVIRONMENTS = ("production", "dev", "demo")
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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


class SettingsError(ValueError):
    """Raised when the environment does not describe a runnable Abacus."""


@dataclass(frozen=True)
class ProviderKey:
    """One admin key of a provider with the label that names its org/team (never the key itself)."""

    label: str
    key: str = field(repr=False)


@dataclass(frozen=True)
class Settings:
    env: str = "production"
    embedded: bool = False
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = field(default="", repr=False)
    base_url: str = "http://127.0.0.1:8000"
    oidc_issuer: str = "https://accounts.google.com"
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    allowed_domains: tuple[str, ...] = ()
    admin_emails: tuple[str, ...] = ()
    anthropic_keys: tuple[ProviderKey, ...] = ()
    anthropic_api_url: str = "https://api.anthropic.com"
    cursor_keys: tuple[ProviderKey, ...] = ()
    cursor_api_url: str = "https://api.cursor.com"
    github_token: str | None = field(default=None, repr=False)
    github_app_id: str | None = None
    github_app_private_key: str | None = field(default=None, repr=False)
    github_app_installation_id: str | None = None
    github_webhook_secret: str | None = field(default=None, repr=False)
    github_org: str | None = None
    github_backfill_days: int = 90
    github_api_url: str = "https://api.github.com"
    provider_pacing_ms: int | None = None

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def oidc_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/callback"

    @property
    def issuer_is_google(self) -> bool:
        return urlparse(self.oidc_issuer).hostname == "accounts.google.com"

    @property
    def github_configured(self) -> bool:
        return bool(self.github_org) and (bool(self.github_token) or bool(self.github_app_id))

    def is_admin(self, email: str | None) -> bool:
        return bool(email) and email.lower() in self.admin_emails

    def pacing_seconds(self, provider: str) -> float:
        """Pause between provider requests: explicit setting, else the provider's own polite default."""
        if self.provider_pacing_ms is not None:
            return self.provider_pacing_ms / 1000
        return {"cursor": 3.0, "github": 0.05}.get(provider, 0.0)


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in value.split(",") if item.strip())


def parse_provider_keys(env: Mapping[str, str], plural: str, singular: str) -> tuple[ProviderKey, ...]:
    """Keys from `plural` (wins when set and non-empty) else `singular`; `label=key` entries; labels required for >1."""
    raw = env.get(plural, "")
    source = plural
    if raw == "":
        raw = env.get(singular, "")
        source = singular
    entries = [entry.strip() for entry in raw.split(",") if entry.strip()]
    keys: list[ProviderKey] = []
    for entry in entries:
        label, sep, key = entry.partition("=")
        if not sep:
            if len(entries) > 1:
                raise SettingsError(
                    f"{source}: with more than one key every entry must be label=key "
                    "(positional labels would re-key stored rows when the list is re-ordered)"
                )
            keys.append(ProviderKey("default", entry))
            continue
        label, key = label.strip(), key.strip()
        if not _LABEL_RE.match(label) or not key:
            raise SettingsError(f"{source}: entry with label {label!r} is not of the form label=key")
        keys.append(ProviderKey(label, key))
    labels = [k.label for k in keys]
    if len(set(labels)) != len(labels):
        raise SettingsError(f"{source}: duplicate labels {sorted({x for x in labels if labels.count(x) > 1})}")
    return tuple(keys)


def _url(env: Mapping[str, str], name: str, default: str, errors: list[str]) -> str:
    value = env.get(name, "").strip() or default
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors.append(f"{name}: {value!r} is not an http(s) URL")
    return value.rstrip("/")


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """Build Settings from the environment; raise SettingsError naming every bad variable.

    `web=False` (worker, CLI data commands) does not require the sign-in variables nor a secret key.
    """
    env = os.environ if env is None else env
    errors: list[str] = []

    app_env = env.get("ABACUS_ENV", "production").strip() or "production"
    if app_env not in ENVIRONMENTS:
        errors.append(f"ABACUS_ENV: {app_env!r} is not one of {', '.join(ENVIRONMENTS)}")

    secret_key = env.get("ABACUS_SECRET_KEY", "")
    base_host = urlparse(env.get("ABACUS_BASE_URL", "").strip() or "http://127.0.0.1:8000").hostname or ""
    if not secret_key:
        if app_env == "production" and web and base_host not in LOOPBACK_HOSTS:
            errors.append("ABACUS_SECRET_KEY: required when ABACUS_ENV=production (e.g. `openssl rand -hex 32`)")
        secret_key = local_secret_key()
    elif len(secret_key) < 32:
        errors.append("ABACUS_SECRET_KEY: must be at least 32 characters")

    database_url = env.get("DATABASE_URL", "").strip() or None
    if database_url and not database_url.startswith(("postgresql+asyncpg://", "postgresql://", "postgres://")):
        errors.append("DATABASE_URL: must be a postgresql+asyncpg:// URL")
    elif database_url and not database_url.startswith("postgresql+asyncpg://"):
        database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        errors.append("REDIS_URL: must be a redis:// URL")

    base_url = _url(env, "ABACUS_BASE_URL", "http://127.0.0.1:8000", errors)
    oidc_issuer = _url(env, "OIDC_ISSUER", "https://accounts.google.com", errors)
    client_id = env.get("OIDC_CLIENT_ID") or env.get("GOOGLE_CLIENT_ID") or None
    client_secret = env.get("OIDC_CLIENT_SECRET") or env.get("GOOGLE_CLIENT_SECRET") or None
    if not client_id and web:
        errors.append("OIDC_CLIENT_ID: required (or GOOGLE_CLIENT_ID) — the OAuth client used for sign-in")
    if not client_secret and web:
        errors.append("OIDC_CLIENT_SECRET: required (or GOOGLE_CLIENT_SECRET)")

    try:
        anthropic_keys = parse_provider_keys(env, "ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY")
    except SettingsError as exc:
        errors.append(str(exc))
        anthropic_keys = ()
    try:
        cursor_keys = parse_provider_keys(env, "CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY")
    except SettingsError as exc:
        errors.append(str(exc))
        cursor_keys = ()

    github_token = env.get("GITHUB_TOKEN") or None
    app_parts = {
        name: env.get(name) or None
        for name in ("GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID")
    }
    if any(app_parts.values()) and not all(app_parts.values()):
        missing = [name for name, value in app_parts.items() if not value]
        errors.append(
            f"{', '.join(missing)}: GitHub App auth needs all of GITHUB_APP_ID, "
            "GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID"
        )
    github_org = env.get("GITHUB_ORG", "").strip() or None
    if (github_token or all(app_parts.values())) and not github_org:
        errors.append("GITHUB_ORG: required when GitHub is configured (the org whose repositories are synced)")

    backfill_days = _int(env, "GITHUB_BACKFILL_DAYS", 90, 1, 3650, errors)
    pacing = env.get("ABACUS_PROVIDER_PACING_MS", "").strip()
    pacing_ms = _int(env, "ABACUS_PROVIDER_PACING_MS", 0, 0, 600_000, errors) if pacing else None

    if errors:
        raise SettingsError("Invalid configuration:\n  - " + "\n  - ".join(errors))

    private_key = app_parts["GITHUB_APP_PRIVATE_KEY"]
    return Settings(
        env=app_env,
        embedded=env.get("ABACUS_EMBEDDED", "").strip().lower() in ("1", "true", "yes"),
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret_key,
        base_url=base_url,
        oidc_issuer=oidc_issuer,
        oidc_client_id=client_id,
        oidc_client_secret=client_secret,
        allowed_domains=_split_list(env.get("ABACUS_ALLOWED_DOMAINS", "")),
        admin_emails=_split_list(env.get("ABACUS_ADMIN_EMAILS", "")),
        anthropic_keys=anthropic_keys,
        anthropic_api_url=_url(env, "ANTHROPIC_API_URL", "https://api.anthropic.com", errors),
        cursor_keys=cursor_keys,
        cursor_api_url=_url(env, "CURSOR_API_URL", "https://api.cursor.com", errors),
        github_token=github_token,
        github_app_id=app_parts["GITHUB_APP_ID"],
        github_app_private_key=private_key.replace("\\n", "\n") if private_key else None,
        github_app_installation_id=app_parts["GITHUB_APP_INSTALLATION_ID"],
        github_webhook_secret=env.get("GITHUB_WEBHOOK_SECRET") or None,
        github_org=github_org,
        github_backfill_days=backfill_days,
        github_api_url=_url(env, "GITHUB_API_URL", "https://api.github.com", errors),
        provider_pacing_ms=pacing_ms,
    )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int, errors: list[str]) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(f"{name}: {raw!r} is not an integer")
        return default
    if not low <= value <= high:
        errors.append(f"{name}: {value} is outside {low}–{high}")
    return value
