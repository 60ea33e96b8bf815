"""Cursor usage CSV import (docs/providers.md §3.7, docs/security.md §5): validate the whole file, then write all of
it in one transaction, or nothing.

The rows get the same dedupe key as the API's (`organization_id` `cursor:<label>`, `default` → `auto`, the same
same-millisecond ordinals), so a CSV row and the API event it describes merge into one row, and re-importing a file
changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.domain.modelnames import normalize_model_name
from abacus.providers.cursor import TOOL, assign_same_millisecond_ordinals, epoch_ms, stored_raw_model
from abacus.providers.cursor import organization_id as team_organization_id
from abacus.providers.wire import MAX_IDENTITY_ID
from abacus.records import UsageRow
from abacus.rollups import refresh_rollup
from abacus.services.audit import record_audit
from abacus.settings import Settings
from abacus.sync.usage_store import upsert_usage

MAX_ERRORS = 50
MAX_MODEL = 128  # usage_records.raw_model
MAX_FILE_BYTES = 25 * 1024 * 1024
"""The size guard: a bigger file is refused before it is read (the web app caps request bodies at 30 MiB)."""
MAX_TOKENS = 10**12
"""Per row and column: far above any real request, far below what a bigint rollup sum could overflow on."""
MAX_COST = Decimal(100_000)
"""Dollars per row; usage_records.cost is numeric(14, 6)."""
FIRST_YEAR, LAST_YEAR = 2000, 2099
WRITE_CHUNK = 5000
"""Rows per upsert inside the import's single transaction (progress is reported after each)."""

COL_DATE = "Date"
COL_USER = "User"
COL_MODEL = "Model"
COL_CACHE_WRITE = "Input (w/ Cache Write)"
COL_INPUT = "Input (w/o Cache Write)"
COL_CACHE_READ = "Cache Read"
COL_OUTPUT = "Output Tokens"
COL_COST = "Cost"
REQUIRED_COLUMNS = (
    COL_DATE,
    COL_USER,
    "Kind",
    COL_MODEL,
    "Max Mode",
    COL_CACHE_WRITE,
    COL_INPUT,
    COL_CACHE_READ,
    COL_OUTPUT,
    "Total Tokens",
    COL_COST,
)
TOKEN_COLUMNS = (COL_INPUT, COL_CACHE_WRITE, COL_CACHE_READ, COL_OUTPUT)
FREE_COST_WORDS = frozenset({"", "-", "included"})
_ORGANIZATION = re.compile(r"cursor:[A-Za-z0-9][A-Za-z0-9_.-]{0,40}")  # cursor:<label>, labels as in settings
_DOLLARS = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # in any cell (tab and line breaks may be quoted)
_STORED_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # in a cell whose text is stored (User, Model)
STORED_TEXT_COLUMNS = (COL_USER, COL_MODEL)


@dataclass(frozen=True)
class CsvParseResult:
    """Rows ready to store, the first 50 errors found and how many there were in all, zero-token rows skipped."""

    rows: list[UsageRow]
    errors: list[str]
    skipped_zero: int
    error_count: int = 0

    def __post_init__(self) -> None:
        if self.error_count < len(self.errors):
            object.__setattr__(self, "error_count", len(self.errors))


@dataclass(frozen=True)
class CsvImportResult:
    """What an import did: rows written for the first time, rows that were already stored (under this team, or
    under another one and therefore not written again), zero-token rows skipped, and the days covered."""

    new: int
    already_present: int
    other_team: int
    skipped_zero: int
    first_date: date | None
    last_date: date | None


class CsvImportError(ValueError):
    """The file (or the team chosen for it) is invalid; nothing was written. `errors` are the first 50 problems,
    each naming its line and column; `count` is how many there were in all."""

    def __init__(self, errors: list[str], count: int | None = None) -> None:
        super().__init__("; ".join(errors[:3]) + (" …" if len(errors) > 3 else ""))
        self.errors = errors
        self.count = max(count or 0, len(errors))

    @property
    def summary(self) -> str:
        """`200 problems; the first 50 are listed` (or `3 problems`)."""
        noun = "problem" if self.count == 1 else "problems"
        listed = f"; the first {len(self.errors)} are listed" if self.count > len(self.errors) else ""
        return f"{self.count:,} {noun}{listed}"


ProgressCallback = Callable[[str, int, int], Awaitable[None]]
"""`await progress(stage, done, total)`: stage is "validating", "checking", "writing" or "summing"."""


