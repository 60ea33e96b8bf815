"""Responses Litestar makes outside a route (router 404/405, the CSRF 403) carry the security headers of every other
response and are logged with their real status (issue 10 B4)."""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support import ThreadedServer

CSP = "default-src 'self'; frame-ancestors 'none'"


def _assert_security_headers(response: httpx.Response) -> None:
    assert CSP in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["server-timing"].startswith("app;dur=")


def _request_log(logs: list[MutableMapping[str, Any]], path: str) -> MutableMapping[str, Any]:
    deadline = time.time() + 5
    while time.time() < deadline:  # the server thread logs after the last body byte is sent
        lines = [e for e in logs if e.get("event") == "request" and e.get("path") == path]
        if lines:
            return lines[-1]
        time.sleep(0.02)
    pytest.fail(f"no request log line for {path}")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("GET", "/api/v1/no-such-route", 404),
        ("POST", "/healthz", 405),
        ("DELETE", "/team", 405),
    ],
)
def test_router_404_and_405_carry_security_headers_and_are_logged(
    live_app: ThreadedServer, method: str, path: str, status: int
) -> None:
    with capture_logs() as logs:
        response = httpx.request(method, f"{live_app.url}{path}")
        line = _request_log(logs, path)
    assert response.status_code == status
    _assert_security_headers(response)
    assert line["status"] == status and line["method"] == method


def test_csrf_refusal_is_a_403_with_security_headers_logged_as_403(
    live_app: ThreadedServer, signed_in: Callable[..., httpx.Client]
) -> None:
    client = signed_in()
    with capture_logs() as logs:
        response = client.post("/auth/logout")
        line = _request_log(logs, "/auth/logout")
    assert response.status_code == 403
    _assert_security_headers(response)
    assert line["status"] == 403
    assert not [e for e in logs if e.get("log_level") == "error"]
    assert client.get("/").status_code == 200  # the refused post changed nothing


def test_hsts_on_every_response_when_the_base_url_is_https(services: Any, oidc_server: ThreadedServer) -> None:
    from abacus.app import create_app
    from tests.support import app_settings

    settings = app_settings(services, f"{oidc_server.url}/oidc", base_url="https://abacus.example")
    with ThreadedServer(create_app(settings), health_path="/healthz") as server:
        for method, path, status in (("GET", "/no-such-page", 404), ("POST", "/healthz", 405), ("GET", "/", 303)):
            response = httpx.request(method, server.url + path)
            assert response.status_code == status
            assert response.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
            _assert_security_headers(response)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/no-such-page", "There is no page at /no-such-page."),
        ("/<script>x", "There is no page at /&lt;script&gt;x."),
        ("/" + "a" * 300, "There is no page at /" + "a" * 119 + "…."),
    ],
)
def test_a_path_no_route_has_says_so_in_words(live_app: ThreadedServer, path: str, says: str) -> None:
    page = httpx.get(f"{live_app.url}{path}")
    assert page.status_code == 404 and says in page.text and "Back to Overview" in page.text
    api = httpx.get(f"{live_app.url}/api/v1{path}", headers={"accept": "application/json"})
    assert api.status_code == 404 and api.json()["error"].startswith("No route at /api/v1/")
