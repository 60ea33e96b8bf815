"""Helpers of the attack and fuzz tests, imported by name: the app's routes and forms enumerated from the app itself
(so a route or form a later issue adds is covered without editing a test), and a fingerprint of everything an
attacker could change (every table of the database and this run's job queue)."""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from abacus.auth.guards import require_admin
from tests import dom
from tests.seed import REPOS
from tests.support import QUEUE

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Values for path parameters: a person and a repository of tests/seed.py, a tip that exists.
PATH_VALUES = {
    "email": "ada@example.com",
    "owner": REPOS[0].split("/")[0],
    "repo": REPOS[0].split("/")[1],
    "slug": "plan-mode",
    "path": "openapi.json",
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Any
    query_names: tuple[str, ...] = ()  # every query parameter the handler and its dependencies read

    @property
    def admin_only(self) -> bool:
        return require_admin in (self.handler.guards or [])

    @property
    def public(self) -> bool:
        return bool(self.handler.opt.get("public"))

    def concrete(self, **values: str) -> str:
        """The path with every `{name:type}` replaced by a value of the seed (or `x`)."""
        chosen = {**PATH_VALUES, **values}
        return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: chosen.get(m.group(1), "x"), self.path)


def app_routes(app: Any) -> list[Route]:
    """Every (method, path, handler) the app serves, HEAD/OPTIONS and the static files left out."""
    found = []
    for route in app.routes:
        if route.path.startswith("/static"):
            continue
        for method, entry in getattr(route, "route_handler_map", {}).items():
            if method in ("HEAD", "OPTIONS"):
                continue
            handler, kwargs_model = entry if isinstance(entry, tuple) else (entry, None)
            names = sorted(p.field_alias for p in kwargs_model.expected_query_params) if kwargs_model else []
            found.append(Route(method, route.path, handler, tuple(names)))
    return sorted(found, key=lambda r: (r.path, r.method))


def csrf_exempt(app: Any) -> set[str]:
    return set(app.csrf_config.exclude or []) if app.csrf_config else set()


def page_routes(app: Any) -> list[Route]:
    """GET routes that answer HTML pages (not the JSON API, exports, sign-in round trip or health)."""
    skip = ("/api/", "/export", "/auth/", "/healthz", "/webhooks/")
    return [r for r in app_routes(app) if r.method == "GET" and not r.path.startswith(skip)]


@dataclass
class Form:
    page: str
    method: str
    action: str
    enctype: str
    fields: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        names = ",".join(sorted([*self.fields, *self.files]))
        return f"{self.method} {self.action} [{names}]"


def _field_value(element: HtmlElement) -> str:
    if element.tag == "select":
        options = element.cssselect("option")
        chosen = [o for o in options if o.get("selected") is not None] or options[:1]
        return (chosen[0].get("value") or chosen[0].text_content()) if chosen else ""
    if element.tag == "textarea":
        return element.text_content()
    return element.get("value") or ""


def page_forms(page_url: str, html: str) -> list[Form]:
    """Every form of a rendered page with its fields as the page fills them in (csrf token field left out)."""
    forms = []
    for node in dom.select(html, "form"):
        action = node.get("action") or urlsplit(page_url).path
        form = Form(
            page=page_url,
            method=(node.get("method") or "get").upper(),
            action=urlsplit(urljoin(page_url, action)).path,
            enctype=node.get("enctype") or "application/x-www-form-urlencoded",
        )
        for element in node.cssselect("input[name], select[name], textarea[name]"):
            name = element.get("name")
            kind = (element.get("type") or "text").lower()
            if name == "_csrf_token" or kind in ("submit", "button", "reset", "image"):
                continue
            if kind == "file":
                form.files.append(name)
            elif kind in ("checkbox", "radio") and element.get("checked") is None:
                form.fields.setdefault(name, "")
            else:
                form.fields[name] = _field_value(element)
        forms.append(form)
    return forms


# ---- what an attacker could change --------------------------------------------------------------------------------


def state_fingerprint(database_url: str, redis_url: str) -> dict[str, Any]:
    """An md5 of every row of every table (alembic's version left out) and the keys of this run's job queue."""

    async def tables() -> dict[str, Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                names = (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                            " AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version' ORDER BY 1"
                        )
                    )
                ).scalars()
                out = {}
                for name in list(names):
                    out[name] = (
                        await conn.execute(
                            text(f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{name}\" t")
                        )
                    ).one()
                return out
        finally:
            await engine.dispose()

    redis = Redis.from_url(redis_url)
    try:
        queue = sorted(key.decode() for key in redis.scan_iter(match=f"{QUEUE}*", count=1000))
        queued = redis.zrange(QUEUE, 0, -1) if redis.type(QUEUE) == b"zset" else []
    finally:
        redis.close()
    return {"tables": asyncio.run(tables()), "queue_keys": queue, "queued": sorted(queued)}


# ---- fuzzing budget -----------------------------------------------------------------------------------------------


def fuzz_examples(default: int) -> int:
    """Examples per fuzz test: `default` in the normal run, ABACUS_FUZZ_EXAMPLES to choose, ×25 with
    ABACUS_FUZZ_LONG=1 (the long run)."""
    chosen = int(os.environ.get("ABACUS_FUZZ_EXAMPLES") or default)
    return chosen * 25 if os.environ.get("ABACUS_FUZZ_LONG") == "1" else chosen


def long_run() -> bool:
    """ABACUS_FUZZ_LONG=1: the long fuzz and fault runs (every combination instead of a covering sample)."""
    return os.environ.get("ABACUS_FUZZ_LONG") == "1"
