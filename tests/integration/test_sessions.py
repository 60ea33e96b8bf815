"""Server-side sessions: anonymous traffic stores nothing in Redis (issue 10 B5), and a sign-in link or callback from
another site cannot end a signed-in session (issue 10 B8)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from redis import Redis

from tests.support import ThreadedServer

SESSION_COOKIE = "abacus_session"
NAMESPACE = "abacus:sessions"
ANONYMOUS = [
    ("GET", "/healthz"),
    ("GET", "/static/app.css"),
    ("GET", "/sign-in"),
    ("GET", "/sign-in?next=/team"),
    ("GET", "/"),
    ("GET", "/team?range=7d"),
    ("GET", "/api/v1/users"),
    ("GET", "/no-such-page"),
    ("GET", "/auth/callback?code=x&state=y"),
    ("POST", "/webhooks/github"),
]


@pytest.fixture()
def redis(services: Any) -> Iterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    client.close()


def _session_cookies_set(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")]


@pytest.mark.parametrize("rounds", [6])
def test_anonymous_requests_store_no_session(live_app: ThreadedServer, redis: Redis, rounds: int) -> None:
    sent: list[str] = []
    for _ in range(rounds):
        for method, path in ANONYMOUS:
            value = secrets.token_urlsafe(24)
            sent.append(value)
            with_cookie = httpx.request(method, live_app.url + path, cookies={SESSION_COOKIE: value})
            assert with_cookie.status_code < 500 or path == "/webhooks/github"  # no secret configured: 503
            # a cookie naming no session is expired, never given a stored session
            assert all("null" in c for c in _session_cookies_set(with_cookie)), with_cookie.headers
            without = httpx.request(method, live_app.url + path)
            assert _session_cookies_set(without) == []  # nothing stored, so no id handed out
    assert len(sent) == rounds * len(ANONYMOUS)
    assert redis.exists(*(f"{NAMESPACE}:{value}" for value in sent)) == 0


def test_a_session_is_stored_once_sign_in_starts_and_removed_at_sign_out(
    live_app: ThreadedServer, redis: Redis
) -> None:
    client = httpx.Client(base_url=live_app.url)
    assert client.get("/sign-in").status_code == 200
    assert client.cookies.get(SESSION_COOKIE) is None
    login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
    pending = client.cookies.get(SESSION_COOKIE)
    assert login.status_code == 302 and pending and redis.exists(f"{NAMESPACE}:{pending}")
    assert client.get(httpx.get(login.headers["location"]).headers["location"]).status_code == 303
    signed_in = client.cookies.get(SESSION_COOKIE)
    assert redis.exists(f"{NAMESPACE}:{signed_in}") and not redis.exists(f"{NAMESPACE}:{pending}")
    assert client.get("/").status_code == 200
    client.post("/auth/logout", headers={"x-csrftoken": client.cookies.get("abacus_csrf") or ""})
    assert not redis.exists(f"{NAMESPACE}:{signed_in}")


@pytest.mark.parametrize(
    "path",
    [
        "/auth/login",
        "/auth/login?next=https://evil.example/",
        "/auth/login?login_hint=mallory@evil.example",
        "/auth/callback",
        "/auth/callback?code=abc",
        "/auth/callback?code=abc&state=forged",
        "/auth/callback?error=access_denied&state=forged",
    ],
)
def test_sign_in_links_from_elsewhere_do_not_sign_a_person_out(
    live_app: ThreadedServer, signed_in: Callable[..., httpx.Client], path: str
) -> None:
    client = signed_in("ada@example.com")
    before = client.cookies.get(SESSION_COOKIE)
    response = client.get(path)
    if path.startswith("/auth/login"):
        assert response.status_code == 303 and response.headers["location"] == "/"
    else:
        assert response.status_code == 400 and "state" in response.text
    assert client.cookies.get(SESSION_COOKIE) == before
    page = client.get("/")
    assert page.status_code == 200 and "ada@example.com" in page.text


def test_a_forged_callback_does_not_spoil_a_sign_in_under_way(live_app: ThreadedServer) -> None:
    client = httpx.Client(base_url=live_app.url)
    login = client.get("/auth/login", params={"login_hint": "grace@example.com"})
    callback = httpx.get(login.headers["location"]).headers["location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert client.get("/auth/callback", params={"code": code, "state": "forged"}).status_code == 400
    assert client.get("/auth/callback", params={"code": code}).status_code == 400
    assert client.get(callback).status_code == 303  # the real answer still signs in (PKCE, state, nonce checked)
    assert "grace@example.com" in client.get("/").text
