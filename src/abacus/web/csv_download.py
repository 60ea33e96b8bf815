"""The CSV writer every download shares (docs/pages.md §12): RFC 4180 lines and a streamed response.

A value's Python type decides how it is written: `str` is a text column (formula-injection guard applies), numbers
are written unaltered, so callers must pass numeric columns as numbers (int / Decimal / float), never as
pre-formatted strings.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from litestar.response import Stream

from abacus.domain.periods import DateRange
from abacus.domain.tools import GITHUB_COPILOT

CSV_MEDIA_TYPE = "text/csv"
"""Litestar appends `; charset=utf-8` to text types (the response encoding)."""
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters a spreadsheet may read as a formula (OWASP CSV injection: tab and carriage return included)."""
COST_PLACES = Decimal("0.000001")
CHUNK_LINES = 500
"""Lines buffered per body chunk: few ASGI events without holding the whole file."""
_COLUMN_UNSAFE = re.compile(r"[^a-z0-9]+")


def tool_column(tool: str, suffix: str) -> str:
    """A per-tool CSV column: `claude_code_tokens`, `codex_commits`; GitHub Copilot is `copilot_…` (the name the
    exports have always used)."""
    key = "copilot" if tool == GITHUB_COPILOT else _COLUMN_UNSAFE.sub("_", tool.lower()).strip("_")
    return f"{key}_{suffix}"


def _number(value: Decimal) -> str:
    """Plain decimal text with at most 6 places and no trailing zeros or exponent: 12.500000 → "12.5"."""
    quantized = value.quantize(COST_PLACES, rounding=ROUND_HALF_UP)
    text_value = f"{quantized:f}"
    if "." in text_value:
        text_value = text_value.rstrip("0").rstrip(".")
    return "0" if text_value in ("-0", "") else text_value


def csv_cell(value: Any) -> str:
    """One field, unquoted: "" for None, true/false, YYYY-MM-DD, ISO-8601 UTC timestamps, guarded text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, float):
        return _number(Decimal(repr(value)))
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    cell = str(value)
    if cell.startswith(FORMULA_PREFIXES):
        cell = "'" + cell
    return cell


def _quote(cell: str) -> str:
    if any(ch in cell for ch in (",", '"', "\r", "\n")):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_line(values: Sequence[Any]) -> str:
    """One RFC 4180 record ending in "\\n"; text (str) fields starting with = + - @ tab or CR get a leading "'"."""
    return ",".join(_quote(csv_cell(v)) for v in values) + "\n"


def csv_filename(prefix: str, rng: DateRange) -> str:
    """`<prefix>_<start>_to_<end>.csv`."""
    return f"{prefix}_{rng.start.isoformat()}_to_{rng.end.isoformat()}.csv"


async def _csv_body(header: Sequence[str], rows: AsyncIterable[Sequence[Any]]) -> AsyncIterator[str]:
    buffer = [csv_line(header)]
    async for row in rows:
        buffer.append(csv_line(row))
        if len(buffer) >= CHUNK_LINES:
            yield "".join(buffer)
            buffer = []
    if buffer:
        yield "".join(buffer)


def csv_response(filename: str, header: Sequence[str], rows: AsyncIterable[Sequence[Any]]) -> Stream:
    """A streamed CSV download: header row always present, rows written as they arrive (constant memory).

    `rows` should open its own connection (e.g. `request.app.state.engine.connect()` + `conn.stream(...)`): the
    request's `db` session is closed before the body is streamed.
    """
    safe_name = filename.replace('"', "").replace("\\", "").replace("\r", "").replace("\n", "")
    return Stream(
        _csv_body(header, rows),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{safe_name}"'},
    )