def csv_organization_id(settings: Settings, label: str | None = None) -> str:
    """`cursor:<label>` for an import: the given label (one of the configured Cursor teams when there are any),
    else the only configured team's label, else `default`.

    Raises CsvImportError when several teams are configured and none is given (the rows would otherwise land
    under a label the API never uses, and count twice), or when the label is not a configured team.
    """
    labels = [key.label for key in settings.cursor.keys]
    chosen = (label or "").strip()
    listed = ", ".join(labels)
    if chosen:
        if labels and chosen not in labels:
            raise CsvImportError([f'team "{_shown(chosen)}" is not a configured Cursor team (configured: {listed})'])
        return team_organization_id(chosen)
    if len(labels) > 1:
        raise CsvImportError(
            [
                f"{len(labels)} Cursor teams are configured ({listed}): say which one the file belongs to "
                "(--org LABEL on the command line, the team field of the upload form)"
            ]
        )
    return team_organization_id(labels[0] if labels else "default")


def _shown(value: str) -> str:
    """A cell as an error message quotes it: at most 60 characters, control characters written as escapes."""
    value = value if len(value) <= 60 else value[:57] + "..."
    return _STORED_CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


def _control_problem(value: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(value)
    if found is None:
        return None
    char = found.group()
    name = "a NUL byte" if char == "\x00" else f"the control character U+{ord(char):04X}"
    return f"contains {name}; only printable text is accepted"


class _Errors:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.lines) < MAX_ERRORS:
            self.lines.append(message)

    def result(self, skipped: int = 0) -> CsvParseResult:
        return CsvParseResult([], self.lines, skipped, self.total)


def _timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp (a naive one is UTC); None when it is not one."""
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves year 1 or 9999 out of range
        return None


def _integer(value: str) -> int | None:
    text = value.strip()
    if text == "":
        return 0
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 30 else MAX_TOKENS + 1  # no 5,000-digit int(): it is too big either way


def _dollars(value: str) -> Decimal | None:
    text = value.strip()
    if text.lower() in FREE_COST_WORDS:
        return Decimal(0)
    text = text.removeprefix("$").strip()
    return Decimal(text) if len(text) <= 40 and _DOLLARS.fullmatch(text) else None


def _is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and "@" not in domain and not any(c.isspace() for c in value))


def parse_cursor_csv(data: bytes, *, organization_id: str) -> CsvParseResult:
    """Validate and parse a Cursor usage export (RFC 4180; BOM and CRLF accepted); pure.

    Errors read like `line 17: column "Date": "2025-13-01T10:00" is not an ISO 8601 timestamp`; a file with any
    error yields no rows. Never raises on any input bytes.
    """
    errors = _Errors()
    if not _ORGANIZATION.fullmatch(organization_id):
        errors.add(
            f'team "{_shown(organization_id)}" is not cursor:<label> with a Cursor team label '
            '(letters, digits, "_", "." or "-")'
        )
        return errors.result()
    if len(data) > MAX_FILE_BYTES:
        errors.add(
            f"line 1: the file is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes "
            "(split the export by date range)"
        )
        return errors.result()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        errors.add(
            f"line {line}: byte {column} of the line (offset {exc.start}) is not UTF-8 text; "
            "export the file as UTF-8 CSV"
        )
        return errors.result()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        errors.add(f"line 1: malformed CSV header ({exc})")
        return errors.result()
    if header is None or not any(cell.strip() for cell in header):
        errors.add(
            "line 1: the file is empty: expected a header row with the columns "
            + ", ".join(f'"{c}"' for c in REQUIRED_COLUMNS)
        )
        return errors.result()
    names = [cell.strip() for cell in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    duplicated = sorted({c for c in REQUIRED_COLUMNS if names.count(c) > 1})
    if missing:
        errors.add("line 1: missing column(s) " + ", ".join(f'"{c}"' for c in missing))
    if duplicated:
        errors.add("line 1: column(s) appear more than once: " + ", ".join(f'"{c}"' for c in duplicated))
    if missing or duplicated:
        return errors.result()
    position = {name: names.index(name) for name in REQUIRED_COLUMNS}

    rows: list[UsageRow] = []
    skipped = 0
    line = reader.line_num + 1  # physical line where the next record starts
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            where = _quote_problem_column(text, line, names)
            errors.add(f"line {line}:{where} malformed CSV ({exc}); the rest of the file was not read")
            break
        start_line, line = line, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        if len(record) != len(names):
            errors.add(f"line {start_line}: {_field_count_problem(names, record)}")
            continue
        row = _parse_row(record, names, position, start_line, errors, organization_id)
        if row is None:
            continue
        if not (row.input_tokens or row.cache_write_tokens or row.cache_read_tokens or row.output_tokens):
            skipped += 1
            continue
        rows.append(row)
    if errors.total:
        return errors.result(skipped)
    return CsvParseResult(assign_same_millisecond_ordinals(rows), [], skipped)


def _field_count_problem(names: list[str], record: list[str]) -> str:
    """`expected 11 fields …, found 9: column "Total Tokens" onwards is missing` (or where the extra ones start)."""
    found = f"expected {len(names)} fields like the header, found {len(record)}"
    if len(record) < len(names):
        return f'{found}: column "{_shown(names[len(record)] or str(len(record) + 1))}" onwards is missing'
    return f"{found}: column {len(names) + 1} onwards has no header (an unquoted comma?)"


def _quote_problem_column(text: str, line: int, names: list[str]) -> str:
    """` column "Kind":` for the field of physical line `line` whose quoting is broken, or "" when not found."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    row, field, i = lines[line - 1], 0, 0
    while i < len(row):
        if row[i] == '"':
            i += 1
            while i < len(row) and not (row[i] == '"' and row[i + 1 : i + 2] != '"'):
                i += 2 if row[i] == '"' else 1
            i += 1  # past the closing quote
            if i > len(row) or (i < len(row) and row[i] != ","):
                break
        while i < len(row) and row[i] != ",":
            i += 1
        if i >= len(row):
            break
        field, i = field + 1, i + 1
    name = names[field] if field < len(names) and names[field] else str(field + 1)
    return f' column "{_shown(name)}":'


