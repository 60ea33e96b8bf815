"""Cursor usage CSV import (docs/providers.md §3.7, docs/security.md §5): validate the whole file, then write all of
it in one transaction, or nothing.

The rows get the same dedupe key as the API's (`organization_id` `cursor:<label>`, `default` → `auto`, the same
same-millisecond ordinals), so a CSV row and the API event it describes merge into one row, and re-importing a file
changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.domain.modelnames import normalize_model_name
from abacus.providers.cursor import TOOL, assign_same_millisecond_ordinals, epoch_ms, stored_raw_model
from abacus.providers.cursor import organization_id as team_organization_id
from abacus.providers.wire import MAX_IDENTITY_ID
from abacus.records import UsageRow
from abacus.settings import Settings
from abacus.sync.usage_store import store_usage

MAX_ERRORS = 50
MAX_MODEL = 128  # usage_records.raw_model

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


@dataclass(frozen=True)
class CsvParseResult:
    """Rows ready to store, every error found (at most 50, then one summary line), zero-token rows skipped."""

    rows: list[UsageRow]
    errors: list[str]
    skipped_zero: int


@dataclass(frozen=True)
class CsvImportResult:
    records: int
    skipped_zero: int
    first_date: date | None
    last_date: date | None


class CsvImportError(ValueError):
    """The file is invalid; nothing was written. `errors` name line numbers and columns."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors[:3]) + (" …" if len(errors) > 3 else ""))
        self.errors = errors


def csv_organization_id(settings: Settings, label: str | None = None) -> str:
    """`cursor:<label>`: the given label, else the only configured Cursor key's label, else `default`."""
    if label:
        return team_organization_id(label.strip())
    if len(settings.cursor.keys) == 1:
        return team_organization_id(settings.cursor.keys[0].label)
    return team_organization_id("default")


def _shown(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "..."


class _Errors:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.total = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.lines) < MAX_ERRORS:
            self.lines.append(message)

    def report(self) -> list[str]:
        hidden = self.total - len(self.lines)
        return self.lines + ([f"… and {hidden} more error(s) not shown"] if hidden else [])


def _timestamp(value: str) -> datetime | None:
    """An ISO 8601 timestamp (a naive one is UTC); None when it is not one."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _integer(value: str) -> int | None:
    text = value.strip()
    if text == "":
        return 0
    return int(text) if text.isascii() and text.isdigit() else None


def _dollars(value: str) -> Decimal | None:
    text = value.strip()
    if text.lower() in FREE_COST_WORDS:
        return Decimal(0)
    text = text.removeprefix("$").strip()
    return Decimal(text) if _DOLLARS.fullmatch(text) else None


def _is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and "@" not in domain and not any(c.isspace() for c in value))


def parse_cursor_csv(data: bytes, *, organization_id: str) -> CsvParseResult:
    """Validate and parse a Cursor usage export (RFC 4180; BOM and CRLF accepted); pure.

    Errors read like `line 17: column "Date": "2025-13-01T10:00" is not an ISO 8601 timestamp`; a file with any
    error yields no rows.
    """
    errors = _Errors()
    if not _ORGANIZATION.fullmatch(organization_id):
        return CsvParseResult(
            [],
            [
                f'team "{_shown(organization_id)}" is not cursor:<label> with a Cursor team label '
                '(letters, digits, "_", "." or "-")'
            ],
            0,
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return CsvParseResult([], [f"the file is not UTF-8 text (invalid byte at offset {exc.start})"], 0)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return CsvParseResult([], [f"line 1: malformed CSV header ({exc})"], 0)
    if header is None or not any(cell.strip() for cell in header):
        return CsvParseResult(
            [],
            [
                "the file is empty: expected a header row with the columns "
                + ", ".join(f'"{c}"' for c in REQUIRED_COLUMNS)
            ],
            0,
        )
    names = [cell.strip() for cell in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    duplicated = sorted({c for c in REQUIRED_COLUMNS if names.count(c) > 1})
    if missing:
        errors.add("line 1: missing column(s) " + ", ".join(f'"{c}"' for c in missing))
    if duplicated:
        errors.add("line 1: column(s) appear more than once: " + ", ".join(f'"{c}"' for c in duplicated))
    if missing or duplicated:
        return CsvParseResult([], errors.report(), 0)
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
            errors.add(f"line {line}: malformed CSV ({exc}); the rest of the file was not read")
            break
        start_line, line = line, reader.line_num + 1
        if not record or (len(record) == 1 and not record[0].strip()):
            continue  # blank line
        if len(record) != len(names):
            errors.add(f"line {start_line}: expected {len(names)} fields like the header, found {len(record)}")
            continue
        row = _parse_row(record, position, start_line, errors, organization_id)
        if row is None:
            continue
        if not (row.input_tokens or row.cache_write_tokens or row.cache_read_tokens or row.output_tokens):
            skipped += 1
            continue
        rows.append(row)
    if errors.total:
        return CsvParseResult([], errors.report(), skipped)
    return CsvParseResult(assign_same_millisecond_ordinals(rows), [], skipped)


def _parse_row(
    record: list[str], position: dict[str, int], line: int, errors: _Errors, organization: str
) -> UsageRow | None:
    before = errors.total

    def bad(column: str, problem: str) -> None:
        errors.add(f'line {line}: column "{column}": "{_shown(record[position[column]])}" {problem}')

    moment = _timestamp(record[position[COL_DATE]])
    if moment is None:
        bad(COL_DATE, "is not an ISO 8601 timestamp")
    user = record[position[COL_USER]].strip().lower()
    if not _is_email(user):
        bad(COL_USER, "is not an email address")
    elif len(user) > MAX_IDENTITY_ID:
        bad(COL_USER, f"is longer than {MAX_IDENTITY_ID} characters")
    model = record[position[COL_MODEL]].strip()
    if len(model) > MAX_MODEL:
        bad(COL_MODEL, f"is longer than {MAX_MODEL} characters")
    counts: dict[str, int] = {}
    for column in TOKEN_COLUMNS:
        value = _integer(record[position[column]])
        if value is None:
            bad(column, "is not a whole number of tokens")
        counts[column] = value or 0
    cost = _dollars(record[position[COL_COST]])
    if cost is None:
        bad(COL_COST, 'is not a dollar amount (e.g. "0.12", "$0.12", "Included", "-")')
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


async def import_cursor_csv(
    sessionmaker: async_sessionmaker[AsyncSession], data: bytes, *, organization_id: str
) -> CsvImportResult:
    """Import a Cursor usage CSV all-or-nothing in one transaction; idempotent (re-import adds nothing).

    Raises CsvImportError (nothing written) when the file has any error.
    """
    parsed = parse_cursor_csv(data, organization_id=organization_id)
    if parsed.errors:
        raise CsvImportError(parsed.errors)
    async with sessionmaker() as db, db.begin():
        records = await store_usage(db, parsed.rows)
    days = [row.date for row in parsed.rows]
    return CsvImportResult(
        records=records,
        skipped_zero=parsed.skipped_zero,
        first_date=min(days) if days else None,
        last_date=max(days) if days else None,
    )


def describe_import(result: CsvImportResult) -> str:
    """One line for people: how many records, which days, what was skipped."""
    span = f", {result.first_date} → {result.last_date}" if result.first_date else ""
    skipped = f" ({result.skipped_zero} zero-token rows skipped)" if result.skipped_zero else ""
    return f"{result.records:,} records{span}{skipped}"
