from pathlib import Path

import pytest

from abacus.settings import (
    CursorSettings,
    GitHubSettings,
    ProviderKey,
    Settings,
    SettingsError,
    load_settings,
    parse_provider_keys,
)

BASE = {"OIDC_CLIENT_ID": "abacus", "OIDC_CLIENT_SECRET": "dev", "ABACUS_ENV": "dev"}


def test_defaults_for_a_dev_setup():
    settings = load_settings(BASE)
    assert settings.env == "dev"
    assert settings.sign_in.issuer == "https://accounts.google.com"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.anthropic.keys == () and settings.cursor.keys == ()
    assert settings.anthropic.api_url == "https://api.anthropic.com"
    assert settings.database.url is None and settings.redis.url is None
    assert settings.jobs.queue == "abacus:queue" and settings.jobs.lock_seconds == 60
    assert not settings.github.configured
    assert len(settings.secret_key) >= 32


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"}, "ABACUS_SECRET_KEY"),
        ({"ABACUS_ENV": "staging"}, "ABACUS_ENV"),
        ({"ABACUS_EMBEDDED": "maybe"}, "ABACUS_EMBEDDED"),
        ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"),
        ({"OIDC_CLIENT_ID": "   "}, "OIDC_CLIENT_ID"),
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET"),
        ({"OIDC_ISSUER": "accounts.google.com"}, "OIDC_ISSUER"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"ABACUS_BASE_URL": "not a url"}, "ABACUS_BASE_URL"),
        ({"ANTHROPIC_API_URL": "not a url"}, "ANTHROPIC_API_URL"),
        ({"CURSOR_API_URL": "ftp://cursor.example"}, "CURSOR_API_URL"),
        ({"GITHUB_API_URL": "api.github.com"}, "GITHUB_API_URL"),
        ({"GITHUB_TOKEN": "ghp_x"}, "GITHUB_ORG"),
        ({"GITHUB_APP_ID": "1"}, "GITHUB_APP_PRIVATE_KEY"),
        ({"GITHUB_BACKFILL_DAYS": "ninety"}, "GITHUB_BACKFILL_DAYS"),
        ({"GITHUB_BACKFILL_DAYS": "0"}, "GITHUB_BACKFILL_DAYS"),
        ({"ABACUS_SECRET_KEY": "short"}, "ABACUS_SECRET_KEY"),
        ({"ANTHROPIC_ADMIN_KEYS": "sk-1,sk-2"}, "ANTHROPIC_ADMIN_KEYS"),
        ({"CURSOR_ADMIN_KEYS": "a=k1,a=k2"}, "CURSOR_ADMIN_KEYS"),
        ({"CURSOR_ADMIN_KEYS": "bad label=k1"}, "CURSOR_ADMIN_KEYS"),
        ({"ABACUS_PROVIDER_PACING_MS": "fast"}, "ABACUS_PROVIDER_PACING_MS"),
        ({"ABACUS_JOB_LOCK_SECONDS": "0"}, "ABACUS_JOB_LOCK_SECONDS"),
        ({"ABACUS_JOB_LOCK_SECONDS": "a minute"}, "ABACUS_JOB_LOCK_SECONDS"),
    ],
)
def test_invalid_settings_name_the_variable(env, named):
    with pytest.raises(SettingsError) as excinfo:
        load_settings({**BASE, **env})
    message = str(excinfo.value)
    assert message.startswith("Invalid configuration:\n  - ")
    assert f"- {named}" in message or f", {named}" in message


def test_every_error_is_reported_at_once():
    env = {
        "ABACUS_ENV": "production",
        "ABACUS_BASE_URL": "https://abacus.acme.io",
        "ANTHROPIC_API_URL": "not a url",  # URL checks used to run after the errors were raised
        "GITHUB_API_URL": "not a url",
        "DATABASE_URL": "mysql://x",
        "GITHUB_BACKFILL_DAYS": "-1",
    }
    with pytest.raises(SettingsError) as excinfo:
        load_settings(env)
    lines = str(excinfo.value).splitlines()[1:]
    named = [line.removeprefix("  - ").split(":")[0] for line in lines]
    assert sorted(named) == sorted(
        [
            "ABACUS_SECRET_KEY",
            "OIDC_CLIENT_ID",
            "OIDC_CLIENT_SECRET",
            "ANTHROPIC_API_URL",
            "GITHUB_API_URL",
            "DATABASE_URL",
            "GITHUB_BACKFILL_DAYS",
        ]
    )


