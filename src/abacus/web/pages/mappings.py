"""GET /mappings (the mapping assistant) and its admin writes: set, delete, accept suggestions, CSV import."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_admin, session_user
from abacus.providers.cursor_csv import CsvImportError, csv_organization_id, describe_import, import_cursor_csv
from abacus.queries.mappings import mappings_view
from abacus.services.mappings import SOURCES, MappingError, delete_mapping, set_mapping
from abacus.web import params
from abacus.web.rendering import is_htmx, render

FRAGMENTS = {"mapping-tables": "fragments/mapping_tables.html"}
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _page(request: Request[Any, Any, Any], db: AsyncSession, **extra: Any) -> Template:
    source = request.query_params.get("source") or None
    if source is not None and source not in SOURCES:
        params.choice(request, "source", SOURCES, "")
    status = params.choice(request, "status", ("unmapped", "mapped", "all"), "unmapped")
    search = params.text(request, "search")
    page = params.integer(request, "page", 1)
    view = await mappings_view(
        db,
        source=source,
        status=status,
        search=search,
        page=page,
        allowed_domains=request.app.state.settings.allowed_domains,
    )
    keep = {"source": source, "status": None if status == "unmapped" else status, "search": search}
    context = {
        "nav": "mappings",
        "view": view,
        "source": source,
        "status": status,
        "search": search,
        "keep": keep,
        "sources": SOURCES,
        "cursor_labels": [k.label for k in request.app.state.settings.cursor_keys],
    }
    return render(request, "pages/mappings.html", {**context, **extra}, fragments=FRAGMENTS)


@get("/mappings", name="mappings")
async def mappings_page(request: Request[Any, Any, Any], db: AsyncSession) -> Template:
    return await _page(request, db)


def _after_write(request: Request[Any, Any, Any]) -> bool:
    return is_htmx(request)


@post("/mappings", guards=[require_admin], status_code=200)
async def save_mapping(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    admin = session_user(request)["email"]  # type: ignore[index]
    source, external_id, email = data.get("source", ""), data.get("external_id", ""), data.get("email", "")
    try:
        async with db.begin():
            change = await set_mapping(db, source, external_id, email, updated_by=admin)
    except MappingError as exc:
        return await _page(request, db, error={"key": f"{source}:{external_id}", "message": str(exc)})
    notice = (
        f"Mapped {source} {external_id} → {email.strip().lower()} ({change.usage_rows} usage rows, "
        f"{change.commits} commits re-pointed)."
    )
    return await _page(request, db, notice=notice) if _after_write(request) else Redirect("/mappings", status_code=303)


@post("/mappings/accept-all", guards=[require_admin], status_code=200)
async def accept_all(request: Request[Any, Any, Any], db: AsyncSession) -> Template | Redirect:
    admin = session_user(request)["email"]  # type: ignore[index]
    view = await mappings_view(
        db,
        source=None,
        status="unmapped",
        search=None,
        page=1,
        allowed_domains=request.app.state.settings.allowed_domains,
    )
    accepted = 0
    async with db.begin():
        for item in view.suggested:
            await set_mapping(db, item.source, item.external_id, item.suggestion or "", updated_by=admin)
            accepted += 1
    notice = f"Accepted {accepted} suggested mapping(s)."
    return await _page(request, db, notice=notice) if _after_write(request) else Redirect("/mappings", status_code=303)


@post("/mappings/delete", guards=[require_admin], status_code=200)
async def remove_mapping(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    source, external_id = data.get("source", ""), data.get("external_id", "")
    try:
        async with db.begin():
            change = await delete_mapping(db, source, external_id)
    except MappingError as exc:
        return await _page(request, db, error={"key": f"{source}:{external_id}", "message": str(exc)})
    notice = f"Removed {source} {external_id} ({change.usage_rows} usage rows, {change.commits} commits re-pointed)."
    return await _page(request, db, notice=notice) if _after_write(request) else Redirect("/mappings", status_code=303)


@post("/mappings/import", guards=[require_admin], status_code=200)
async def import_csv(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    upload = data.get("file")
    organization_id = csv_organization_id(request.app.state.settings, str(data.get("organization_id") or ""))
    if not isinstance(upload, UploadFile):
        return await _page(request, db, import_errors=["Choose a Cursor usage CSV file to import."])
    content = await upload.read()
    try:
        result = await import_cursor_csv(request.app.state.sessionmaker, content, organization_id=organization_id)
    except CsvImportError as exc:
        return await _page(request, db, import_errors=exc.errors, import_name=upload.filename)
    return await _page(request, db, notice=f"Imported {upload.filename}: {describe_import(result)}.")
