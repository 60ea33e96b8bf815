"""Jinja environment: display formatters as filters, URL helpers as globals, and the shared error page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from jinja2 import Environment
from litestar import Request
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.response import Template

from abacus.domain import formatting, modelnames, tools, visibility
from abacus.web.definitions import definition


def sign_in_url(next_path: str) -> str:
    """`/sign-in?next=/team%3Frange%3D7d` — slashes stay readable, everything else is encoded."""
    return "/sign-in?next=" + quote(next_path, safe="/")


def query(params: dict[str, Any] | None = None, **changes: Any) -> str:
    """A `?a=b` string from params with changes applied; None/empty values are dropped."""
    merged = {**(params or {}), **changes}
    clean = {k: v for k, v in merged.items() if v not in (None, "", False)}
    return ("?" + urlencode(clean)) if clean else ""


def form_fields(href: str) -> tuple[str, list[tuple[str, str]]]:
    """`/team?cols=a%2Cb&range=7d` → ("/team", [("cols", "a,b"), ("range", "7d")]): a link as a GET form's action
    and hidden fields, so a toggle button submits to the same URL without JS."""
    parts = urlsplit(href)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def configure_environment(engine: JinjaTemplateEngine) -> None:
    env: Environment = engine.engine
    env.globals.update(
        query=query,
        form_fields=form_fields,
        tool_name=tools.tool_name,
        tool_color=tools.tool_color,
        tool_class=tools.tool_css_class,
        model_color=tools.model_color,
        model_name=modelnames.display_model_name,
        definition=definition,
    )
    env.filters.update(
        tokens=formatting.format_tokens,
        tokens_exact=formatting.format_tokens_exact,
        money=formatting.format_money,
        money_exact=formatting.format_money_exact,
        count=formatting.format_count,
        counted=formatting.counted,
        commit_count=formatting.format_commit_count,
        day=formatting.fmt_day,
        day_year=formatting.fmt_day_year,
        status_date=formatting.fmt_status_date,
        status_ts=formatting.fmt_status_ts,
        since=formatting.fmt_since,
        commit_ts=formatting.fmt_commit_ts,
        pct=formatting.format_percent_int,
        pct1=formatting.format_percent_1,
        tool_name=tools.tool_name,
        model_name=modelnames.display_model_name,
        others_label=visibility.others_label,
    )


def compile_all_templates(engine: JinjaTemplateEngine) -> int:
    """Compile every template into the environment's cache now and return how many: a served worker pays Jinja's
    parse and compile (about 0.5 s of CPU for all of them) before it accepts requests, not in the first request of
    each page."""
    env: Environment = engine.engine
    names = env.list_templates(extensions=("html",))
    for name in names:
        env.get_template(name)
    return len(names)


def error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    from abacus.web.rendering import base_context, is_htmx

    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 500: "Error loading data"}
    template = "fragments/error.html" if is_htmx(request) else "pages/error.html"
    context = {**base_context(request), "status": status, "title": titles.get(status, "Error"), "message": message}
    return Template(template_name=template, context=context, status_code=status)