def test_messages_never_repeat_a_secret():
    with pytest.raises(SettingsError) as excinfo:
        load_settings({**BASE, "ABACUS_SECRET_KEY": "hunter2-very-secret", "GITHUB_TOKEN": "ghp_secret_token"})
    assert "hunter2" not in str(excinfo.value) and "ghp_secret" not in str(excinfo.value)


def test_workers_and_cli_need_no_sign_in_nor_secret_key():
    settings = load_settings({"ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"}, web=False)
    assert settings.sign_in.client_id is None
    assert len(settings.secret_key) >= 32


def test_google_aliases_and_lists_are_normalised():
    settings = load_settings(
        {
            "GOOGLE_CLIENT_ID": "g",
            "GOOGLE_CLIENT_SECRET": "s",
            "ABACUS_ENV": "demo",
            "ABACUS_ALLOWED_DOMAINS": " Example.com, ,acme.io ",
            "ABACUS_ADMIN_EMAILS": "Ada@Example.com",
        }
    )
    assert settings.sign_in.client_id == "g" and settings.sign_in.client_secret == "s"
    assert settings.sign_in.allowed_domains == ("example.com", "acme.io")
    assert settings.sign_in.is_admin("ada@example.com") and not settings.sign_in.is_admin("bob@example.com")
    assert not settings.sign_in.is_admin(None)


def test_oidc_names_win_over_google_aliases():
    settings = load_settings({**BASE, "GOOGLE_CLIENT_ID": "g"})
    assert settings.sign_in.client_id == "abacus"


def test_values_are_normalised():
    settings = load_settings(
        {
            **BASE,
            "DATABASE_URL": " postgres://app@db.internal/abacus ",
            "ANTHROPIC_API_URL": "http://127.0.0.1:8100/anthropic/",
            "OIDC_ISSUER": "https://accounts.google.com",
            "ABACUS_EMBEDDED": "yes",
            "ABACUS_QUEUE": "abacus:staging",
            "ABACUS_JOB_LOCK_SECONDS": "2",
            "ABACUS_PROVIDER_PACING_MS": "250",
        }
    )
    assert settings.database.url == "postgresql+asyncpg://app@db.internal/abacus"
    assert settings.anthropic.api_url == "http://127.0.0.1:8100/anthropic"
    assert settings.sign_in.issuer_is_google
    assert settings.embedded
    assert (settings.jobs.queue, settings.jobs.lock_seconds) == ("abacus:staging", 2)
    assert settings.pacing_seconds("cursor") == 0.25


def test_provider_pacing_defaults_per_provider():
    settings = load_settings(BASE)
    assert [settings.pacing_seconds(p) for p in ("anthropic", "cursor", "github")] == [0.0, 3.0, 0.05]


def test_secrets_do_not_appear_in_repr():
    settings = load_settings(
        {
            **BASE,
            "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-secret",
            "GITHUB_TOKEN": "ghp_secret",
            "GITHUB_ORG": "acme",
            "GITHUB_WEBHOOK_SECRET": "whsecret",
            "ABACUS_SECRET_KEY": "secret" * 8,
        }
    )
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ANTHROPIC_ADMIN_KEY": "sk-1"}, [("default", "sk-1")]),
        ({"ANTHROPIC_ADMIN_KEYS": "sk-1"}, [("default", "sk-1")]),
        ({"ANTHROPIC_ADMIN_KEYS": "acme=sk-1, labs=sk-2"}, [("acme", "sk-1"), ("labs", "sk-2")]),
        ({"ANTHROPIC_ADMIN_KEYS": "acme=sk-1", "ANTHROPIC_ADMIN_KEY": "sk-9"}, [("acme", "sk-1")]),
        ({"ANTHROPIC_ADMIN_KEYS": "", "ANTHROPIC_ADMIN_KEY": "sk-9"}, [("default", "sk-9")]),
        ({"ANTHROPIC_ADMIN_KEYS": " , ,", "ANTHROPIC_ADMIN_KEY": "sk-9"}, []),
        ({}, []),
    ],
)
def test_provider_keys(env, expected):
    keys = parse_provider_keys(env, "ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY")
    assert [(k.label, k.key) for k in keys] == expected
    if " , ," not in env.get("ANTHROPIC_ADMIN_KEYS", ""):  # blank values count as unset in the settings
        loaded = load_settings({**BASE, **env}).anthropic.keys
        assert [(k.label, k.key) for k in loaded] == expected


def test_provider_key_errors_name_the_variable_given():
    with pytest.raises(SettingsError, match="ANTHROPIC_ADMIN_KEY: with more than one key"):
        parse_provider_keys({"ANTHROPIC_ADMIN_KEY": "a,b"}, "ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY")


