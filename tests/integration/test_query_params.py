"""Query-string parameters are shared Litestar dependencies (web/params.py): the OpenAPI document still lists every
parameter of each JSON route, and a bad value answers 400 naming the parameter, on pages and JSON alike — including
hostile values (a superscript digit, a 5,000-digit number, a NUL byte) that must never reach int() or PostgreSQL."""

from __future__ import annotations

import pytest
from markupsafe import escape

from tests import seed

RANGE = {"start", "end", "range", "days"}
OPENAPI_PARAMETERS = {
    "/api/v1/stats": RANGE | {"comparison", "team"},
    "/api/v1/stats/lifetime": set(),
    "/api/v1/trends": RANGE | {"team"},
    "/api/v1/models": RANGE | {"team"},
    "/api/v1/models/trends": RANGE | {"view", "team"},
    "/api/v1/users": RANGE | {"search", "limit", "offset", "team"},
    "/api/v1/users/pivot": RANGE | {"search", "sort_by", "sort_dir", "limit", "offset", "team"},
    "/api/v1/users/{email}": RANGE | {"email", "comparison"},
    "/api/v1/users/{email}/raw-usage": RANGE | {"email", "page", "limit", "tool", "model"},
    "/api/v1/users/{email}/percentile": RANGE | {"email"},
    "/api/v1/stats/commits": RANGE | {"comparison", "team"},
    "/api/v1/commits/trends": RANGE | {"comparison", "team"},
    "/api/v1/commits/pivot": RANGE | {"search", "sort_by", "sort_dir", "limit", "offset", "team"},
    "/api/v1/repositories/{owner}/{repo}": RANGE
    | {"owner", "repo", "comparison", "commits_limit", "commits_offset", "ai_filter"},
    "/api/v1/status": set(),
    "/api/v1/mappings": {"source"},
}
PATH_PARAMETERS = {"email", "owner", "repo"}


@pytest.fixture(scope="module")
def openapi(page_client):
    response = page_client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_every_json_route_is_listed(openapi):
    assert set(OPENAPI_PARAMETERS) <= set(openapi["paths"])


@pytest.mark.parametrize(("path", "expected"), OPENAPI_PARAMETERS.items(), ids=list(OPENAPI_PARAMETERS))
def test_openapi_lists_every_parameter(openapi, path, expected):
    parameters = openapi["paths"][path]["get"].get("parameters", [])
    assert {p["name"] for p in parameters} == expected
    for p in parameters:
        assert p["in"] == ("path" if p["name"] in PATH_PARAMETERS else "query"), p
        assert p["required"] is (p["in"] == "path"), p
        if p["in"] == "query":
            assert p.get("description"), f"{path} {p['name']} is undocumented"


def test_routes_document_their_own_bounds(openapi):
    def described(path, name):
        return next(p["description"] for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == name)

    assert described("/api/v1/users", "limit") == "1–100, default 50"
    assert described("/api/v1/users/pivot", "limit") == "1–1000, default 500"
    assert described("/api/v1/commits/pivot", "limit") == "1–1000, default 500"
    assert described("/api/v1/repositories/{owner}/{repo}", "commits_limit") == "1–100, default 50"
    assert "email" in described("/api/v1/users", "search")
    assert "full name" in described("/api/v1/commits/pivot", "search")


LONG = "9" * 5000
ADA = "/api/v1/users/ada%40example.com"

