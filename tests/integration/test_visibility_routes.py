"""Who sees what (docs/security.md §6), proven over every route the app registers.

For ABACUS_VISIBILITY=team and self, an admin, a team lead and a member sign in and request every GET route
(enumerated from the app, not a hand list): pages, their htmx fragments, CSV exports and JSON, with path parameters
filled with a visible person, a hidden person, a repository and a tip, and with the query parameters that choose a
person, a team or a search. No response may carry a hidden person's email or a figure only that person has; a hidden
person's pages answer 404 exactly like a person nobody has seen. The admin requests each URL first, so a page body or
query result cached for the admin would reach the others if the scope were not in the cache keys. For `everyone` a
member alone goes round, and must see Ken, his seat and his budget as the admin does.

Teams over the seed's people: `web` = Grace (lead), Linus, Barbara; `infra` = Ken (lead), Alan — fewer than
ABACUS_MIN_GROUP (5), so its aggregate is hidden from non-admins outside it. Ada is the admin and in no team.
Ken alone holds a $73.37 seat and has a $9,876.54 budget: figures nobody else has (Alan's seat is hidden with his,
so an "Others" row never sums Ken's alone).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from abacus.app import create_app
from tests import seed
from tests.integration.pages_support import sign_in_test_client
from tests.support import app_settings, truncate_tables

ADMIN = "ada@example.com"
LEAD = "grace@example.com"
MEMBER = "linus@example.com"
HIDDEN = "ken@example.com"  # in no team with Grace or Linus
NOBODY = "nobody-at-all@example.com"
TEAMS = {
    "web": [(LEAD, "lead"), (MEMBER, "member"), ("barbara@example.com", "member")],
    "infra": [(HIDDEN, "lead"), ("alan_x@example.com", "member")],
}
HIDDEN_SEAT_PRICE = "73.37"
HIDDEN_BUDGET = "9876.54"
HIDDEN_FIGURES = (HIDDEN_SEAT_PRICE, HIDDEN_BUDGET, "9,876.54")
REPO = "acme/web"
TIP = "plan-mode"
SKIPPED_PREFIXES = ("/static", "/auth/")  # files, and the sign-in flow itself (tested in test_attacks_sign_in)


@pytest.fixture(scope="module")
def visibility_data(database_url: str) -> None:
    """The seed, the two teams, a seat for Ken (and one for Linus) and budgets for Ken, Linus and both teams."""
    from abacus.db import create_engine, session_factory

    async def run() -> None:
        await truncate_tables(database_url)
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await seed.seed(db)
            for slug, members in TEAMS.items():
                await db.execute(text("INSERT INTO teams (slug, name, source) VALUES (:s, :s, 'manual')"), {"s": slug})
                for email, role in members:
                    await db.execute(
                        text("INSERT INTO team_members (team_slug, email, role, source) VALUES (:s, :e, :r, 'manual')"),
                        {"s": slug, "e": email, "r": role},
                    )
            # every seat holder is hidden along with another one, so no "Others" row sums Ken's seat alone
            seats = ((HIDDEN, HIDDEN_SEAT_PRICE), ("alan_x@example.com", "40.00"), (MEMBER, "40.00"), (LEAD, "40.00"))
            for email, price in seats:
                await db.execute(
                    text(
                        "INSERT INTO seats (tool, organization_id, identity, email, plan, since, price_usd, seen_at)"
                        " VALUES ('cursor', 'cursor:default', :e, :e, 'business', '2026-01-01T00:00:00Z', :p, now())"
                    ),
                    {"e": email, "p": price},
                )
            for scope, scope_id, amount in (
                ("person", HIDDEN, HIDDEN_BUDGET),
                ("person", MEMBER, "120.00"),
                ("team", "web", "500.00"),
                ("team", "infra", "300.00"),
                ("org", "", "5000.00"),
            ):
                await db.execute(
                    text(
                        "INSERT INTO budgets (scope, scope_id, tool, amount_usd, created_by, updated_by)"
                        " VALUES (:scope, :id, 'all', :amount, :by, :by)"
                    ),
                    {"scope": scope, "id": scope_id, "amount": amount, "by": ADMIN},
                )
        await engine.dispose()

    asyncio.run(run())


@dataclass(frozen=True)
class Route:
    path: str
    fragments: tuple[str, ...]  # the htmx targets its handler renders
    query: frozenset[str]  # the query parameters it declares (its own and its dependencies')


def get_routes(app: Any) -> list[Route]:
    """Every GET route of the app with the fragment targets its module declares (`*FRAGMENTS` dicts)."""
    found = []
    for route in app.routes:
        for method, entry in getattr(route, "route_handler_map", {}).items():
            if method != "GET" or route.path.startswith(SKIPPED_PREFIXES):
                continue
            handler, kwargs_model = entry
            module = sys.modules[handler.fn.__module__]
            targets = {
                key
                for name, value in vars(module).items()
                if name.endswith("FRAGMENTS") and isinstance(value, dict)
                for key in value
            }
            query = frozenset(p.field_alias for p in kwargs_model.expected_query_params)
            found.append(Route(route.path, tuple(sorted(targets)), query))
    return found


def concrete_paths(path: str, people: tuple[str, ...]) -> list[str]:
    """The path with its parameters filled in: one URL per person for `{email}`, a repository, a tip."""
    if "{email" in path:
        return [re.sub(r"\{email(:[^}]*)?\}", quote(p, safe="@"), path) for p in people]
    values = {"owner": REPO.split("/")[0], "repo": REPO.split("/")[1], "slug": TIP, "import_id": "x"}
    return [re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), "x"), path)]


def query_variants(hidden: str, route: Route) -> list[str]:
    """No parameters, then those that pick a person (a hidden one), a team (one's own, and one too small for
    outsiders), a search for a hidden person, group by team, and a sort by email over a longer range: each one the
    route declares at least one parameter of. The app reads no query parameter a route does not declare
    (abacus.web.params), so another variant would only repeat the request without parameters."""
    variants = {
        f"?email={quote(hidden)}": {"email"},
        "?team=web": {"team"},
        "?team=infra": {"team"},
        "?search=ken": {"search"},
        "?group=team": {"group"},
        "?range=90d&sort=email&dir=asc": {"range", "sort", "dir"},
    }
    return ["", *(variant for variant, names in variants.items() if names & route.query)]


def hidden_from(mode: str, viewer: str) -> set[str]:
    everyone = set(seed.USERS)
    if viewer == ADMIN or mode == "everyone":
        return set()
    if mode == "self":
        return everyone - {viewer}
    mine = {slug for slug, members in TEAMS.items() if viewer in {e for e, _ in members}}
    seen = {viewer} | {e for slug in mine for e, _ in TEAMS[slug]}
    return everyone - seen


def leaks(body: str, hidden: set[str]) -> list[str]:
    found = [e for e in sorted(hidden) if e in body or quote(e) in body or quote(e, safe="") in body]
    if HIDDEN in hidden:
        found += [figure for figure in HIDDEN_FIGURES if figure in body]
    return found


@pytest.fixture(scope="module")
def oidc_issuer(oidc_server: Any) -> str:
    return f"{oidc_server.url}/oidc"


class Viewers:
    """One in-process app (one lifespan, one event loop for its database pool) and a signed-in session per person:
    each request is sent with that person's cookies."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.cookies: dict[str, dict[str, str]] = {}

    def sign_in(self, email: str) -> None:
        self.client.cookies.clear()
        sign_in_test_client(self.client, email)
        self.cookies[email] = dict(self.client.cookies)

    def get(self, email: str, url: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()
        self.client.cookies.update(self.cookies[email])
        return self.client.get(url, follow_redirects=False, **kwargs)


@contextmanager
def viewers_for(services: Any, issuer: str, mode: str) -> Iterator[tuple[Any, Viewers]]:
    app = create_app(app_settings(services, issuer, sign_in={"visibility": mode, "min_group": 5}))
    app.state.now = lambda: seed.NOW
    with TestClient(app, base_url="http://testserver.local") as client:
        viewers = Viewers(client)
        for email in (ADMIN, LEAD, MEMBER):
            viewers.sign_in(email)
        yield app, viewers


def test_no_route_shows_a_hidden_person_to_everyone(services, oidc_issuer, visibility_data):
    no_route_shows_a_hidden_person("everyone", services, oidc_issuer)


def no_route_shows_a_hidden_person(mode: str, services: Any, oidc_issuer: str) -> None:
    """The acceptance check of one mode (a module per mode: the suite's workers take one module each)."""
    problems: list[str] = []
    requested = 0
    # the admin first: a leaking cache would hand on their body. With `everyone` nothing is hidden from anyone, so a
    # member alone shows that: they must see all that the admin sees of Ken
    order = (MEMBER,) if mode == "everyone" else (ADMIN, LEAD, MEMBER)
    first_saw: set[str] = set()
    with viewers_for(services, oidc_issuer, mode) as (app, viewers):
        routes = get_routes(app)
        assert len(routes) >= 30 and any("{email" in r.path for r in routes)
        declared = frozenset().union(*(r.query for r in routes))
        assert {"email", "team", "search", "group", "range", "sort", "dir"} <= declared  # every variant is sent
        for route in routes:
            for viewer in order:
                hidden = hidden_from(mode, viewer)
                # a visible and a hidden person (nobody's answer is compared with the hidden person's below)
                for path in concrete_paths(route.path, (viewer, HIDDEN)):
                    for variant in query_variants(HIDDEN, route):
                        targets = (None, *route.fragments)
                        for target in targets:
                            headers = {} if target is None else {"HX-Request": "true", "HX-Target": target}
                            response = viewers.get(viewer, path + variant, headers=headers)
                            requested += 1
                            where = f"{mode} {viewer} GET {path}{variant} {target or ''} → {response.status_code}"
                            if response.status_code >= 500:
                                problems.append(f"{where}: server error")
                            found = leaks(response.text, hidden)
                            if found:
                                problems.append(f"{where}: shows {', '.join(found)}")
                            if viewer == order[0]:
                                first_saw.update(
                                    x for x in (HIDDEN, HIDDEN_SEAT_PRICE, "9,876.54") if x in response.text
                                )
                            if HIDDEN in hidden and f"/{quote(HIDDEN, safe='@')}" in path:
                                nobody = viewers.get(viewer, path.replace(quote(HIDDEN, safe="@"), NOBODY) + variant)
                                if response.status_code != 404 or nobody.status_code != 404:
                                    problems.append(f"{where}: a hidden person must be 404 like nobody")
                                elif path.startswith("/api/") and response.json() != nobody.json():
                                    problems.append(f"{where}: answers {response.json()} not {nobody.json()}")
    # the test can fail: the admin (with `everyone`, a member) does see Ken, his seat and his budget somewhere
    assert first_saw == {HIDDEN, HIDDEN_SEAT_PRICE, "9,876.54"}
    assert requested > 200
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:80])


CACHED_PAGES = ["/", "/team", "/seats", "/budgets", f"/repositories/{REPO}", "/api/v1/users/pivot", "/api/v1/seats"]


def test_cached_pages_and_results_follow_the_viewer(services, oidc_issuer, visibility_data):
    """The page cache and the rendered bodies are on (Redis, per worker): whoever asks first, a member never gets
    what was computed for the admin, nor the admin what was computed for the member."""
    from abacus.queries.cache import cache_of

    with viewers_for(services, oidc_issuer, "team") as (app, viewers):
        cache = cache_of(app.state.engine)
        assert cache is not None
        for order in ((MEMBER, ADMIN, MEMBER), (ADMIN, MEMBER, ADMIN)):
            for url in CACHED_PAGES:
                for viewer in order:
                    body = viewers.get(viewer, url + "?range=90d").text
                    if viewer == ADMIN:
                        assert HIDDEN in body or HIDDEN_BUDGET in body or "9,876.54" in body or "73.37" in body, url
                    else:
                        assert not leaks(body, hidden_from("team", viewer)), url
        assert cache.hits > 0  # the second round was served from the cache
