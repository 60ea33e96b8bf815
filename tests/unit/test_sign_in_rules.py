import pytest

from abacus.auth.oidc import SignInError, authorize_claims, safe_next
from abacus.settings import load_settings

EXAMPLE = load_settings(
    {
        "OIDC_CLIENT_ID": "a",
        "OIDC_CLIENT_SECRET": "b",
        "ABACUS_ENV": "dev",
        "ABACUS_ALLOWED_DOMAINS": "example.com",
        "OIDC_ISSUER": "http://127.0.0.1:1/oidc",
    }
)
GOOGLE = load_settings(
    {"OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b", "ABACUS_ENV": "dev", "ABACUS_ALLOWED_DOMAINS": "example.com"}
)
OPEN = load_settings({"OIDC_CLIENT_ID": "a", "OIDC_CLIENT_SECRET": "b", "ABACUS_ENV": "dev"})


@pytest.mark.parametrize(
    ("settings", "claims", "allowed"),
    [
        (EXAMPLE, {"email": "ada@example.com", "email_verified": True}, True),
        (EXAMPLE, {"email": "Ada@Example.COM", "email_verified": True, "hd": "example.com"}, True),
        (EXAMPLE, {"email": "ada@evil-example.com", "email_verified": True}, False),
        (EXAMPLE, {"email": "ada@example.com.evil.io", "email_verified": True}, False),
        (EXAMPLE, {"email": "ada@sub.example.com", "email_verified": True}, False),
        (EXAMPLE, {"email": "ada@example.com", "email_verified": False}, False),
        (EXAMPLE, {"email": "ada@example.com", "email_verified": "true"}, False),
        (EXAMPLE, {"email": "ada@example.com"}, False),
        (EXAMPLE, {"email_verified": True}, False),
        (EXAMPLE, {"email": "ada@example.com", "email_verified": True, "hd": "other.com"}, False),
        (GOOGLE, {"email": "ada@example.com", "email_verified": True, "hd": "example.com"}, True),
        (GOOGLE, {"email": "ada@example.com", "email_verified": True}, False),
        (OPEN, {"email": "x@anything.io", "email_verified": True}, True),
        (OPEN, {"email": "x@anything.io", "email_verified": True, "hd": "else.io"}, False),
    ],
)
def test_sign_in_rules(settings, claims, allowed):
    if allowed:
        assert authorize_claims(claims, settings).email == claims["email"].lower()
    else:
        with pytest.raises(SignInError) as excinfo:
            authorize_claims(claims, settings)
        assert excinfo.value.status == 403


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/team?range=7d", "/team?range=7d"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("team", "/"),
        ("/a\nb", "/"),
        ("/users/ada@example.com", "/users/ada@example.com"),
    ],
)
def test_next_is_only_a_relative_path(value, expected):
    assert safe_next(value) == expected
