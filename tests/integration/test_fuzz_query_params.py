"""Fuzzing the query string of every page and /api/v1 route (enumerated from the app) with hypothesis, signed in as
an admin over the seed data: the answer is 200 (or the route's own redirect), or a 400 naming one of the parameters
that was sent — never a 500. Parameter names come from the app too: the OpenAPI document and every query key of
every link and GET form the pages render, plus unknown names. Examples: attack_support.fuzz_examples."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import dom
from tests.integration.attack_support import Route, app_routes, fuzz_examples, page_forms

SKIP = ("/auth/", "/webhooks/", "/healthz")
INVALID = re.compile(r"Invalid parameter '([^']*)'")
TRIED: dict[str, int] = {}


@pytest.fixture(scope="module")
def routes(page_app) -> list[Route]:
    found = [r for r in app_routes(page_app) if r.method == "GET" and not r.path.startswith(SKIP)]
    assert len(found) >= 30
    return found


@pytest.fixture(scope="module")
def names(page_client, routes) -> list[str]:
    """Every query key the app itself uses: OpenAPI parameters, links and GET forms of every page."""
    seen: set[str] = set()
    for spec in page_client.get("/api/openapi.json").json()["paths"].values():
        seen |= {p["name"] for p in spec.get("get", {}).get("parameters", []) if p["in"] == "query"}
    for route in routes:
        if route.path.startswith(("/api/", "/export")):
            continue
        url = route.concrete()
        response = page_client.get(url)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        for href in (a.get("href") for a in dom.select(response.text, "a[href]")):
            seen |= {key for key, _ in parse_qsl(urlsplit(href).query, keep_blank_values=True)}
        for form in page_forms(url, response.text):
            if form.method == "GET":
                seen |= set(form.fields)
    for route in routes:
        seen |= set(route.query_names)
    assert {"range", "search", "page", "limit", "sort_by"} <= seen
    return sorted(seen)


values = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "7d",
            "30d",
            "1y",
            "true",
            "asc",
            "desc",
            "2026-03-01",
            "2026-02-30",
            "2026-13-01",
            "1970-01-01",
            "9999-12-31",
            "²",
            "١٠",
            "9" * 5000,
            "1e9",
            "0x10",
            "\x00",
            "a\x00b",
            "%00",
            "' OR 1=1 --",
            "<script>",
            "ada@example.com",
            "x" * 300,
            "NaN",
            "inf",
            "fullName,nope",
            "models",
            "tools",
            "raw",
        ]
    ),
    st.integers(-(10**30), 10**30).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)


def _named(response: Any) -> str | None:
    """The parameter a 400 names (None when it names none)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json().get("parameter")
    match = INVALID.search(html.unescape(response.text))
    return match.group(1) if match else None


@pytest.fixture(scope="module")
def redirecting(page_client, routes) -> set[str]:
    """Routes whose plain GET is a redirect (legacy paths, the sign-in page once signed in) or a 404 (an import id
    that does not exist): the same answer is accepted with any query."""
    return {r.path for r in routes if page_client.get(r.concrete(), follow_redirects=False).status_code != 200}


def _accepted(route: Route, response: Any, sent: set[str], redirecting: set[str]) -> bool:
    """200, the route's own redirect, or a 400 naming a parameter that was sent or that the route reads (a start
    without its end names the end)."""
    status = response.status_code
    if status == 200 or (route.path in redirecting and (300 <= status < 400 or status == 404)):
        return True
    if status != 400:
        return False
    named = _named(response)
    known = (
        sent
        | {name.replace("\x00", "\\x00") for name in sent}
        | set(route.query_names)
        | set(re.findall(r"\{(\w+)", route.path))
    )
    # one name, or several joined by ", " (Litestar's own validation errors)
    return named is not None and (named in known or {part.strip() for part in named.split(",")} <= known)


def test_every_get_route_answers_200_or_a_400_naming_a_parameter(page_client, routes, names, redirecting):
    failures: list[str] = []

    @st.composite
    def requests(draw: Any) -> tuple[Route, list[tuple[str, str]]]:
        route = draw(st.sampled_from(routes))
        own = st.sampled_from(route.query_names) if route.query_names else st.sampled_from(names)
        keys = st.one_of(own, own, st.sampled_from(names), st.text(min_size=1, max_size=12))
        return route, draw(st.lists(st.tuples(keys, values), max_size=6))

    @settings(
        max_examples=fuzz_examples(100),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(), htmx=st.booleans())
    def run(request: tuple[Route, list[tuple[str, str]]], htmx: bool) -> None:
        route, query = request
        path = route.concrete()
        headers = {"HX-Request": "true", "HX-Target": "page-body"} if htmx else {}
        response = page_client.get(path, params=query, headers=headers, follow_redirects=False)
        TRIED[route.path] = TRIED.get(route.path, 0) + 1
        if not _accepted(route, response, {key for key, _ in query}, redirecting):
            failures.append(f"GET {path} {query!r} (htmx={htmx}) → {response.status_code} {response.text[:160]!r}")

    run()
    assert not failures, "\n".join(failures[:20])
    print(f"query fuzz: {sum(TRIED.values())} requests over {len(TRIED)} of {len(routes)} routes")


@pytest.mark.parametrize("value", ["\x00", "9" * 5000, "²", "x" * 300, "-1", "2026-02-30"])
def test_every_route_and_each_of_its_parameters_with_each_hostile_value(page_client, routes, redirecting, value):
    """The exhaustive sweep the random run samples from: each route × each parameter it reads × a hostile value."""
    failures = []
    for route in routes:
        path = route.concrete()
        for name in route.query_names:
            TRIED["sweep"] = TRIED.get("sweep", 0) + 1
            response = page_client.get(path, params={name: value}, follow_redirects=False)
            if not _accepted(route, response, {name}, redirecting):
                failures.append(f"GET {path}?{name}={value[:20]!r} → {response.status_code} {response.text[:120]!r}")
    assert not failures, "\n".join(failures[:20])