def _parse_row(
    record: list[str], names: list[str], position: dict[str, int], line: int, errors: _Errors, organization: str
) -> UsageRow | None:
    before = errors.total
    unreadable: set[int] = set()
    for index, content in enumerate(record):
        stored = names[index] in STORED_TEXT_COLUMNS and position[names[index]] == index
        problem = _control_problem(content, _STORED_CONTROL if stored else _CONTROL)
        if problem:
            unreadable.add(index)
            errors.add(f'line {line}: column "{_shown(names[index] or str(index + 1))}": {problem}')

    def bad(column: str, problem: str) -> None:
        errors.add(f'line {line}: column "{column}": "{_shown(record[position[column]])}" {problem}')

    def cell(column: str) -> str | None:
        return None if position[column] in unreadable else record[position[column]]

    moment = None
    if (date_text := cell(COL_DATE)) is not None:
        moment = _timestamp(date_text)
        if moment is None:
            bad(COL_DATE, "is not an ISO 8601 timestamp")
        elif not FIRST_YEAR <= moment.year <= LAST_YEAR:
            bad(COL_DATE, f"is outside the years {FIRST_YEAR}–{LAST_YEAR}")
    user = (cell(COL_USER) or "").strip().lower()
    if cell(COL_USER) is None:
        pass
    elif not _is_email(user):
        bad(COL_USER, "is not an email address")
    elif len(user) > MAX_IDENTITY_ID:
        bad(COL_USER, f"is longer than {MAX_IDENTITY_ID} characters")
    model = (cell(COL_MODEL) or "").strip()
    if len(model) > MAX_MODEL:
        bad(COL_MODEL, f"is longer than {MAX_MODEL} characters")
    counts: dict[str, int] = {}
    for column in TOKEN_COLUMNS:
        given = cell(column)
        value = None if given is None else _integer(given)
        if given is not None and value is None:
            bad(column, "is not a whole number of tokens")
        elif value is not None and value > MAX_TOKENS:
            bad(column, f"is more than {MAX_TOKENS:,} tokens")
        counts[column] = value or 0
    cost_text = cell(COL_COST)
    cost = None if cost_text is None else _dollars(cost_text)
    if cost_text is not None and cost is None:
        bad(COL_COST, 'is not a dollar amount (e.g. "0.12", "$0.12", "Included", "-")')
    elif cost is not None and cost > MAX_COST:
        bad(COL_COST, f"is more than ${MAX_COST:,} for one request")
    if errors.total > before or moment is None or cost is None:
        return None
    raw_model = stored_raw_model(model)
    return UsageRow(
        date=moment.date(),
        identity=f"{TOOL}:{user}",
        tool=TOOL,
        model=normalize_model_name(raw_model),
        raw_model=raw_model,
        input_tokens=counts[COL_INPUT],
        cache_write_tokens=counts[COL_CACHE_WRITE],
        cache_read_tokens=counts[COL_CACHE_READ],
        output_tokens=counts[COL_OUTPUT],
        cost=cost,
        timestamp_ms=epoch_ms(moment),
        organization_id=organization,
    )


