"""Query-string parsing shared by every page, fragment, export and JSON route: bad values → BadParameter (400).

Two layers. Value checks (`one_of`, `whole_number`, `clean_text`, `column_keys`, `raw_usage_filter`) turn one raw
query value into a typed one or raise BadParameter naming the parameter. The Litestar dependencies built on them
(`DEPENDENCIES`, registered on the app, and the per-route `paging` / `page_paging` / `search_text` factories) declare
their query parameters with `Parameter(...)`: a handler asks for `rng`, `compare`, `paging`, … by name
(`NamedDependency[...]`), never reads `request.query_params`, and every JSON route that uses a dependency documents
its parameters in the OpenAPI schema.

(No `from __future__ import annotations` here: the factories build signatures from their arguments, which Litestar
reads as evaluated annotations.)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import session_user
from abacus.domain.periods import DateRange, RangeError, parse_range
from abacus.domain.teams import TeamError, validate_slug
from abacus.domain.visibility import Viewer
from abacus.queries.teams import team_slugs
from abacus.queries.users import RawUsageFilters, UserMatch, find_user
from abacus.services.mappings import SOURCES
from abacus.services.visibility import resolve_viewer
from abacus.web.errors import BadParameter

MAX_NUMBER = 1_000_000
MAX_EMAIL_LENGTH = 255
ECHO_LIMIT = 20
"""Characters of a rejected value repeated in an error message (a 5,000-digit number is not echoed whole)."""
USAGE_VIEWS = ("models", "tools")

# How the JSON API documents its query parameters (OpenAPI); the dependencies below read them.
Start = Annotated[str | None, Parameter(query="start", description="First day, YYYY-MM-DD (needs `end`)")]
End = Annotated[str | None, Parameter(query="end", description="Last day inclusive, YYYY-MM-DD (needs `start`)")]
RangePreset = Annotated[str | None, Parameter(query="range", description="7d, 30d (default), 90d or 1y")]
Days = Annotated[str | None, Parameter(query="days", description="Alias: the last N days (1–3650)")]
Comparison = Annotated[str | None, Parameter(description="true: add previous_period")]
SortDir = Annotated[str | None, Parameter(description="asc or desc (default)")]
View = Annotated[str | None, Parameter(description="models (default) or tools")]
Source = Annotated[str | None, Parameter(description="claude_code, cursor or github")]
PageNumber = Annotated[str | None, Parameter(description="1-based page, default 1")]
TeamSlug = Annotated[str | None, Parameter(query="team", description="A team's slug: only its members' figures")]
UserSegment = Annotated[str, Parameter(description="Full email (or a local part that names exactly one person)")]


def today_utc(request: Request[Any, Any, Any]) -> date:
    now = getattr(request.app.state, "now", None)
    return (now() if now else datetime.now(UTC)).date()


def now_utc(request: Request[Any, Any, Any]) -> datetime:
    now = getattr(request.app.state, "now", None)
    return now() if now else datetime.now(UTC)


# --- value checks ---------------------------------------------------------------------------------------------


def _echo(value: str) -> str:
    return value if len(value) <= ECHO_LIMIT else value[:ECHO_LIMIT] + "…"


def email_address(name: str, raw: str | None) -> str | None:
    """An optional email parameter, lower-cased; 400 (BadParameter) when it is not one address."""
    if raw is None or raw == "":
        return None
    email = raw.strip().lower()
    if email.count("@") != 1 or len(email) > 255:
        raise BadParameter(name, f"{_echo(raw[:60])} is not an email address")
    return email


def one_of(name: str, value: str | None, allowed: Sequence[str], default: str) -> str:
    """`value` when it is one of `allowed`, `default` when absent or empty."""
    if value is None or value == "":
        return default
    if value not in allowed:
        raise BadParameter(name, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def whole_number(name: str, raw: str | None, default: int, *, low: int = 1, high: int = MAX_NUMBER) -> int:
    """ASCII digits within [low, high]; `default` when absent or empty. Never converts an over-long digit string
    (Python refuses ints past 4,300 digits) and rejects other Unicode digits such as `²` that `int()` refuses."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise BadParameter(name, f"{_echo(raw)!r} is not a whole number")
    digits = raw.lstrip("0") or "0"
    if len(digits) > len(str(high)) or not low <= int(digits) <= high:
        raise BadParameter(name, f"{_echo(digits)} is outside {low}–{high}")
    return int(digits)


def clean_text(name: str, value: str | None, *, max_length: int = 100) -> str | None:
    """Trimmed text, None when absent or blank; too long or containing NUL (PostgreSQL text cannot hold it) → 400."""
    if value is None:
        return None
    if "\x00" in value:
        raise BadParameter(name, "contains a NUL character")
    value = value.strip()
    if len(value) > max_length:
        raise BadParameter(name, f"longer than {max_length} characters")
    return value or None


