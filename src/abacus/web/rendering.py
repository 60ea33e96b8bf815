"""How controllers answer: one full template per page, a fragment of it when htmx asks for a swap target."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from litestar import Request
from litestar.response import Template
from markupsafe import Markup

from abacus.auth.guards import session_user
from abacus.domain.periods import DateRange, quick_ranges
from abacus.queries.cache import data_version
from abacus.tips import random_tip
from abacus.web.params import range_query, today_utc


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true"


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    user = session_user(request)
    settings = request.app.state.settings
    return {
        "user": user,
        "is_admin": bool(user and settings.sign_in.is_admin(user["email"])),
        "settings": settings,
        "path": request.url.path,
        "tip": random_tip(),
    }


def range_context(request: Request[Any, Any, Any], rng: DateRange) -> dict[str, Any]:
    """What the range selector and range-keeping links need: the range, its query params, quick choices."""
    today = today_utc(request)
    return {"rng": rng, "range_query": range_query(rng), "quick": quick_ranges(today), "today": today}


class RenderedBodies:
    """One worker's rendered page bodies (the `page-body` fragment), least recently used first out: a page whose body
    is here renders only its shell (header, user menu, CSRF token) for the next request with the same key."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.items: OrderedDict[Hashable, Markup] = OrderedDict()

    def get(self, key: Hashable) -> Markup | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: Hashable, html: Markup) -> None:
        self.items[key] = html
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


async def page_body_key(request: Request[Any, Any, Any], *inputs: Hashable) -> Hashable | None:
    """The key of a page body rendered from cached query results: the data version (None when the page cache is off)
    plus the signed-in person and every other input the controller gives its body (range, options, today and the
    minute when a chart projects the current day)."""
    version = await data_version(request.app.state.sessionmaker)
    if version is None:
        return None
    user = session_user(request)
    return (version, user["email"] if user else None, request.url.path, inputs)


def has_page_body(request: Request[Any, Any, Any], template: str, body_key: Hashable | None) -> bool:
    """Whether `render` will take `template`'s body from this worker's rendered bodies (a full-page request whose
    body was rendered with this key): then the controller needs only what the shell shows."""
    return body_key is not None and not is_htmx(request) and (template, body_key) in _bodies(request).items


def _bodies(request: Request[Any, Any, Any]) -> RenderedBodies:
    state = request.app.state
    if getattr(state, "rendered_bodies", None) is None:
        state.rendered_bodies = RenderedBodies()
    bodies: RenderedBodies = state.rendered_bodies
    return bodies


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    fragments: Mapping[str, str] | None = None,
    status_code: int = 200,
    body_key: Hashable | None = None,
) -> Template:
    """Render `template`, or the fragment named for the request's HX-Target when it is a known swap target.

    With a `body_key` (`page_body_key`), a full page takes its `page-body` fragment rendered once per key in this
    worker (`page_body` in the context; the page template shows it instead of including the fragment)."""
    name = template
    extra: dict[str, Any] = {}
    full = {**base_context(request), **(context or {})}
    if fragments and is_htmx(request):
        target = request.headers.get("hx-target", "")
        name = fragments.get(target, template)
        if target == "page-body" and name != template:
            # range changes swap #page-body; the nav's range-keeping links come along out of band
            name, extra = "fragments/with_nav.html", {"fragment_template": name, "oob_nav": True}
    elif fragments and body_key is not None and "page-body" in fragments:
        bodies = _bodies(request)
        key = (template, body_key)
        body = bodies.get(key)
        if body is None:
            engine = request.app.template_engine
            assert engine is not None  # the app is created with its Jinja engine
            fragment = engine.get_template(fragments["page-body"])
            body = Markup(fragment.render(**full, request=request))
            bodies.put(key, body)
        extra["page_body"] = body
    return Template(template_name=name, context={**full, **extra}, status_code=status_code)
