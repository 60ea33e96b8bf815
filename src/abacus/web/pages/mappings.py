"""GET /mappings (the mapping assistant) and its admin writes: set, delete, accept suggestions, CSV import."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_admin, require_full_view, session_user
from abacus.domain.attribution import is_work_email
from abacus.domain.formatting import counted
from abacus.providers.cursor_csv import (
    MAX_FILE_BYTES,
    CsvImportError,
    csv_organization_id,
    describe_import,
    import_cursor_csv,
)
from abacus.queries.mappings import UnmappedIdentity, mappings_view
from abacus.queue_keys import last_heartbeat
from abacus.services.audit import record_audit
from abacus.services.bots import set_bot
from abacus.services.mappings import (
    SOURCES,
    MappingError,
    admin_delete_mapping,
    admin_set_mapping,
    lock_for_claude_code_days,
    normalise_external_id,
    set_mapping,
    validate_email,
)
from abacus.web.params import SearchText, one_of
from abacus.web.rendering import is_htmx, render
from abacus.worker.csv_import_jobs import INLINE_BYTES, read_import, start_import
from abacus.worker.enqueue import arq_pool

FRAGMENTS = {"mapping-tables": "fragments/mapping_tables.html", "import-progress": "fragments/import_progress.html"}
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True)
class MappingsFilter:
    """The assistant's own query parameters, validated: source, status, search text, page."""

    source: str | None = None
    status: str = "unmapped"
    search: str | None = None
    page: int = 1


def provide_mappings_filter(
    mapping_source: NamedDependency[str | None],
    query_text: NamedDependency[SearchText],
    page_number: NamedDependency[int],
    status: str | None = None,
) -> MappingsFilter:
    state = one_of("status", status, ("unmapped", "mapped", "all"), "unmapped")
    return MappingsFilter(mapping_source, state, query_text.text, page_number)


MAPPINGS_FILTER = {"mappings_filter": Provide(provide_mappings_filter, sync_to_thread=False)}
"""The writes re-render the page with the filters of the address they were posted to."""


async def _page(
    request: Request[Any, Any, Any], db: AsyncSession, chosen: MappingsFilter, *, status_code: int = 200, **extra: Any
) -> Template:
    source, status, search, page = chosen.source, chosen.status, chosen.search, chosen.page
    view = await mappings_view(
        db,
        source=source,
        status=status,
        search=search,
        page=page,
        allowed_domains=request.app.state.settings.sign_in.allowed_domains,
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
        "cursor_labels": [k.label for k in request.app.state.settings.cursor.keys],
        "allowed_domains": request.app.state.settings.sign_in.allowed_domains,
        "suggestions_key": suggestions_fingerprint(view.suggested),
    }
    # the progress panel exists only with an import: asked for without one, the whole page answers (not a 500)
    fragments = FRAGMENTS if "import_job" in extra else {k: v for k, v in FRAGMENTS.items() if k != "import-progress"}
    return render(request, "pages/mappings.html", {**context, **extra}, fragments=fragments, status_code=status_code)


@get("/mappings", name="mappings", dependencies=MAPPINGS_FILTER, guards=[require_full_view])
async def mappings_page(
    request: Request[Any, Any, Any], db: AsyncSession, mappings_filter: NamedDependency[MappingsFilter]
) -> Template:
    return await _page(request, db, mappings_filter)


async def _after_write(
    request: Request[Any, Any, Any], db: AsyncSession, mappings_filter: MappingsFilter, notice: str
) -> Template | Redirect:
    """An htmx write gets the page with its notice; a plain form post is redirected back (post/redirect/get)."""
    if not is_htmx(request):
        return Redirect("/mappings", status_code=303)
    return await _page(request, db, mappings_filter, notice=notice)


@dataclass(frozen=True)
class IdentityForm:
    """What a write form of the assistant names: one identity (source and external id as typed) and the admin who
    sent it; `error` says why the identity cannot be written (None: it can)."""

    admin: str
    source: str
    external_id: str
    error: str | None = None

    @property
    def key(self) -> str:
        """The row of the page a refusal is shown next to."""
        return f"{self.source}:{self.external_id}"


def _identity_from_form(request: Request[Any, Any, Any], data: dict[str, str]) -> IdentityForm:
    """The identity a set / remove / bot form names, checked the way the write will check it."""
    admin = session_user(request)["email"]  # type: ignore[index]
    source, external_id = data.get("source", ""), data.get("external_id", "")
    try:
        normalise_external_id(source, external_id)
    except MappingError as exc:
        return IdentityForm(admin, source, external_id, error=str(exc))
    return IdentityForm(admin, source, external_id)


