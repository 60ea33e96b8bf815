"""A NUL byte anywhere a request carries text — a path segment, a query parameter, a form field of any POST form —
answers 400 naming the parameter before any handler runs (PostgreSQL text cannot hold NUL): never a 500, never a
query, never a started download (issue 10 B2). The routes and forms are enumerated from the app itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute
from markupsafe import escape
from sqlalchemy import text

from abacus.db import create_engine
from tests.support import ThreadedServer, run_async

NOT_FORMS = {"/webhooks/github"}  # JSON, HMAC-verified (its body rules are tested in test_webhook.py)


def _routes() -> list[HTTPRoute]:
    from abacus.app import create_app
    from abacus.settings import load_settings
    from tests.support import dev_env

    settings = load_settings(dev_env("http://127.0.0.1:9/oidc")).with_services(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", "redis://127.0.0.1:9/0"
    )
    return [r for r in create_app(settings).routes if isinstance(r, HTTPRoute)]


ROUTES = _routes()
GET_PATHS = sorted(r.path_format for r in ROUTES if "GET" in r.methods)
POST_PATHS = sorted(r.path_format for r in ROUTES if "POST" in r.methods and r.path_format not in NOT_FORMS)
WITH_PATH_PARAMS = sorted((r.path_format, name) for r in ROUTES if "GET" in r.methods for name in r.path_parameters)


def _fill(path_format: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "x"), path_format)


def _assert_names(response: httpx.Response, param: str) -> None:
    message = f"Invalid parameter '{param}': contains a NUL character"
    assert response.status_code == 400, (response.status_code, response.text[:300])
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["error"] == message
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert str(escape(message)) in response.text


@pytest.fixture(scope="module")
def admin(live_app: ThreadedServer) -> Iterator[httpx.Client]:
    from tests.support import sign_in

    client = sign_in(live_app.url, "ada@example.com")
    assert client.get("/").status_code == 200
    yield client
    client.close()


def test_every_route_runs_the_nul_check() -> None:
    """A route (or router) with a before_request of its own would replace the app's check: there is none."""
    from abacus.web.params import refuse_nul_input

    for route in ROUTES:
        for handler in route.route_handlers:
            assert handler.resolve_before_request() is refuse_nul_input, (route.path, handler)


def test_the_app_has_forms_and_parameterised_routes() -> None:
    assert {"/mappings", "/mappings/delete", "/mappings/import", "/status/sync"} <= set(POST_PATHS)
    assert ("/users/{email}", "email") in WITH_PATH_PARAMS


@pytest.mark.parametrize("path", GET_PATHS)
def test_nul_in_a_query_parameter_is_400_on_every_route(admin: httpx.Client, path: str) -> None:
    _assert_names(admin.get(_fill(path) + "?search=a%00b"), "search")


@pytest.mark.parametrize(("path", "param"), WITH_PATH_PARAMS)
def test_nul_in_a_path_parameter_is_400(admin: httpx.Client, path: str, param: str) -> None:
    _assert_names(admin.get(_fill(path, **{param: "ada%00%40example.com"})), param)


def test_team_export_refuses_nul_search_before_streaming(admin: httpx.Client) -> None:
    with admin.stream("GET", "/export/team.csv", params={"search": "\x00"}) as response:
        body = response.read()
    assert response.status_code == 400 and b"contains a NUL character" in body
    assert "content-disposition" not in response.headers and "text/csv" not in response.headers["content-type"]


async def _mapping_rows(database_url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text("SELECT * FROM identity_mappings ORDER BY 1, 2"))]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("field", ["source", "external_id", "email", "organization_id"])
def test_nul_in_any_form_field_is_400_and_changes_nothing(
    admin: httpx.Client, database_url: str, path: str, field: str
) -> None:
    before = run_async(_mapping_rows(database_url))
    form = {"source": "cursor", "external_id": "someone", "email": "grace@example.com", "organization_id": "org"}
    form[field] = form[field][:2] + "\x00" + form[field][2:]
    headers = {"x-csrftoken": admin.cookies.get("abacus_csrf") or ""}
    _assert_names(admin.post(path, data=form, headers=headers), field)
    # the same as multipart (the CSV import form's encoding), with and without htmx
    files = {"file": ("usage.csv", b"Date,User\n", "text/csv")}
    _assert_names(admin.post(path, data=form, files=files, headers=headers), field)
    _assert_names(admin.post(path, data=form, headers={**headers, "HX-Request": "true"}), field)
    assert run_async(_mapping_rows(database_url)) == before


def test_nul_in_a_form_field_name_is_400(admin: httpx.Client) -> None:
    headers = {"x-csrftoken": admin.cookies.get("abacus_csrf") or ""}
    response = admin.post("/mappings", data={"sour\x00ce": "cursor"}, headers=headers)
    assert response.status_code == 400 and "form field name contains a NUL character" in response.text


def test_unsigned_visitors_still_get_the_sign_in_redirect(live_app: ThreadedServer) -> None:
    """The check runs after the guards: an anonymous request learns nothing more than the sign-in redirect."""
    assert httpx.get(f"{live_app.url}/team?search=%00").status_code == 303
    assert httpx.get(f"{live_app.url}/api/v1/users/%00").status_code == 401