JSON_400 = [
    # the messages the routes have always given
    ("/api/v1/users?limit=101", "limit", "101 is outside 1–100"),
    ("/api/v1/users?offset=x", "offset", "'x' is not a whole number"),
    ("/api/v1/users?search=" + "x" * 101, "search", "longer than 100 characters"),
    ("/api/v1/stats?comparison=maybe", "comparison", "'maybe' is not one of true, false"),
    ("/api/v1/trends?range=2d", "range", "range must be one of 7d, 30d, 90d, 1y"),
    ("/api/v1/models?start=2026-01-01", "end", "end is required when start is given"),
    ("/api/v1/models/trends?view=users", "view", "'users' is not one of models, tools"),
    ("/api/v1/users/pivot?sort_dir=up", "sort_dir", "'up' is not one of asc, desc"),
    ("/api/v1/commits/pivot?limit=1001", "limit", "1001 is outside 1–1000"),
    ("/api/v1/repositories/acme/web?commits_offset=x", "commits_offset", "'x' is not a whole number"),
    ("/api/v1/repositories/acme/web?commits_limit=0", "commits_limit", "0 is outside 1–100"),
    (ADA + "/raw-usage?page=-1", "page", "'-1' is not a whole number"),
    (ADA + "/raw-usage?tool=windsurf", "tool", "'windsurf' has no usage for this user in the selected range"),
    ("/api/v1/mappings?source=gitlab", "source", "'gitlab' is not one of claude_code, cursor, github, otel"),
    ("/api/v1/export/usage.csv?view=people", "view", "'people' is not one of models, tools"),
    # hostile values: 400, never a 500
    ("/api/v1/users?limit=²", "limit", "'²' is not a whole number"),
    ("/api/v1/users?offset=" + LONG, "offset", "99999999999999999999… is outside 0–1000000"),
    ("/api/v1/users/pivot?limit=١٠", "limit", "'١٠' is not a whole number"),
    ("/api/v1/commits/pivot?offset=²", "offset", "'²' is not a whole number"),
    ("/api/v1/repositories/acme/web?commits_limit=" + LONG, "commits_limit", "99999999999999999999… is outside 1–100"),
    (ADA + "/raw-usage?page=²", "page", "'²' is not a whole number"),
    (ADA + "/raw-usage?limit=" + LONG, "limit", "99999999999999999999… is outside 1–100"),
    ("/api/v1/users?search=a%00b", "search", "contains a NUL character"),
    ("/api/v1/users/pivot?search=%00", "search", "contains a NUL character"),
    ("/api/v1/commits/pivot?search=%00", "search", "contains a NUL character"),
    ("/api/v1/export/team.csv?search=%00", "search", "contains a NUL character"),
    ("/api/v1/export/commits.csv?search=%00", "search", "contains a NUL character"),
    (ADA + "/raw-usage?tool=%00", "tool", "contains a NUL character"),
    (ADA + "/raw-usage?model=claude%00", "model", "contains a NUL character"),
    ("/api/v1/users/ada%00%40example.com", "email", "contains a NUL character"),
    ("/api/v1/users/%00/percentile", "email", "contains a NUL character"),
    ("/api/v1/users/" + "a" * 256, "email", "longer than 255 characters"),
    ("/api/v1/repositories/acme%00/web", "owner", "contains a NUL character"),
    ("/api/v1/repositories/acme/web%00", "repo", "contains a NUL character"),
    ("/api/v1/commits/pivot?sort_dir=%00", "sort_dir", "contains a NUL character"),
]


@pytest.mark.parametrize(("url", "param", "message"), JSON_400, ids=[u[:70] for u, _, _ in JSON_400])
def test_bad_values_are_json_400(page_client, url, param, message):
    response = page_client.get(url)
    assert response.status_code == 400, response.text[:300]
    assert response.json() == {"error": f"Invalid parameter '{param}': {message}", "parameter": param}


PAGE_400 = [
    ("/team?page=²", "page", "'²' is not a whole number"),
    ("/team?page=" + LONG, "page", "99999999999999999999… is outside 1–1000000"),
    ("/team?search=%00", "search", "contains a NUL character"),
    ("/team?dir=up", "dir", "'up' is not one of asc, desc"),
    ("/commits?page=²", "page", "'²' is not a whole number"),
    ("/commits?search=a%00", "search", "contains a NUL character"),
    ("/commits?cols=fullName,nope", "cols", "unknown column(s) nope"),
    ("/repositories/acme/web?page=²", "page", "'²' is not a whole number"),
    ("/repositories/acme/web?filter=bots", "filter", "'bots' is not one of all, ai, human"),
    ("/users/ada%40example.com?tab=raw&page=²", "page", "'²' is not a whole number"),
    ("/users/ada%40example.com?tab=raw&model=%00", "model", "contains a NUL character"),
    ("/users/ada%40example.com?tab=stats", "tab", "'stats' is not one of overview, raw"),
    ("/users/ada%00", "email", "contains a NUL character"),
    ("/repositories/acme%00/web", "owner", "contains a NUL character"),
    ("/mappings?page=²", "page", "'²' is not a whole number"),
    ("/mappings?search=%00", "search", "contains a NUL character"),
    ("/mappings?status=done", "status", "'done' is not one of unmapped, mapped, all"),
    ("/usage?view=chart", "view", "'chart' is not one of models, tools"),
    ("/?trend=2", "trend", "'2' is not one of 0, 1"),
    ("/export/team.csv?search=%00", "search", "contains a NUL character"),
    ("/export/usage.csv?range=2w", "range", "range must be one of 7d, 30d, 90d, 1y"),
]


@pytest.mark.parametrize(("url", "param", "message"), PAGE_400, ids=[u[:70] for u, _, _ in PAGE_400])
def test_bad_values_are_400_pages(page_client, url, param, message):
    response = page_client.get(url)
    assert response.status_code == 400, response.text[:300]
    assert str(escape(f"Invalid parameter '{param}': {message}")) in response.text
    fragment = page_client.get(url, headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert fragment.status_code == 400


def test_good_values_still_work(page_client):
    """Defaults and valid values of the shared dependencies, through a page and a JSON route each."""
    assert page_client.get("/team?page=0001&search=%20ada%20").status_code == 200
    body = page_client.get("/api/v1/users?limit=01&offset=0&search=ADA").json()
    assert [u["email"] for u in body] == ["ada@example.com"]
    stats = page_client.get("/api/v1/stats?comparison=true&range=7d").json()
    assert stats["end"] == seed.TODAY.isoformat() and stats["previous_period"] is not None
    assert page_client.get("/api/v1/stats?comparison=").json()["previous_period"] is None
