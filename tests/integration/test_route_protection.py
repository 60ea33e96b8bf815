"""Every route the app registers is protected unless the spec lists it as public — found by enumeration."""

import re

import httpx
import pytest

from abacus.app import create_app
from tests.support import app_settings

PUBLIC = {
    ("GET", "/sign-in"),
    ("GET", "/auth/login"),
    ("GET", "/auth/callback"),
    ("GET", "/healthz"),
    ("POST", "/webhooks/github"),
    ("POST", "/otlp/v1/metrics"),  # beyond.md §7: public but token-gated
}


def _routes(services):
    app = create_app(app_settings(services, "http://127.0.0.1:9/oidc"))
    found = []
    for route in app.routes:
        for method, entry in getattr(route, "route_handler_map", {}).items():
            if method in ("HEAD", "OPTIONS"):
                continue
            handler = entry[0] if isinstance(entry, tuple) else entry
            found.append((method, route.path, handler))
    return found


def _concrete(path: str) -> str:
    values = {"email": "ada@example.com", "slug": "plan-mode", "path": "openapi.json"}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), "x"), path)


def test_route_table_is_not_trivially_small(services):
    paths = {path for _, path, _ in _routes(services)}
    assert {"/", "/status", "/tips", "/healthz", "/sign-in"} <= paths


def test_every_non_public_route_requires_a_session(services, live_app):
    checked = 0
    for method, path, handler in _routes(services):
        if path.startswith("/static"):
            assert handler.opt.get("public")
            continue
        if (method, path) in PUBLIC:
            assert handler.opt.get("public"), f"{method} {path} should be public"
            continue
        assert not handler.opt.get("public"), f"{method} {path} is public but the spec does not list it"
        url = live_app.url + _concrete(path)
        # unsafe methods without a session are refused before CSRF matters: send a token pair anyway
        response = httpx.request(
            method, url, follow_redirects=False, headers={"x-csrftoken": "t"}, cookies={"abacus_csrf": "t"}
        )
        if path.startswith("/api/"):
            assert response.status_code == 401, f"{method} {path} → {response.status_code}"
            assert response.json() == {"error": "Unauthorized"}
        elif method == "GET":
            assert response.status_code == 303, f"{method} {path} → {response.status_code}"
            assert response.headers["location"].startswith("/sign-in?next=")
        else:
            assert response.status_code in (303, 403), f"{method} {path} → {response.status_code}"
        checked += 1
    assert checked >= 5


def test_htmx_requests_get_hx_redirect_instead_of_a_page(live_app):
    response = httpx.get(
        f"{live_app.url}/status", headers={"HX-Request": "true", "HX-Current-URL": f"{live_app.url}/status?x=1"}
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/sign-in?next=/status%3Fx%3D1"


@pytest.mark.parametrize("path", ["/api/openapi.json"])
def test_openapi_schema_needs_a_session(live_app, path):
    assert httpx.get(live_app.url + path).status_code == 401
