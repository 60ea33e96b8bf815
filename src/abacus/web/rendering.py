"""How controllers answer: one full template per page, a fragment of it when htmx asks for a swap target."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request
from litestar.response import Template

from abacus.auth.guards import session_user
from abacus.domain.periods import DateRange, quick_ranges
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


def render(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    fragments: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """Render `template`, or the fragment named for the request's HX-Target when it is a known swap target."""
    name = template
    extra: dict[str, Any] = {}
    if fragments and is_htmx(request):
        target = request.headers.get("hx-target", "")
        name = fragments.get(target, template)
        if target == "page-body" and name != template:
            # range changes swap #page-body; the nav's range-keeping links come along out of band
            name, extra = "fragments/with_nav.html", {"fragment_template": name, "oob_nav": True}
    return Template(
        template_name=name, context={**base_context(request), **(context or {}), **extra}, status_code=status_code
    )
