"""Fuzzing the pure Cursor CSV parser (issue 10 item 3): 1,000 generated files in the default run (×25 with
ABACUS_FUZZ_LONG=1). Whatever the bytes, parsing never raises; a file yields rows or errors, never both; every
error names its line and column (file-level problems line 1, undecodable bytes by byte), at most 50 are listed and
all are counted; every row fits the database (no control characters, bounded numbers and strings, a sane date), so
storing it cannot fail."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abacus.providers.cursor_csv import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_COST,
    MAX_ERRORS,
    MAX_MODEL,
    MAX_TOKENS,
    parse_cursor_csv,
)
from tests.csv_fuzz import CELL_ERROR, ERROR_LINE, csv_files, fuzz_examples

ORG = "cursor:core"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NON_CELL_ERRORS = re.compile(
    r"^line \d+: (expected \d+ fields like the header, found \d+: column .+"
    r"|malformed CSV header \(.*\)"
    r"|missing column\(s\) .*|column\(s\) appear more than once: .*"
    r"|the file is empty: .*|byte \d+ of the line \(offset \d+\) is not UTF-8 text; .*"
    r"|the file is [\d,]+ bytes; the limit is .*)$",
    re.S,
)


def check_invariants(data: bytes) -> None:
    result = parse_cursor_csv(data, organization_id=ORG)
    assert not (result.rows and result.errors), "rows or errors, never both"
    assert len(result.errors) <= MAX_ERRORS
    assert result.error_count >= len(result.errors)
    physical_lines = data.count(b"\n") + data.count(b"\r") + 1
    for error in result.errors:
        assert ERROR_LINE.match(error), error
        assert int(error.split()[1].rstrip(":")) <= physical_lines + 1, error
        assert CELL_ERROR.match(error) or NON_CELL_ERRORS.match(error), error
        assert not CONTROL.search(error), f"raw control character echoed: {error!r}"
    for row in result.rows:
        assert row.identity.startswith("cursor:") and len(row.identity) <= 320
        assert not CONTROL.search(row.identity)
        assert row.raw_model is None or (len(row.raw_model) <= MAX_MODEL and not CONTROL.search(row.raw_model))
        assert len(row.model) <= MAX_MODEL and not CONTROL.search(row.model)
        tokens = (row.input_tokens, row.cache_write_tokens, row.cache_read_tokens, row.output_tokens)
        assert all(0 <= t <= MAX_TOKENS for t in tokens) and any(tokens)
        assert isinstance(row.cost, Decimal) and row.cost.is_finite() and 0 <= row.cost <= MAX_COST
        assert FIRST_YEAR <= row.date.year <= LAST_YEAR
        assert row.timestamp_ms is not None and row.organization_id == ORG


@settings(max_examples=fuzz_examples(700), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_any_file_parses_to_rows_or_line_numbered_errors(generated):
    data, _, _ = generated
    check_invariants(data)


@settings(max_examples=fuzz_examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(valid=True))
def test_a_well_formed_file_imports_every_row_with_its_numbers(generated):
    data, layout, rows = generated
    result = parse_cursor_csv(data, organization_id=ORG)
    assert result.errors == []
    assert len(result.rows) + result.skipped_zero == len(rows)
    at = {name: layout.columns.index(name) for name in layout.columns}
    expected = Counter()
    for row in rows:
        counts = tuple(
            int(row[at[c]])
            for c in ("Input (w/o Cache Write)", "Input (w/ Cache Write)", "Cache Read", "Output Tokens")
        )
        if any(counts):
            expected[counts] += 1
    parsed = Counter((r.input_tokens, r.cache_write_tokens, r.cache_read_tokens, r.output_tokens) for r in result.rows)
    assert parsed == expected
    check_invariants(data)


@settings(max_examples=fuzz_examples(40), deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data):
    check_invariants(data)
