import pytest

from abacus.settings import SettingsError, load_settings, parse_provider_keys

BASE = {"OIDC_CLIENT_ID": "abacus", "OIDC_CLIENT_SECRET": "dev", "ABACUS_ENV": "dev"}


def test_defaults_for_a_dev_setup():
    settings = load_settings(BASE)
    assert settings.env == "dev"
    assert settings.oidc_issuer == "https://accounts.google.com"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.anthropic_keys == () and settings.cursor_keys == ()
    assert len(settings.secret_key) >= 32


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"}, "ABACUS_SECRET_KEY"),
        ({"ABACUS_ENV": "staging"}, "ABACUS_ENV"),
        ({"OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"),
        ({"OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"ABACUS_BASE_URL": "not a url"}, "ABACUS_BASE_URL"),
        ({"GITHUB_TOKEN": "ghp_x"}, "GITHUB_ORG"),
        ({"GITHUB_APP_ID": "1"}, "GITHUB_APP_PRIVATE_KEY"),
        ({"GITHUB_BACKFILL_DAYS": "ninety"}, "GITHUB_BACKFILL_DAYS"),
        ({"ABACUS_SECRET_KEY": "short"}, "ABACUS_SECRET_KEY"),
        ({"ANTHROPIC_ADMIN_KEYS": "sk-1,sk-2"}, "ANTHROPIC_ADMIN_KEYS"),
        ({"CURSOR_ADMIN_KEYS": "a=k1,a=k2"}, "CURSOR_ADMIN_KEYS"),
    ],
)
def test_invalid_settings_name_the_variable(env, named):
    with pytest.raises(SettingsError) as excinfo:
        load_settings({**BASE, **env})
    assert named in str(excinfo.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(SettingsError) as excinfo:
        load_settings({"ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"})
    message = str(excinfo.value)
    for name in ("ABACUS_SECRET_KEY", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
        assert name in message


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
    assert settings.oidc_client_id == "g"
    assert settings.allowed_domains == ("example.com", "acme.io")
    assert settings.is_admin("ada@example.com") and not settings.is_admin("bob@example.com")


def test_secrets_do_not_appear_in_repr():
    settings = load_settings(
        {**BASE, "ANTHROPIC_ADMIN_KEY": "sk-ant-admin01-secret", "GITHUB_TOKEN": "ghp_secret", "GITHUB_ORG": "acme"}
    )
    assert "secret" not in repr(settings).replace("secret_key", "")


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
    assert settings.github_app_private_key == "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END"


def test_local_runs_share_one_generated_key_and_real_deployments_need_one():
    local = load_settings({**BASE, "ABACUS_ENV": "production"})
    again = load_settings({**BASE, "ABACUS_ENV": "demo"})
    assert local.secret_key == again.secret_key and len(local.secret_key) >= 32
    with pytest.raises(SettingsError, match="ABACUS_SECRET_KEY"):
        load_settings({**BASE, "ABACUS_ENV": "production", "ABACUS_BASE_URL": "https://abacus.acme.io"})
    explicit = load_settings({**BASE, "ABACUS_SECRET_KEY": "k" * 40})
    assert explicit.secret_key == "k" * 40
