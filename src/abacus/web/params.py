"""Query-parameter parsing shared by every page, fragment, export and JSON route: bad values → BadParameter (400)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request
from litestar.params import Parameter

from abacus.domain.periods import DateRange, RangeError, parse_range
from abacus.web.errors import BadParameter

RANGE_KEYS = ("range", "start", "end", "days")

# How the JSON API documents its shared query parameters (OpenAPI); handlers read the values with the parsers below.
Start = Annotated[str | None, Parameter(query="start", description="First day, YYYY-MM-DD (needs `end`)")]
End = Annotated[str | None, Parameter(query="end", description="Last day inclusive, YYYY-MM-DD (needs `start`)")]
RangePreset = Annotated[str | None, Parameter(query="range", description="7d, 30d (default), 90d or 1y")]
Days = Annotated[str | None, Parameter(query="days", description="Alias: the last N days (1–3650)")]
Comparison = Annotated[str | None, Parameter(description="true: add previous_period")]
SortDir = Annotated[str | None, Parameter(description="asc or desc (default)")]
Offset = Annotated[str | None, Parameter(description="Rows to skip, default 0")]


def today_utc(request: Request[Any, Any, Any]) -> date:
    now = getattr(request.app.state, "now", None)
    return (now() if now else datetime.now(UTC)).date()


def now_utc(request: Request[Any, Any, Any]) -> datetime:
    now = getattr(request.app.state, "now", None)
    return now() if now else datetime.now(UTC)


def date_range(request: Request[Any, Any, Any]) -> DateRange:
    """The range of docs/pages.md §1.1 from range/start/end/days (default 30d); errors name the parameter."""
    params = {k: request.query_params.get(k, "") for k in RANGE_KEYS}
    try:
        return parse_range(params, today_utc(request))
    except RangeError as exc:
        raise BadParameter(exc.param, exc.message) from exc


def range_query(rng: DateRange) -> dict[str, str]:
    """The query parameters that reproduce `rng` in links (omitted for the default 30d)."""
    params = rng.query_params()
    return {} if params == {"range": "30d"} else params


def choice(request: Request[Any, Any, Any], name: str, allowed: Sequence[str], default: str) -> str:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if value not in allowed:
        raise BadParameter(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def wants_comparison(request: Request[Any, Any, Any]) -> bool:
    """The JSON API's `comparison=true|false` (default false): whether to add the previous period."""
    return choice(request, "comparison", ("true", "false"), "false") == "true"


def sort_direction(request: Request[Any, Any, Any]) -> str:
    """The JSON API's `sort_dir`: asc or desc (default)."""
    return choice(request, "sort_dir", ("asc", "desc"), "desc")


def integer(request: Request[Any, Any, Any], name: str, default: int, *, low: int = 1, high: int = 1_000_000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise BadParameter(name, f"{raw!r} is not a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(name, f"{value} is outside {low}–{high}")
    return value


def text(request: Request[Any, Any, Any], name: str, *, max_length: int = 100) -> str | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > max_length:
        raise BadParameter(name, f"longer than {max_length} characters")
    return value or None


def column_list(
    request: Request[Any, Any, Any], name: str, allowed: Sequence[str], default: Sequence[str]
) -> list[str]:
    raw = request.query_params.get(name)
    if not raw:
        return list(default)
    cols = [c.strip() for c in raw.split(",") if c.strip()]
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise BadParameter(name, f"unknown column(s) {', '.join(unknown)}")
    return cols


def like_pattern(search: str | None) -> str | None:
    """`%q%` with %, _ and \\ escaped, for ILIKE … ESCAPE '\\'; None (no filter) when there is no search text."""
    if not search:
        return None
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