def column_keys(name: str, raw: str | None, allowed: Sequence[str], default: Sequence[str]) -> list[str]:
    """A comma-separated list of column keys from `allowed`; `default` when absent or empty."""
    if not raw:
        return list(default)
    cols = [c.strip() for c in raw.split(",") if c.strip()]
    unknown = [c for c in cols if c not in allowed]
    if unknown:
        raise BadParameter(name, f"unknown column(s) {', '.join(unknown)}")
    return cols


def raw_usage_filter(filters: RawUsageFilters, tool: str | None, model: str | None) -> tuple[str | None, str | None]:
    """The Raw Usage `tool` and `model` filters (None when unset) of the user page and its JSON; a value the person
    has no usage of in the range → BadParameter."""
    tool = clean_text("tool", tool, max_length=64)
    model = clean_text("model", model, max_length=128)
    if tool is not None and tool not in filters.tools:
        raise BadParameter("tool", f"{tool!r} has no usage for this user in the selected range")
    if model is not None and model not in filters.models:
        raise BadParameter("model", f"{model!r} has no usage for this user in the selected range")
    return tool, model


def range_query(rng: DateRange) -> dict[str, str]:
    """The query parameters that reproduce `rng` in links (omitted for the default 30d)."""
    params = rng.query_params()
    return {} if params == {"range": "30d"} else params


def like_pattern(search: str | None) -> str | None:
    """`%q%` with %, _ and \\ escaped, for ILIKE … ESCAPE '\\'; None (no filter) when there is no search text."""
    if not search:
        return None
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _nul_free(place: str, name: str, value: Any) -> None:
    if NUL in name:
        raise BadParameter(name.replace(NUL, "\\x00"), f"{place} name contains a NUL character")
    if isinstance(value, str) and NUL in value:
        raise BadParameter(name, "contains a NUL character")


async def refuse_nul_input(request: Request[Any, Any, Any]) -> None:
    """App-wide `before_request`: a NUL in a path segment, a query parameter or a form's text field → 400 naming it.

    PostgreSQL text cannot hold NUL, so such a value must never reach a query; checking here, before any handler or
    dependency runs, covers every route and form the app has or will have. Uploaded files are left to their parser.
    """
    for name, value in request.path_params.items():
        _nul_free("path parameter", name, value)
    for name, value in request.query_params.multi_items():
        _nul_free("query parameter", name, value)
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() in FORM_TYPES:
        for name, value in (await request.form()).multi_items():
            _nul_free("form field", name, value)


# --- dependencies ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


@dataclass(frozen=True)
class SearchText:
    """The `search` parameter: trimmed text (None when blank) and its ILIKE pattern."""

    text: str | None

    @property
    def pattern(self) -> str | None:
        return like_pattern(self.text)


@dataclass(frozen=True)
class TeamFilter:
    """The `team` parameter: the chosen team's slug (None: everyone) and every live team as (slug, name) choices."""

    slug: str | None
    choices: tuple[tuple[str, str], ...]

    def name(self) -> str | None:
        return next((name for slug, name in self.choices if slug == self.slug), None)

    @property
    def query(self) -> dict[str, str]:
        """What links keep of it (like `range_query`): {"team": slug}, or nothing for everyone."""
        return {"team": self.slug} if self.slug else {}


def chosen_team_slug(raw: str | None, choices: Sequence[tuple[str, str]]) -> str | None:
    """The `team=` filter: None when absent or empty; a malformed or unknown slug → 400 naming the parameter."""
    if raw is None or not raw.strip():
        return None
    try:
        slug = validate_slug(raw)
    except TeamError as exc:
        raise BadParameter("team", str(exc)) from None
    if slug not in {s for s, _ in choices}:
        raise BadParameter("team", f"no team {slug!r}")
    return slug


async def provide_team_filter(db: AsyncSession, viewer: Viewer, team: TeamSlug = None) -> TeamFilter:
    """`team=<slug>` of the pages, exports and JSON routes that sum people (docs/pages.md §1.3); a team whose
    aggregate the viewer may not see is unknown to them (docs/security.md §6)."""
    choices = tuple(await team_slugs(db, viewer))
    return TeamFilter(chosen_team_slug(team, choices), choices)


def provide_date_range(
    request: Request[Any, Any, Any],
    start: Start = None,
    end: End = None,
    range_: RangePreset = None,
    days: Days = None,
) -> DateRange:
    """The range of docs/pages.md §1.1 from range/start/end/days (default 30d); errors name the parameter."""
    params = {"range": range_ or "", "start": start or "", "end": end or "", "days": days or ""}
    try:
        return parse_range(params, today_utc(request))
    except RangeError as exc:
        raise BadParameter(exc.param, exc.message) from exc


def provide_comparison(comparison: Comparison = None) -> bool:
    """`comparison=true|false` (default false): whether to add the previous period."""
    return one_of("comparison", comparison, ("true", "false"), "false") == "true"


