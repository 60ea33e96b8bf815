"""Attacks on sign-in, over HTTP through the real callback and the OIDC emulator: every hostile ID token the emulator
can mint (emulators/oidc.py HOSTILE_TOKENS), state and nonce mismatches, replayed codes, open-redirect `next`
values, session fixation and sign-out. A refusal creates no session; only a correct token signs anyone in.
(test_sign_in.py covers the allow-list, email_verified, hd, a forged state and the replay switch.)"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from redis import Redis

from abacus.emulators.oidc import HOSTILE_TOKENS
from tests.support import sign_in

SESSION_COOKIE = "abacus_session"
ACCEPTED_TOKENS = {"aud_list_azp"}  # several audiences, but azp names this client (OIDC Core 3.1.3.7)


def _signed_in(client: httpx.Client) -> bool:
    return client.get("/").status_code == 200


def test_every_hostile_switch_is_tried():
    assert len(HOSTILE_TOKENS) >= 15


@pytest.mark.parametrize("attack", sorted(HOSTILE_TOKENS))
def test_hostile_id_tokens_are_refused(live_app, attack):
    client = sign_in(live_app.url, "ada@example.com", id_token=attack)
    try:
        response = client.last_response  # type: ignore[attr-defined]
        if attack in ACCEPTED_TOKENS:
            assert response.status_code == 303, response.text[:300]
            assert _signed_in(client)
            return
        assert response.status_code == 400, f"{attack} ({HOSTILE_TOKENS[attack]}) → {response.status_code}"
        assert "Authentication failed" in response.text
        assert "Traceback" not in response.text
        assert not _signed_in(client)
        # the pending sign-in is spent: the session cookie, if any, carries nothing usable
        assert client.get("/api/v1/status").status_code == 401
    finally:
        client.close()


def test_nonce_from_another_login_is_refused(live_app):
    """A code minted for login A redeemed by the browser of login B: the state of B does not match."""
    a = httpx.Client(base_url=live_app.url)
    b = httpx.Client(base_url=live_app.url)
    login_a = a.get("/auth/login", params={"login_hint": "ada@example.com"})
    b.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback_a = httpx.get(login_a.headers["location"]).headers["location"]
    assert b.get(callback_a).status_code == 400
    assert not _signed_in(b)
    # the state of B with the code of A: the nonce inside A's token is not B's
    login_b = b.get("/auth/login", params={"login_hint": "ada@example.com"})
    state_b = parse_qs(urlsplit(login_b.headers["location"]).query)["state"][0]
    code_a = parse_qs(urlsplit(callback_a).query)["code"][0]
    response = b.get("/auth/callback", params={"code": code_a, "state": state_b})
    assert response.status_code == 400
    assert not _signed_in(b)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"state": ""},
        {"code": ""},
        {"code": "x" * 5000, "state": "y" * 5000},
        {"error": "access_denied"},
        {"code": "\x00", "state": "\x00"},
        {"code": "abc", "state": "abc", "error": "<script>"},
    ],
    ids=["nothing", "empty-state", "empty-code", "huge", "idp-error", "nul", "script"],
)
def test_callback_garbage_is_a_400_without_a_session(live_app, params):
    client = httpx.Client(base_url=live_app.url)
    client.get("/auth/login", params={"login_hint": "ada@example.com"})
    response = client.get("/auth/callback", params=params)
    assert response.status_code == 400, response.text[:300]
    assert "<script>" not in response.text
    assert not _signed_in(client)


def test_a_code_is_redeemed_once(live_app):
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    assert client.get(callback).status_code == 303
    again = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: client.cookies.get(SESSION_COOKIE) or ""})
    assert again.get(callback).status_code == 400  # the pending sign-in was consumed with the first redemption


# ---- open redirects ---------------------------------------------------------------------------------------------

SAFE_NEXT = ["/team", "/team?range=7d", "/users/ada%40example.com", "/?a=b&c=d"]
HOSTILE_NEXT = [
    "//evil.example",
    "//evil.example/x",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "https://evil.example",
    "http://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "@evil.example",
    "/@evil.example:x",
    "/javascript:alert(1)",
    " //evil.example",
    "%2F%2Fevil.example",
    "/%09/evil.example",
    "/\x00/evil.example",
    "https:/evil.example",
    "http:\\\\evil.example",
    "//evil.example%2F@127.0.0.1",
    "//127.0.0.1@evil.example",
    "/.//evil.example/..",
    "\u3002evil.example",
    "//evil\u3002example",
    "/\u2215\u2215evil.example",
]


def _landing(live_app, next_value: str) -> str:
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"next": next_value, "login_hint": "grace@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    response = client.get(callback)
    assert response.status_code == 303
    return response.headers["location"]


@pytest.mark.parametrize("value", SAFE_NEXT)
def test_relative_next_is_kept(live_app, value):
    assert _landing(live_app, value) == value


@pytest.mark.parametrize("value", HOSTILE_NEXT, ids=[repr(v)[:40] for v in HOSTILE_NEXT])
def test_open_redirect_variants_land_on_this_site(live_app, value):
    if "\x00" in value:  # refused before any redirect (web/params.py refuse_nul_input)
        assert httpx.get(f"{live_app.url}/auth/login", params={"next": value}).status_code == 400
        return
    location = _landing(live_app, value)
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    # the browser's view: resolve against the site and it must stay on the site
    resolved = httpx.URL(live_app.url).join(location)
    assert resolved.host == "127.0.0.1", location


@pytest.mark.parametrize("value", HOSTILE_NEXT[:8], ids=[repr(v)[:40] for v in HOSTILE_NEXT[:8]])
def test_sign_in_page_never_links_off_site(live_app, value):
    page = httpx.get(f"{live_app.url}/sign-in", params={"next": value})
    assert page.status_code == 200
    assert "evil.example" not in page.text


# ---- sessions ---------------------------------------------------------------------------------------------------


def test_a_planted_session_id_is_never_promoted(live_app, services):
    """Fixation: the attacker sets the victim's cookie to an id it knows; after sign-in the id is a fresh one and
    the planted id gives the attacker nothing."""
    planted = "attacker-chosen-session-id-000000000000"
    victim = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: planted})
    login = victim.get("/auth/login", params={"login_hint": "ada@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    done = victim.get(callback)
    assert done.status_code == 303
    issued = done.cookies.get(SESSION_COOKIE)
    assert issued and issued != planted
    attacker = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: planted})
    assert not _signed_in(attacker)
    redis = Redis.from_url(services.redis_url)
    assert not any(planted in key.decode() for key in redis.scan_iter(match="abacus:sessions*"))


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "a" * 4096, "../../etc/passwd", "*", "abacus:sessions:*", "%00", "\u00e9"],
    ids=["empty", "short", "huge", "traversal", "glob", "namespace", "nul", "latin1"],
)
def test_forged_session_cookies_are_anonymous(live_app, cookie):
    response = httpx.get(
        f"{live_app.url}/status",
        headers={"cookie": f"{SESSION_COOKIE}={cookie}".encode()},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_sign_out_needs_post_and_csrf_and_ends_every_use_of_the_cookie(live_app, signed_in):
    client = signed_in("grace@example.com")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert client.get("/auth/logout").status_code in (404, 405)  # no GET sign-out a link could trigger
    assert client.post("/auth/logout", headers={"x-csrftoken": "forged"}).status_code == 403
    assert _signed_in(client)
    client.get("/")
    csrf = client.cookies.get("abacus_csrf")
    assert client.post("/auth/logout", headers={"x-csrftoken": csrf}).status_code == 303
    replay = httpx.Client(base_url=live_app.url, cookies={SESSION_COOKIE: cookie or ""})
    assert not _signed_in(replay)


def test_hostile_login_hint_is_harmless(live_app):
    nul = httpx.get(f"{live_app.url}/auth/login", params={"login_hint": "\x00@example.com"})
    assert nul.status_code == 400 and "contains a NUL character" in nul.text  # refused before the IdP
    for hint in ("<script>alert(1)</script>@example.com", "a@example.com\r\nSet-Cookie: x=y"):
        client = sign_in(live_app.url, hint)
        response = client.last_response  # type: ignore[attr-defined]
        assert response.status_code in (303, 400, 403), (hint, response.status_code)
        assert "<script>alert(1)" not in response.text
        assert "x=y" not in response.headers.get("set-cookie", "")
