"""Sign-in over HTTP: the real app, the real callback, the OIDC emulator, Redis-backed sessions."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from redis import Redis

from tests.support import sign_in

SESSION_COOKIE = "abacus_session"


def test_healthz_is_public(live_app):
    response = httpx.get(f"{live_app.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_full_round_trip_lands_on_the_overview(live_app, signed_in):
    client = signed_in("ada@example.com")
    assert client.last_response.status_code == 303
    assert client.last_response.headers["location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert "Mappings" in page.text  # ada is an admin


def test_next_is_honoured_and_sanitised(live_app):
    client = httpx.Client(base_url=live_app.url)
    first = client.get("/?range=7d")
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=/%3Frange%3D7d"
    login = client.get("/auth/login", params={"next": "/?range=7d", "login_hint": "grace@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    assert client.get(callback).headers["location"] == "/?range=7d"

    evil = httpx.Client(base_url=live_app.url)
    login = evil.get("/auth/login", params={"next": "//evil.example/x", "login_hint": "grace@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    assert evil.get(callback).headers["location"] == "/"


def test_login_hint_reaches_the_identity_provider(live_app):
    response = httpx.get(f"{live_app.url}/auth/login", params={"login_hint": "ada@example.com"})
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["login_hint"] == ["ada@example.com"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] and query["nonce"] and query["code_challenge"]


@pytest.mark.parametrize(
    ("email", "switches", "status", "text"),
    [
        ("mallory@evil.example", {}, 403, "Access denied. Your account is not authorized."),
        ("mallory@evil-example.com", {}, 403, "not authorized"),
        ("mallory@example.com.evil.io", {}, 403, "not authorized"),
        ("ada@example.com", {"email_verified": "false"}, 403, "not verified"),
        ("ada@example.com", {"hd": "other.example"}, 403, "not authorized"),
        ("ada@example.com", {"bad_nonce": "1"}, 400, "Authentication failed"),
    ],
)
def test_refusals_create_no_session(live_app, email, switches, status, text):
    client = sign_in(live_app.url, email, **switches)
    assert client.last_response.status_code == status
    assert text in client.last_response.text
    assert client.get("/").status_code == 303


def test_missing_or_wrong_state_is_refused(live_app):
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback = urlsplit(httpx.get(login.headers["location"]).headers["location"])
    code = parse_qs(callback.query)["code"][0]
    assert client.get("/auth/callback", params={"code": code}).status_code == 400
    stranger = httpx.Client(base_url=live_app.url)
    response = stranger.get("/auth/callback", params={"code": code, "state": "forged"})
    assert response.status_code == 400
    assert "state" in response.text
    assert stranger.get("/").status_code == 303


def test_replayed_code_is_refused(live_app):
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    authorize = httpx.URL(login.headers["location"]).copy_merge_params({"replayable": "1"})
    callback = httpx.get(authorize).headers["location"]
    assert client.get(callback).status_code == 303  # first use signs in
    # an attacker replays the same callback in a fresh browser with the state it observed
    attacker = httpx.Client(base_url=live_app.url)
    attacker.get("/auth/login", params={"login_hint": "ada@example.com"})
    assert attacker.get(callback).status_code == 400

    # without the replay switch the provider itself refuses the second redemption
    victim = httpx.Client(base_url=live_app.url)
    login = victim.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    victim_state = victim.cookies.get(SESSION_COOKIE)
    replay = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: victim_state})
    assert replay.get(callback).status_code == 303
    assert victim.get(callback).status_code == 400


def test_session_id_rotates_at_sign_in_and_sign_out_kills_it(live_app, services):
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    before = client.cookies.get(SESSION_COOKIE)
    assert before
    callback = httpx.get(login.headers["location"]).headers["location"]
    assert client.get(callback).status_code == 303
    after = client.cookies.get(SESSION_COOKIE)
    assert after and after != before
    redis = Redis.from_url(services.redis_url)
    keys = {k.decode() for k in redis.scan_iter(match="abacus:sessions*")}
    assert any(after in key for key in keys)
    assert not any(before in key for key in keys)

    page = client.get("/")
    csrf = client.cookies.get("abacus_csrf")
    assert page.status_code == 200 and csrf
    assert client.post("/auth/logout").status_code == 403  # no CSRF token
    assert client.get("/").status_code == 200
    out = client.post("/auth/logout", headers={"x-csrftoken": csrf})
    assert out.status_code == 303
    assert not any(after in k.decode() for k in redis.scan_iter(match="abacus:sessions*"))
    stolen = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: after})
    assert stolen.get("/").status_code == 303


def test_security_headers(live_app, signed_in):
    client = signed_in()
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["server-timing"].startswith("app;dur=")
    assert "db;dur=" in response.headers["server-timing"]
    assert "<script>" not in response.text and " style=" not in response.text


def test_session_cookie_is_httponly_and_lax(live_app):
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    response = client.get(callback)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