def test_github_private_key_newlines_are_unescaped():
    settings = load_settings(
        {
            **BASE,
            "GITHUB_APP_ID": "1",
            "GITHUB_APP_INSTALLATION_ID": "2",
            "GITHUB_ORG": "acme",
            "GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END",
        }
    )
    assert settings.github.app_private_key == "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END"
    assert settings.github.configured and settings.github.uses_app


def test_local_runs_share_one_generated_key_and_real_deployments_need_one():
    local = load_settings({**BASE, "ABACUS_ENV": "production"})
    again = load_settings({**BASE, "ABACUS_ENV": "demo"})
    assert local.secret_key == again.secret_key and len(local.secret_key) >= 32
    with pytest.raises(SettingsError, match="ABACUS_SECRET_KEY"):
        load_settings({**BASE, "ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"})
    explicit = load_settings({**BASE, "ABACUS_SECRET_KEY": "k" * 40})
    assert explicit.secret_key == "k" * 40


# --- where values come from -----------------------------------------------------------------------------------


def test_an_env_file_is_read(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nCURSOR_ADMIN_KEYS=core=k1,mobile=k2\nGITHUB_ORG='acme'\nGITHUB_TOKEN=\"ghp_x\"\nUNRELATED=1\n"
    )
    settings = load_settings(BASE, env_files=[dotenv])
    assert [k.label for k in settings.cursor.keys] == ["core", "mobile"]
    assert settings.github.org == "acme" and settings.github.token == "ghp_x"


def test_environment_variables_win_over_the_env_file(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ABACUS_ENV=demo\nOIDC_CLIENT_ID=from-file\nABACUS_QUEUE=from-file\n")
    settings = load_settings({**BASE, "ABACUS_QUEUE": ""}, env_files=[dotenv])
    assert settings.env == "dev" and settings.sign_in.client_id == "abacus"
    assert settings.jobs.queue == "from-file"  # an empty variable counts as unset


def test_bad_values_in_an_env_file_are_named(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("ANTHROPIC_API_URL=not a url\n")
    with pytest.raises(SettingsError, match="ANTHROPIC_API_URL: 'not a url' is not an http"):
        load_settings(BASE, env_files=[dotenv])


def test_a_missing_env_file_is_no_error(tmp_path: Path):
    assert load_settings(BASE, env_files=[tmp_path / ".env"]).env == "dev"


def test_by_default_the_environment_and_dotenv_in_the_working_directory_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CURSOR_ADMIN_KEY=from-file\nGITHUB_ORG=from-file\n")
    monkeypatch.setenv("GITHUB_ORG", "from-env")
    for name in ("CURSOR_ADMIN_KEYS", "GITHUB_TOKEN", "GITHUB_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(web=False)
    assert settings.cursor.keys == (ProviderKey("default", "from-file"),)
    assert settings.github.org == "from-env"


def test_an_explicit_mapping_is_read_alone(monkeypatch):
    monkeypatch.setenv("CURSOR_ADMIN_KEY", "from-environment")
    assert load_settings(BASE).cursor.keys == ()


def test_constructing_settings_reads_nothing(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/abacus")
    monkeypatch.setenv("CURSOR_ADMIN_KEY", "from-environment")
    settings = Settings()
    assert settings.database.url is None and settings.cursor.keys == ()


def test_groups_validate_what_they_are_given():
    assert CursorSettings(keys="core=k1").keys == (ProviderKey("core", "k1"),)
    with pytest.raises(ValueError, match="GITHUB_ORG"):
        GitHubSettings(token="ghp_x")


def test_replace_changes_root_values_groups_and_single_group_fields():
    settings = Settings(cursor=CursorSettings(keys=(ProviderKey("core", "k"),)))
    changed = settings.replace(base_url="https://abacus.acme.io", github={"org": "acme", "token": "t"})
    assert changed.is_https and changed.oidc_redirect_uri == "https://abacus.acme.io/auth/callback"
    assert changed.github.configured and changed.cursor == settings.cursor
    assert settings.github.org is None  # the original is unchanged
    resolved = settings.with_services("postgresql+asyncpg://db/abacus", "redis://r:6379/0")
    assert (resolved.database.url, resolved.redis.url) == ("postgresql+asyncpg://db/abacus", "redis://r:6379/0")
    with pytest.raises(TypeError):
        settings.replace(github_org="acme")
    with pytest.raises(TypeError):
        settings.replace(github={"organisation": "acme"})
