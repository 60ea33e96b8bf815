"""PostgreSQL or Redis out of reach (the app pointed at a closed port): pages answer a clear 503 "temporarily
unavailable" page, /api a 503 JSON error, both with Retry-After — never a 500 or a stack trace (issue 10)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from abacus.web.errors import UNAVAILABLE_MESSAGE
from tests.support import ThreadedServer, app_settings, free_port, sign_in

SESSION_COOKIE = "abacus_session"


def _closed_port() -> int:
    return free_port()  # bound and released at once: nothing listens there


def _assert_unavailable_page(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"] == "30"
    assert response.headers["content-type"].startswith("text/html")
    assert "Temporarily unavailable" in response.text and "try again in a minute" in response.text
    assert "Traceback" not in response.text and "Error" not in response.text.split("<title>")[1][:40]
    assert "default-src 'self'" in response.headers["content-security-policy"]


def _assert_unavailable_json(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"] == "30"
    assert response.json() == {"error": UNAVAILABLE_MESSAGE}


@pytest.fixture(scope="module")
def app_without_redis(services: Any, oidc_server: ThreadedServer) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    settings = app_settings(services, f"{oidc_server.url}/oidc", redis={"url": f"redis://127.0.0.1:{_closed_port()}/0"})
    with ThreadedServer(create_app(settings), health_path="/healthz") as server:
        yield server


@pytest.fixture(scope="module")
def app_without_database(services: Any, oidc_server: ThreadedServer) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    port = free_port()
    url = f"postgresql+asyncpg://abacus@127.0.0.1:{_closed_port()}/abacus"
    settings = app_settings(
        services, f"{oidc_server.url}/oidc", database={"url": url}, base_url=f"http://127.0.0.1:{port}"
    )
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        yield server


def test_redis_down_pages_and_api_answer_503(app_without_redis: ThreadedServer) -> None:
    cookies = {SESSION_COOKIE: secrets.token_urlsafe(24)}  # a browser that was signed in: its session is unreadable
    client = httpx.Client(base_url=app_without_redis.url, cookies=cookies)
    _assert_unavailable_page(client.get("/team"))
    _assert_unavailable_page(client.get("/"))
    _assert_unavailable_json(client.get("/api/v1/users"))
    fragment = client.get("/team", headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert fragment.status_code == 503 and "try again in a minute" in fragment.text
    health = client.get("/healthz")  # with the cookie: the health check does not touch the session
    assert health.status_code == 503 and health.json()["redis"] == "unreachable"
    assert client.get("/static/app.css").status_code == 200
    # without a session cookie nothing needs Redis: the sign-in page still shows
    assert httpx.get(f"{app_without_redis.url}/sign-in").status_code == 200


def test_database_down_pages_and_api_answer_503(app_without_database: ThreadedServer) -> None:
    client = sign_in(app_without_database.url, "ada@example.com")  # sessions live in Redis, which is up
    assert client.last_response.status_code == 303  # type: ignore[attr-defined]
    for path in ("/", "/team", "/commits", "/status", "/mappings", "/users/ada@example.com"):
        _assert_unavailable_page(client.get(path))
    for path in ("/api/v1/users", "/api/v1/stats", "/api/v1/status"):
        _assert_unavailable_json(client.get(path))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["database"] == "unreachable"


@pytest.mark.parametrize("path", ["/export/usage.csv", "/export/team.csv", "/export/commits.csv"])
def test_database_down_downloads_answer_503_before_streaming(app_without_database: ThreadedServer, path: str) -> None:
    """A download reads its rows after the response has started; failing before the first byte it still gets the
    503 page, not a bare 500 or an empty file."""
    client = sign_in(app_without_database.url, "ada@example.com")
    response = client.get(path)
    assert response.status_code == 503, response.text[:300]
    assert "content-disposition" not in response.headers
    assert "try again in a minute" in response.text and "Traceback" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    api = client.get("/api/v1" + path)
    assert api.status_code == 503 and api.json() == {"error": UNAVAILABLE_MESSAGE}