# Rows of the file already stored under any team: same event key except the team (`organization_id`).
STORED_ELSEWHERE = sql_text("""
SELECT k.n, u.organization_id
FROM unnest(CAST(:dates AS date[]), CAST(:identities AS text[]), CAST(:models AS text[]),
            CAST(:records AS text[]), CAST(:ms AS bigint[]), CAST(:ns AS int[]))
     AS k(date, identity, raw_model, tool_record_id, timestamp_ms, n)
JOIN usage_records u
  ON u.date = k.date AND u.identity = k.identity AND u.tool = 'cursor'
 AND u.raw_model IS NOT DISTINCT FROM k.raw_model AND u.tool_record_id IS NOT DISTINCT FROM k.tool_record_id
 AND u.timestamp_ms = k.timestamp_ms
""")
IMPORT_LOCK = sql_text("SELECT pg_advisory_xact_lock(hashtext('abacus:cursor-csv-import'))")


async def _stored_teams(db: AsyncSession, rows: list[UsageRow]) -> dict[int, set[str | None]]:
    """Row index → the teams (`organization_id`) under which that event is stored already."""
    found: dict[int, set[str | None]] = {}
    for start in range(0, len(rows), WRITE_CHUNK):
        chunk = rows[start : start + WRITE_CHUNK]
        result = await db.execute(
            STORED_ELSEWHERE,
            {
                "dates": [r.date for r in chunk],
                "identities": [r.identity for r in chunk],
                "models": [r.raw_model for r in chunk],
                "records": [r.tool_record_id for r in chunk],
                "ms": [r.timestamp_ms for r in chunk],
                "ns": list(range(start, start + len(chunk))),
            },
        )
        for n, organization in result:
            found.setdefault(n, set()).add(organization)
    return found


async def _no_progress(stage: str, done: int, total: int) -> None:
    return None


async def import_cursor_csv(
    sessionmaker: async_sessionmaker[AsyncSession],
    data: bytes,
    *,
    organization_id: str,
    progress: ProgressCallback = _no_progress,
    actor: str | None = None,
    file_name: str = "",
) -> CsvImportResult:
    """Import a Cursor usage CSV all-or-nothing in one transaction; idempotent (re-import adds nothing).

    A person's import (`actor`: the admin's email, `cli:<user>`) records its audit event in that same transaction.

    An event already stored under another team label is a duplicate: counted, never written a second time.
    Imports are serialised (a transaction-level advisory lock), so two uploads of one file cannot both see it as
    new. Raises CsvImportError (nothing written) when the file has any error.
    """
    await progress("validating", 0, 1)
    parsed = parse_cursor_csv(data, organization_id=organization_id)
    if parsed.errors:
        raise CsvImportError(parsed.errors, parsed.error_count)
    rows = parsed.rows
    await progress("validating", 1, 1)
    async with sessionmaker() as db, db.begin():
        await db.execute(IMPORT_LOCK)
        await progress("checking", 0, len(rows))
        stored = await _stored_teams(db, rows)
        elsewhere = {n for n, teams in stored.items() if organization_id not in teams}
        writes = [row for n, row in enumerate(rows) if n not in elsewhere]
        await progress("writing", 0, len(writes))
        for start in range(0, len(writes), WRITE_CHUNK):
            await upsert_usage(db, writes[start : start + WRITE_CHUNK])
            await progress("writing", min(start + WRITE_CHUNK, len(writes)), len(writes))
        await progress("summing", 0, 1)
        await refresh_rollup(db, {(r.date, r.tool) for r in writes})
        days = [row.date for row in rows]
        result = CsvImportResult(
            new=len(rows) - len(stored),
            already_present=len(stored),
            other_team=len(elsewhere),
            skipped_zero=parsed.skipped_zero,
            first_date=min(days) if days else None,
            last_date=max(days) if days else None,
        )
        if actor is not None:
            after = {"organization_id": organization_id, "rows": len(rows), **dataclasses.asdict(result)}
            await record_audit(db, actor=actor, action="import.cursor_csv", target=file_name or "CSV", after=after)
    await progress("summing", 1, 1)
    return result


def describe_import(result: CsvImportResult) -> str:
    """One line for people: `3 new, 2 already present (1 under another team, not written again), days, skipped`."""
    elsewhere = f" ({result.other_team:,} of them under another team, not written again)" if result.other_team else ""
    span = f"; {result.first_date} → {result.last_date}" if result.first_date else ""
    skipped = f"; {result.skipped_zero:,} zero-token rows skipped" if result.skipped_zero else ""
    return f"{result.new:,} new, {result.already_present:,} already present{elsewhere}{span}{skipped}"
