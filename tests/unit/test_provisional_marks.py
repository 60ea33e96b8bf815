"""M-PROVISIONAL (docs/metrics.md): a figure is provisional when any row it sums is a provisional OTel row."""

from __future__ import annotations

from datetime import date

import pytest

from abacus.domain.provisional import Mark, ProvisionalMarks, days_label, is_provisional

D1, D2, D3 = date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)
SONNET = "claude-sonnet-4-5"
MARKS = ProvisionalMarks(
    frozenset(
        {
            Mark(D2, "ada@example.com", SONNET),  # a usage row (it has a model)
            Mark(D2, "ada@example.com"),  # the activity row of the same day
            Mark(D3, "bo@example.com"),  # activity only
        }
    )
)


@pytest.mark.parametrize(
    ("start", "end", "filters", "provisional"),
    [
        (D1, D1, {}, False),  # the day before any provisional row
        (D1, D2, {}, True),  # a range that reaches one
        (D2, D2, {"email": "ada@example.com"}, True),
        (D2, D2, {"email": "bo@example.com"}, False),  # bo's figure of D2 sums none
        (D1, D3, {"email": "bo@example.com"}, True),
        (D2, D2, {"tool": "claude_code"}, True),
        (D2, D2, {"tool": "cursor"}, False),  # only Claude Code has OTel rows
        (D2, D2, {"model": SONNET}, True),
        (D2, D2, {"model": "claude-opus-4-1"}, False),  # another model's row of the day is the Admin API's
        (D3, D3, {"model": SONNET}, False),  # an activity-only day has no model figure
        (D1, D3, {"email": "cy@example.com"}, False),
    ],
)
def test_a_figure_is_provisional_when_a_row_it_sums_is(
    start: date, end: date, filters: dict[str, str], provisional: bool
) -> None:
    assert is_provisional(MARKS, start, end, **filters) is provisional


def test_no_marks_no_provisional_figure() -> None:
    assert not ProvisionalMarks().any
    assert is_provisional(ProvisionalMarks(), D1, D3) is False
    assert MARKS.any and MARKS.days == (D2, D3)
    assert MARKS.on(D3) and not MARKS.on(D1)


@pytest.mark.parametrize(
    ("days", "label"),
    [
        ((D2,), "Dec 2"),
        ((D1, D2), "Dec 1 and Dec 2"),
        ((D1, D2, D3), "Dec 1, Dec 2 and Dec 3"),
        ((*(date(2026, 11, d) for d in range(21, 31)), D1, D2), "12 days, Nov 21 – Dec 2"),
    ],
)
def test_days_label(days: tuple[date, ...], label: str) -> None:
    assert days_label(days) == label
