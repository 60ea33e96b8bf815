"""Large Cursor CSV imports as an arq job, with their progress in Redis for the page to poll.

The upload handler parks the file in Redis (`file_key`), writes a "queued" status (`status_key`) and enqueues
`import_cursor_csv_file(import_id)`; the job runs the same all-or-nothing import as the CLI (one transaction) and
rewrites the status after every stage and chunk. Small files are imported inside the request instead
(`INLINE_BYTES`), so the common case answers at once without a worker.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from redis.asyncio import Redis

from abacus.logging_setup import get_logger
from abacus.providers.cursor_csv import CsvImportError, describe_import, import_cursor_csv

log = get_logger("abacus.csv_import")

IMPORT_JOB = "import_cursor_csv_file"
INLINE_BYTES = 256 * 1024
"""Uploads up to this size (a few thousand rows) are imported inside the request; bigger ones become a job."""
TTL_SECONDS = 24 * 3600
# how far the bar is at the start of each stage (percent); the writing stage fills most of it
STAGE_START = {"queued": 0, "validating": 0, "checking": 10, "writing": 20, "summing": 95}
STAGE_SPAN = {"validating": 10, "checking": 10, "writing": 75, "summing": 5}
STAGE_LABEL = {
    "queued": "Waiting for a worker",
    "validating": "Validating every row",
    "checking": "Looking for rows already stored",
    "writing": "Writing rows (one transaction: nothing is visible until the end)",
    "summing": "Refreshing totals",
}


def status_key(queue: str, import_id: str) -> str:
    return f"abacus:csv-import:{queue}:{import_id}"


def file_key(queue: str, import_id: str) -> str:
    return f"abacus:csv-import:{queue}:{import_id}:file"


def job_id(import_id: str) -> str:
    return f"csv-import:{import_id}"


def is_import_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class ImportStatus:
    """One import as the page shows it: state `queued` / `running` / `done` / `failed`, the stage and its counts."""

    import_id: str
    filename: str
    organization_id: str
    state: str = "queued"
    stage: str = "queued"
    done: int = 0
    total: int = 0
    notice: str | None = None
    errors: list[str] = field(default_factory=list)
    summary: str | None = None
    actor: str | None = None  # who uploaded it (the audit event's actor)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        share = self.done / self.total if self.total else 0.0
        return min(99, STAGE_START.get(self.stage, 0) + int(STAGE_SPAN.get(self.stage, 0) * share))

    @property
    def stage_label(self) -> str:
        return STAGE_LABEL.get(self.stage, self.stage)


async def _save(redis: Redis, queue: str, status: ImportStatus) -> None:
    await redis.set(status_key(queue, status.import_id), json.dumps(asdict(status)), ex=TTL_SECONDS)


async def read_import(redis: Redis, queue: str, import_id: str) -> ImportStatus | None:
    """The import's status, None when the id is unknown or expired."""
    if not is_import_id(import_id):
        return None
    raw = await redis.get(status_key(queue, import_id))
    if raw is None:
        return None
    known = {f.name for f in fields(ImportStatus)}
    return ImportStatus(**{k: v for k, v in json.loads(raw).items() if k in known})  # written by another version


async def start_import(
    redis: Redis, arq: Any, queue: str, data: bytes, *, filename: str, organization_id: str, actor: str | None = None
) -> ImportStatus:
    """Park the file, record a queued status and enqueue the job; returns the status to show."""
    status = ImportStatus(
        import_id=secrets.token_hex(16), filename=filename, organization_id=organization_id, actor=actor
    )
    await redis.set(file_key(queue, status.import_id), data, ex=TTL_SECONDS)
    await _save(redis, queue, status)
    await arq.enqueue_job(IMPORT_JOB, status.import_id, _job_id=job_id(status.import_id))
    log.info("csv import queued", import_id=status.import_id, bytes=len(data), organization_id=organization_id)
    return status


async def import_cursor_csv_file(ctx: dict[str, Any], import_id: str) -> dict[str, Any]:
    """arq job: import a parked upload all-or-nothing, reporting progress; the file is dropped once it is done."""
    redis: Redis = ctx["redis"]
    queue = ctx["settings"].jobs.queue
    status = await read_import(redis, queue, import_id)
    data = await redis.get(file_key(queue, import_id))
    if status is None or data is None:
        log.warning("csv import without its file or status (expired?)", import_id=import_id)
        if status is not None:
            await _save(
                redis, queue, replace(status, state="failed", errors=["the uploaded file expired; upload it again"])
            )
        return {"import_id": import_id, "state": "failed"}
    current = replace(status, state="running")

    async def progress(stage: str, done: int, total: int) -> None:
        nonlocal current
        current = replace(current, stage=stage, done=done, total=total)
        await _save(redis, queue, current)

    try:
        result = await import_cursor_csv(
            ctx["sessionmaker"],
            data,
            organization_id=status.organization_id,
            progress=progress,
            actor=status.actor,
            file_name=status.filename,
        )
    except CsvImportError as exc:
        await _save(redis, queue, replace(current, state="failed", errors=exc.errors, summary=exc.summary))
        await redis.delete(file_key(queue, import_id))
        log.info("csv import refused", import_id=import_id, problems=exc.count)
        return {"import_id": import_id, "state": "failed", "problems": exc.count}
    except Exception as exc:
        message = f"the import failed ({type(exc).__name__}); nothing was written — try again"
        await _save(redis, queue, replace(current, state="failed", errors=[message]))
        log.exception("csv import failed", import_id=import_id)
        raise
    notice = f"Imported {status.filename}: {describe_import(result)}."
    await _save(redis, queue, replace(current, state="done", notice=notice))
    await redis.delete(file_key(queue, import_id))
    log.info("csv import done", import_id=import_id, new=result.new, already_present=result.already_present)
    return {"import_id": import_id, "state": "done", "new": result.new, "already_present": result.already_present}
