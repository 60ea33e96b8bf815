"""Hypothesis strategies for Cursor usage CSV files, shared by the pure parser fuzz (tests/unit) and the bounded
store/HTTP fuzz (tests/integration): encodings, BOM, column order, extra/missing/duplicated columns, huge and
negative numbers, odd dates, CRLF/CR/LF, quoting, NULs and other control characters, truncated bytes.

`fuzz_examples(n)`: n in the default run, ×25 with ABACUS_FUZZ_LONG=1 (the long run)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from hypothesis import strategies as st

from abacus.providers.cursor_csv import REQUIRED_COLUMNS


def fuzz_examples(default: int) -> int:
    return default * 25 if os.environ.get("ABACUS_FUZZ_LONG") == "1" else default


ERROR_LINE = re.compile(r"^line \d+: ")
"""Every parse error starts by naming its line."""
CELL_ERROR = re.compile(r'^line \d+: column "[^"]+": ')
"""An error about a cell also names its column."""

GOOD = {
    "Date": st.sampled_from(
        ["2025-11-20T18:23:45.123Z", "2025-11-20T18:23:45Z", "2025-11-20 18:23:45", "2025-01-01T00:00:00+02:00"]
    ),
    "User": st.sampled_from(["ana@example.com", "Bo.Li@Example.COM", "x+y@sub.example.org"]),
    "Kind": st.sampled_from(["Usage-based", "Included in Business", ""]),
    "Model": st.sampled_from(["auto", "default", "gpt-5", "claude-4.5-sonnet-thinking", "", "composer-1"]),
    "Max Mode": st.sampled_from(["Yes", "No"]),
    "Input (w/ Cache Write)": st.integers(0, 10**6).map(str),
    "Input (w/o Cache Write)": st.integers(0, 10**6).map(str),
    "Cache Read": st.integers(0, 10**6).map(str),
    "Output Tokens": st.integers(0, 10**6).map(str),
    "Total Tokens": st.integers(0, 10**7).map(str),
    "Cost": st.one_of(
        st.decimals(0, 1000, places=2).map(str),
        st.decimals(0, 1000, places=4).map(lambda d: f"${d}"),
        st.sampled_from(["Included", "-", ""]),
    ),
}
NUMBER_COLUMNS = ("Input (w/ Cache Write)", "Input (w/o Cache Write)", "Cache Read", "Output Tokens", "Total Tokens")

hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=12),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\x07",
            "\x1b[31m",
            "\u0085",
            "\ufeff",
            "\u202e",
            '"',
            '""',
            "'",
            ",",
            "\r",
            "\n",
            "\r\n",
            "\t",
            " ",
            "=1+1",
            "<script>x</script>",
            "${7*7}",
            "%00",
            "NaN",
            "Infinity",
            "-0",
            "1e9",
            "0x10",
            "١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, int() would accept them
            "²",
            "9" * 40,
            "-" + "9" * 25,
            "9" * 5000,
            "0." + "0" * 30 + "1",
            "2025-13-01T10:00",
            "2025-02-30T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "1999-12-31T23:59:59Z",
            "2100-01-01",
            "2025-11-20T25:00:00Z",
            "@",
            "a@b",
            "a@@b.c",
            "x" * 300 + "@example.com",
            "m" * 200,
        ]
    ),
)
big_or_negative = st.one_of(
    st.integers(-(10**20), -1).map(str),
    st.integers(10**12, 10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)


@dataclass(frozen=True)
class Layout:
    columns: list[str]
    encoding: str
    bom: bool
    newline: str
    quote_all: bool


@st.composite
def layouts(draw: st.DrawFn, *, valid: bool = False) -> Layout:
    columns = draw(st.permutations(list(REQUIRED_COLUMNS)))
    extra = draw(st.lists(st.sampled_from(["Notes", "Team", "Request ID", ""]), max_size=2, unique=True))
    columns = list(columns) + extra
    if not valid:
        if draw(st.booleans()) and draw(st.integers(0, 5)) == 0:
            del columns[draw(st.integers(0, len(columns) - 1))]  # a missing column
        if draw(st.integers(0, 9)) == 0:
            columns.append(draw(st.sampled_from(list(REQUIRED_COLUMNS))))  # a duplicated one
    encoding = "utf-8" if valid else draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "cp1252"]))
    return Layout(
        columns=columns,
        encoding=encoding,
        bom=draw(st.booleans()),
        newline=draw(st.sampled_from(["\r\n", "\n"] if valid else ["\r\n", "\n", "\r"])),
        quote_all=draw(st.booleans()),
    )


def _cell(value: str, quote_all: bool) -> str:
    if quote_all or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def rows_for(draw: st.DrawFn, columns: list[str], *, valid: bool) -> list[list[str]]:
    rows = []
    good_share = 100 if valid else draw(st.sampled_from([100, 99, 95, 80, 50]))  # percent of well-formed cells
    for _ in range(draw(st.integers(0, 8))):
        row = []
        for column in columns:
            good = GOOD.get(column, st.text(alphabet="abc xyz", max_size=5))
            pick = draw(st.integers(0, 99))
            if pick < good_share:
                row.append(draw(good))
            elif pick % 3 or column not in (*NUMBER_COLUMNS, "Cost"):
                row.append(draw(hostile_text))
            else:
                row.append(draw(big_or_negative))
        if not valid and draw(st.integers(0, 14)) == 0:
            row = row[: draw(st.integers(0, len(row)))]  # too few fields
        rows.append(row)
    return rows


@st.composite
def csv_files(draw: st.DrawFn, *, valid: bool = False) -> tuple[bytes, Layout, list[list[str]]]:
    """(file bytes, its layout, its data rows as cells): valid=True keeps every row and cell well-formed."""
    layout = draw(layouts(valid=valid))
    rows = draw(rows_for(layout.columns, valid=valid))
    lines = [",".join(_cell(c, layout.quote_all) for c in layout.columns)]
    lines += [",".join(_cell(c, layout.quote_all) for c in row) for row in rows]
    text = layout.newline.join(lines) + (layout.newline if draw(st.booleans()) or valid else "")
    try:
        data = text.encode(layout.encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    if layout.bom and layout.encoding == "utf-8":
        data = b"\xef\xbb\xbf" + data
    if not valid:
        surgery = draw(st.integers(0, 19))
        if surgery == 0 and data:
            data = data[: draw(st.integers(0, len(data)))]  # truncated mid-file (maybe mid-character)
        elif surgery == 1:
            data += draw(st.binary(max_size=16))  # trailing garbage bytes
        elif surgery == 2:
            data = draw(st.binary(max_size=200))  # not a CSV at all
    return data, layout, rows