def provide_sort_direction(sort_dir: SortDir = None) -> str:
    """The JSON API's `sort_dir`: asc or desc (default)."""
    return one_of("sort_dir", sort_dir, ("asc", "desc"), "desc")


def provide_page_number(page: PageNumber = None) -> int:
    """A page's `page` (1-based, default 1); pages past the end are clamped by the queries."""
    return whole_number("page", page, 1)


def provide_usage_view(view: View = None) -> str:
    """`view=models|tools` (default models) of the Usage page, its CSV export and /api/v1/models/trends."""
    return one_of("view", view, USAGE_VIEWS, "models")


def provide_trend(trend: Annotated[str | None, Parameter(description="0: no trend line")] = None) -> bool:
    """`trend=0|1` (default 1): draw the regression line on the usage chart."""
    return one_of("trend", trend, ("0", "1"), "1") == "1"


def provide_mapping_source(source: Source = None) -> str | None:
    """The mappings' `source` filter: one identity source, None for all."""
    return one_of("source", source, SOURCES, "") or None


async def provide_viewer(request: Request[Any, Any, Any], db: AsyncSession) -> Viewer:
    """Whom the signed-in person may see (docs/security.md §6), resolved once per request; nobody without a session."""
    user = session_user(request)
    if user is None:
        return Viewer(None, ())
    return await resolve_viewer(db, str(user["email"]), request.app.state.settings.sign_in)


async def provide_user_match(db: AsyncSession, email: UserSegment, viewer: Viewer) -> UserMatch:
    """The person of a `/users/{email}` path (page and JSON alike); see `find_user`. A person the viewer may not see
    is not found, exactly like one who does not exist."""
    if "\x00" in email:
        raise BadParameter("email", "contains a NUL character")
    if len(email.strip()) > MAX_EMAIL_LENGTH:
        raise BadParameter("email", f"longer than {MAX_EMAIL_LENGTH} characters")
    return await find_user(db, email, viewer)


def provide_repository_name(owner: str, repo: str) -> str:
    """`owner/repo` of a `/repositories/{owner}/{repo}` path (page and JSON alike); NUL → 400, never a query."""
    for name, value in (("owner", owner), ("repo", repo)):
        if "\x00" in value:
            raise BadParameter(name, "contains a NUL character")
    return f"{owner}/{repo}"


def search_text(description: str = "Case-insensitive substring (≤ 100 characters)") -> Provide:
    """The `search` parameter (≤ 100 characters), documented with a route's own description."""

    def provide_search(search: Annotated[str | None, Parameter(description=description)] = None) -> SearchText:
        return SearchText(clean_text("search", search))

    return Provide(provide_search, sync_to_thread=False)


def paging(default: int, most: int, *, limit: str = "limit", offset: str = "offset") -> Provide:
    """`limit` (1–most, default `default`) and `offset` (≥ 0, default 0), under the route's parameter names."""

    def provide_paging(
        limit_: Annotated[str | None, Parameter(query=limit, description=f"1–{most}, default {default}")] = None,
        offset_: Annotated[str | None, Parameter(query=offset, description="Rows to skip, default 0")] = None,
    ) -> Paging:
        size = whole_number(limit, limit_, default, low=1, high=most)
        return Paging(size, whole_number(offset, offset_, 0, low=0))

    return Provide(provide_paging, sync_to_thread=False)


def page_paging(default: int, most: int) -> Provide:
    """The reference's `page` (0-based, default 0) and `limit` (rows per page, 1–most, default `default`)."""

    def provide_page_paging(
        page: Annotated[str | None, Parameter(description="0-based page index (as the reference), default 0")] = None,
        limit: Annotated[str | None, Parameter(description=f"Rows per page, 1–{most}, default {default}")] = None,
    ) -> Paging:
        index = whole_number("page", page, 0, low=0)
        size = whole_number("limit", limit, default, low=1, high=most)
        return Paging(size, index * size)

    return Provide(provide_page_paging, sync_to_thread=False)


DEPENDENCIES: dict[str, Provide] = {
    "rng": Provide(provide_date_range, sync_to_thread=False),
    "compare": Provide(provide_comparison, sync_to_thread=False),
    "direction": Provide(provide_sort_direction, sync_to_thread=False),
    "page_number": Provide(provide_page_number, sync_to_thread=False),
    "usage_view": Provide(provide_usage_view, sync_to_thread=False),
    "show_trend": Provide(provide_trend, sync_to_thread=False),
    "mapping_source": Provide(provide_mapping_source, sync_to_thread=False),
    "query_text": search_text(),
    "viewer": Provide(provide_viewer),
    "user_match": Provide(provide_user_match),
    "team_filter": Provide(provide_team_filter),
    "repository_name": Provide(provide_repository_name, sync_to_thread=False),
}
"""Registered on the app: a handler names the ones it needs (routes override `query_text` to describe their search)."""
