"""The shared CSV writer (web/exports.py, pages.md §12): RFC 4180 quoting, value formats, formula-injection guard."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from abacus.domain.periods import DateRange
from abacus.web.csv_download import csv_filename, csv_line


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-42, "-42"),  # numbers are never guarded
        (Decimal("12.500000"), "12.5"),
        (Decimal("0.1234565"), "0.123457"),  # at most 6 decimals, half-up
        (Decimal("0E-6"), "0"),
        (Decimal("-1.50"), "-1.5"),
        (1234567.0, "1234567"),
        (date(2024, 2, 29), "2024-02-29"),
        (datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC), "2026-03-10T23:59:59Z"),
        (datetime(2026, 3, 11, 1, 0, tzinfo=timezone(timedelta(hours=2))), "2026-03-10T23:00:00Z"),
        ("plain", "plain"),
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-tool", "'-tool"),
        ("@cmd", "'@cmd"),
        ("\t=1+1", "'\t=1+1"),  # tab and CR lead a formula in some spreadsheets too (OWASP)
        ("\r=1+1", '"\'\r=1+1"'),  # guarded, then quoted for the CR
        ("a=b", "a=b"),
    ],
)
def test_cells(value, cell):
    assert csv_line([value]) == cell + "\n"


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (["a,b", 'say "hi"', "x"], '"a,b","say ""hi""",x\n'),
        (["two\nlines", "cr\r"], '"two\nlines","cr\r"\n'),
        (['=HYPERLINK("u","a,b")'], '"\'=HYPERLINK(""u"",""a,b"")"\n'),
        ([], "\n"),
    ],
)
def test_quoting(values, line):
    assert csv_line(values) == line


def test_round_trips_through_a_csv_reader():
    values = ["ada@example.com", 'x "y", z', 12, Decimal("0.25"), None, True]
    parsed = next(csv.reader(io.StringIO(csv_line(values), newline="")))
    assert parsed == ["ada@example.com", 'x "y", z', "12", "0.25", "", "true"]


def test_filename():
    assert (
        csv_filename("usage_models", DateRange(date(2026, 2, 9), date(2026, 3, 10)))
        == "usage_models_2026-02-09_to_2026-03-10.csv"
    )