async def _refused(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    mappings_filter: MappingsFilter,
    form: IdentityForm,
    message: str | None = None,
) -> Template:
    """A write the form's values cannot make: the page with the reason (`message`, else the form's own error) next to
    the row, status 400."""
    error = {"key": form.key, "message": message or form.error}
    return await _page(request, db, mappings_filter, status_code=400, error=error)


def suggestions_fingerprint(items: Sequence[UnmappedIdentity]) -> str:
    """A short digest of the suggestions a confirmation showed: "Accept all" applies them only if they still hold."""
    text = "\n".join(f"{u.source}\t{u.external_id}\t{u.suggestion}" for u in items)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@post("/mappings", guards=[require_admin], status_code=200, dependencies=MAPPINGS_FILTER)
async def save_mapping(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: FormData,
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template | Redirect:
    """Map an identity to a person; an email outside ABACUS_ALLOWED_DOMAINS needs a second, explicit "save anyway"."""
    form = _identity_from_form(request, data)
    if form.error:
        return await _refused(request, db, mappings_filter, form)
    allowed = request.app.state.settings.sign_in.allowed_domains
    try:
        address = validate_email(data.get("email", ""))
        if allowed and not is_work_email(address, allowed) and data.get("confirm") != "outside":
            warning = {
                "source": form.source,
                "external_id": form.external_id,
                "email": address,
                "domains": ", ".join(allowed),
            }
            return await _page(request, db, mappings_filter, confirm_outside=warning)
        async with db.begin():
            change = await admin_set_mapping(db, form.source, form.external_id, address, actor=form.admin)
    except MappingError as exc:
        return await _refused(request, db, mappings_filter, form, str(exc))
    notice = (
        f"Mapped {form.source} {form.external_id} → {address} ({counted(change.usage_rows, 'usage rows')}, "
        f"{counted(change.commits, 'commits')} re-pointed)."
    )
    return await _after_write(request, db, mappings_filter, notice)


@post("/mappings/accept-all", guards=[require_admin], status_code=200, dependencies=MAPPINGS_FILTER)
async def accept_all(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: FormData,
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template | Redirect:
    """Two steps, both plain forms: the first shows what would be accepted; the confirmation applies exactly that
    (if the suggestions changed in between, it asks again)."""
    admin = session_user(request)["email"]  # type: ignore[index]
    allowed = request.app.state.settings.sign_in.allowed_domains
    if data.get("confirm") != "yes":
        return await _page(request, db, mappings_filter, confirm_accept=True)
    accepted, refused = 0, 0
    # the suggestions are read in the transaction that applies them: what is accepted is what was suggested
    async with db.begin():
        view = await mappings_view(db, source=None, status="unmapped", search=None, page=1, allowed_domains=allowed)
        if suggestions_fingerprint(view.suggested) != data.get("suggestions", ""):
            stale = True
        else:
            stale = False
            await lock_for_claude_code_days(db, *(item.source for item in view.suggested))  # before any write
            before: dict[str, str | None] = {}
            after: dict[str, str | None] = {}
            for item in view.suggested:
                try:
                    change = await set_mapping(
                        db, item.source, item.external_id, item.suggestion or "", updated_by=admin
                    )
                except MappingError:  # checked before any write: the other suggestions still apply
                    refused += 1
                    continue
                accepted += 1
                key = f"{item.source}:{normalise_external_id(item.source, item.external_id)}"
                before[key], after[key] = change.before, change.after
            if accepted:
                await record_audit(
                    db,
                    actor=admin,
                    action="mapping.accept_all",
                    target=f"{accepted} suggestion(s)",
                    before=before,
                    after=after,
                )
    if stale:
        return await _page(
            request,
            db,
            mappings_filter,
            confirm_accept=True,
            notice="The suggestions changed since they were shown; nothing was saved. Check them and confirm again.",
        )
    notice = f"Accepted {accepted} suggested mapping(s)." + (f" {refused} could not be applied." if refused else "")
    return await _after_write(request, db, mappings_filter, notice)


@post("/mappings/delete", guards=[require_admin], status_code=200, dependencies=MAPPINGS_FILTER)
async def remove_mapping(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: FormData,
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template | Redirect:
    """Two steps, both plain forms: "Remove" asks once on the page, "Yes, remove" removes."""
    form = _identity_from_form(request, data)
    if form.error:
        return await _refused(request, db, mappings_filter, form)
    if data.get("confirm") != "yes":
        confirm = {"source": form.source, "external_id": form.external_id}
        return await _page(request, db, mappings_filter, confirm_remove=confirm)
    try:
        async with db.begin():
            change = await admin_delete_mapping(db, form.source, form.external_id, actor=form.admin)
    except MappingError as exc:
        return await _refused(request, db, mappings_filter, form, str(exc))
    notice = (
        f"Removed {form.source} {form.external_id} ({counted(change.usage_rows, 'usage rows')}, "
        f"{counted(change.commits, 'commits')} re-pointed)."
    )
    return await _after_write(request, db, mappings_filter, notice)


@post("/mappings/bots", guards=[require_admin], status_code=200, dependencies=MAPPINGS_FILTER)
async def mark_bot(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: FormData,
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template | Redirect:
    """ "Ignore as bot" (bot=yes) or "not a bot" (bot=no) for one identity; reversible, so no confirmation step."""
    form = _identity_from_form(request, data)
    choice = data.get("bot", "")
    if choice not in ("yes", "no"):
        return await _refused(request, db, mappings_filter, form, 'bot must be "yes" or "no"')
    if form.error:
        return await _refused(request, db, mappings_filter, form)
    try:
        async with db.begin():
            change = await set_bot(db, form.source, form.external_id, choice == "yes", updated_by=form.admin)
            await record_audit(
                db,
                actor=form.admin,
                action="identity.bot" if change.is_bot else "identity.not_bot",
                target=f"{change.source}:{change.external_id}",
                before={"is_bot": change.before},
                after={"is_bot": change.is_bot},
            )
    except MappingError as exc:
        return await _refused(request, db, mappings_filter, form, str(exc))
    moved = counted(change.commits, "commits") if form.source == "github" else counted(change.usage_rows, "usage rows")
    notice = (
        f"Ignored {change.source} {change.external_id} as a bot: {moved} no longer counted for anyone."
        if change.is_bot
        else f"{change.source} {change.external_id} is not a bot any more: {moved} counted again."
    )
    return await _after_write(request, db, mappings_filter, notice)


@post("/mappings/import", guards=[require_admin], status_code=200, dependencies=MAPPINGS_FILTER)
async def import_csv(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template | Redirect:
    """Small files are imported here; bigger ones become a job whose progress the page polls."""
    upload = data.get("file")
    name = upload.filename if isinstance(upload, UploadFile) else None
    try:
        organization_id = csv_organization_id(request.app.state.settings, _form_text(data.get("organization_id")))
    except CsvImportError as exc:
        return await _page(request, db, mappings_filter, import_errors=exc.errors, import_name=name)
    if not isinstance(upload, UploadFile):
        return await _page(request, db, mappings_filter, import_errors=["Choose a Cursor usage CSV file to import."])
    content = await upload.read()
    if INLINE_BYTES < len(content) <= MAX_FILE_BYTES:  # a bigger file is refused at once by the size guard
        state = request.app.state
        if state.arq is None:
            state.arq = await arq_pool(state.settings)
        job = await start_import(
            state.redis,
            state.arq,
            state.settings.jobs.queue,
            content,
            filename=upload.filename or "upload.csv",
            organization_id=organization_id,
            actor=session_user(request)["email"],  # type: ignore[index]
        )
        if not is_htmx(request):
            return Redirect(f"/mappings/imports/{job.import_id}", status_code=303)
        return await _page(request, db, mappings_filter, import_job=job, worker_missing=await _no_worker(request))
    try:
        result = await import_cursor_csv(
            request.app.state.sessionmaker,
            content,
            organization_id=organization_id,
            actor=session_user(request)["email"],  # type: ignore[index]
            file_name=upload.filename or "upload.csv",
        )
    except CsvImportError as exc:
        return await _page(
            request, db, mappings_filter, import_errors=exc.errors, import_summary=exc.summary, import_name=name
        )
    return await _page(request, db, mappings_filter, notice=f"Imported {upload.filename}: {describe_import(result)}.")


@get("/mappings/imports/{import_id:str}", name="mapping_import", guards=[require_admin], dependencies=MAPPINGS_FILTER)
async def import_progress(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    import_id: str,
    mappings_filter: NamedDependency[MappingsFilter],
) -> Template:
    """A queued import's progress: the polled panel (htmx) or the whole page with it (a refresh link, no JS)."""
    state = request.app.state
    job = await read_import(state.redis, state.settings.jobs.queue, import_id)
    if job is None:
        raise NotFoundException("No such import (imports are kept for a day)")
    missing = not job.finished and await _no_worker(request)
    return await _page(request, db, mappings_filter, import_job=job, worker_missing=missing)


async def _no_worker(request: Request[Any, Any, Any]) -> bool:
    """No worker of this queue said it was alive lately: a queued import would wait for ever, so the page says so."""
    state = request.app.state
    return await last_heartbeat(state.redis, state.settings.jobs.queue) is None


def _form_text(value: Any) -> str:
    """A text field of a multipart form (a file where text is expected counts as empty)."""
    return value if isinstance(value, str) else ""
