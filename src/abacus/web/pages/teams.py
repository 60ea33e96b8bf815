"""GET /teams (everyone signed in sees teams and members) and its admin writes: create and remove teams, add and
remove members, change roles, import a CSV — each in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_admin, session_user
from abacus.domain.teams import MAX_IMPORT_BYTES, TeamError, validate_slug
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.teams import recent_team_changes, teams_view
from abacus.services.teams import (
    TeamImportError,
    create_team,
    delete_team,
    import_teams_csv,
    remove_member,
    set_member,
)
from abacus.web.rendering import is_htmx, render

FRAGMENTS = {"teams-body": "fragments/teams_body.html"}
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    *,
    status_code: int = 200,
    viewer: Viewer = EVERYONE,
    **extra: Any,
) -> Template:
    view = await teams_view(db, viewer)
    user = session_user(request) or {}
    admin = request.app.state.settings.sign_in.is_admin(user.get("email", ""))
    context = {
        "nav": "teams",
        "view": view,
        "changes": await recent_team_changes(db) if admin else [],
        **extra,
    }
    return render(request, "pages/teams.html", context, fragments=FRAGMENTS, status_code=status_code)


@get("/teams", name="teams")
async def teams_page(request: Request[Any, Any, Any], db: AsyncSession, viewer: NamedDependency[Viewer]) -> Template:
    return await _page(request, db, viewer=viewer)


def _admin(request: Request[Any, Any, Any]) -> str:
    return str(session_user(request)["email"])  # type: ignore[index]


async def _write(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    change: Callable[[str], Awaitable[str]],
    *,
    key: str,
) -> Template | Redirect:
    """Run one admin change in its own transaction; a refused value re-renders the page with the reason (400);
    a plain form post is redirected back (post/redirect/get), an htmx one gets the page with the notice."""
    try:
        async with db.begin():
            notice = await change(_admin(request))
    except TeamError as exc:
        return await _page(request, db, status_code=400, error={"key": key, "message": str(exc)})
    if not is_htmx(request):
        return Redirect("/teams", status_code=303)
    return await _page(request, db, notice=notice)


def _field(data: dict[str, str], name: str, limit: int = 400) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise TeamError(f"{name} must be text")
    if len(value) > limit:
        raise TeamError(f"{name} is longer than {limit} characters")
    return value


@post("/teams", guards=[require_admin], status_code=200)
async def add_team(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Create a team (slug and display name)."""

    async def change(actor: str) -> str:
        slug = await create_team(db, _field(data, "slug"), _field(data, "name"), actor=actor)
        return f"Created team {slug}."

    return await _write(request, db, change, key="new team")


@post("/teams/delete", guards=[require_admin], status_code=200)
async def remove_team(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Two steps, both plain forms: "Remove team" asks once on the page, "Yes, remove" removes."""
    raw = data.get("slug", "")
    if data.get("confirm") != "yes":
        try:
            slug = validate_slug(_field(data, "slug"))
        except TeamError as exc:
            return await _page(request, db, status_code=400, error={"key": raw[:100], "message": str(exc)})
        return await _page(request, db, confirm_remove_team=slug)

    async def change(actor: str) -> str:
        before = await delete_team(db, _field(data, "slug"), actor=actor)
        return f"Removed team {validate_slug(raw)} ({len(before['members'])} member(s))."

    return await _write(request, db, change, key=raw[:100])


@post("/teams/members", guards=[require_admin], status_code=200)
async def save_member(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Add a person to a team, or change their role (`only_role=yes`: the member must already be there)."""
    raw = data.get("slug", "")

    async def change(actor: str) -> str:
        result = await set_member(
            db,
            _field(data, "slug"),
            _field(data, "email"),
            _field(data, "role") or "member",
            actor=actor,
            require_member=data.get("only_role") == "yes",
        )
        role = result.after["role"] if result.after else ""
        if not result.changed:
            return f"{result.email} is already {role} of {result.slug}."
        if result.before is None:
            return f"Added {result.email} to {result.slug} as {role}."
        return f"{result.email} in {result.slug}: {result.before['role']} → {role}."

    return await _write(request, db, change, key=raw[:100])


@post("/teams/members/remove", guards=[require_admin], status_code=200)
async def remove_team_member(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Take a person out of a team (a member synced from GitHub stays out)."""
    raw = data.get("slug", "")

    async def change(actor: str) -> str:
        result = await remove_member(db, _field(data, "slug"), _field(data, "email"), actor=actor)
        return f"Removed {result.email} from {result.slug}."

    return await _write(request, db, change, key=raw[:100])


@post("/teams/import", guards=[require_admin], status_code=200)
async def import_teams(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template | Redirect:
    """A `team,email[,role]` CSV: every row or none; the problems are listed with line and column (400)."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        return await _page(request, db, status_code=400, import_errors=["Choose a CSV file to import."])
    name = (upload.filename or "upload.csv")[:200]
    content = await upload.read()
    if len(content) > MAX_IMPORT_BYTES:
        problem = f"larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB"
        return await _page(request, db, status_code=400, import_errors=[problem], import_name=name)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (byte {exc.start})"
        return await _page(request, db, status_code=400, import_errors=[problem], import_name=name)
    try:
        async with db.begin():
            outcome = await import_teams_csv(db, text, actor=_admin(request), file_name=name)
    except TeamImportError as exc:
        problems = [str(p) for p in exc.problems[:50]]
        return await _page(request, db, status_code=400, import_errors=problems, import_name=name)
    if not is_htmx(request):
        return Redirect("/teams", status_code=303)
    return await _page(request, db, notice=f"Imported {name}: {outcome.describe()}.")
