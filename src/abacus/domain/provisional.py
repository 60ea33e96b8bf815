"""M-PROVISIONAL (docs/metrics.md): which figures include live OpenTelemetry rows that the Admin API has not replaced.

A figure is provisional when any row it sums is a provisional OTel row (source `otel`): a Claude Code usage row of
`(day, person, model)` or an activity row of `(day, person)`. `ProvisionalMarks` holds those keys for a range (and a
team, or one person); `is_provisional` answers for one figure by the filters that figure applies. Pure: the marks
come from queries/provisional.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from abacus.domain.tools import CLAUDE_CODE

PROVISIONAL_NOTE = (
    "Includes live Claude Code telemetry (OpenTelemetry) for days the Anthropic Admin API has not reported yet; "
    "those figures are replaced when it does."
)
"""What the pages' "Provisional" badge says (its text, not only its colour)."""


@dataclass(frozen=True)
class Mark:
    """One provisional row's key: its day, person and model (None for an activity row, which has no model)."""

    day: date
    email: str
    model: str | None = None


@dataclass(frozen=True)
class ProvisionalMarks:
    marks: frozenset[Mark] = frozenset()

    @property
    def any(self) -> bool:
        return bool(self.marks)

    @property
    def days(self) -> tuple[date, ...]:
        """The provisional days, oldest first."""
        return tuple(sorted({m.day for m in self.marks}))

    @property
    def label(self) -> str:
        return days_label(self.days)

    def of(self, email: str) -> bool:
        """M-PROVISIONAL of a person's figures over the marks' range."""
        return any(m.email == email for m in self.marks)

    def on(self, day: date, *, email: str | None = None, tool: str | None = None, model: str | None = None) -> bool:
        """M-PROVISIONAL of a figure of one day (see `is_provisional`)."""
        return is_provisional(self, day, day, email=email, tool=tool, model=model)


def is_provisional(
    marks: ProvisionalMarks,
    start: date,
    end: date,
    *,
    email: str | None = None,
    tool: str | None = None,
    model: str | None = None,
) -> bool:
    """Whether a figure over [start, end] — of one person, tool or model when given, else of all of them — sums any
    provisional row. Only Claude Code has provisional rows; a model figure counts usage marks of that model only."""
    if tool is not None and tool != CLAUDE_CODE:
        return False
    return any(
        start <= m.day <= end and (email is None or m.email == email) and (model is None or m.model == model)
        for m in marks.marks
    )


def days_label(days: tuple[date, ...]) -> str:
    """The provisional days as a page names them: "Dec 2", "Dec 1 and Dec 2", or "12 days, Nov 21 – Dec 2"."""
    names = [f"{d:%b} {d.day}" for d in days]
    if len(names) <= 2:
        return " and ".join(names)
    if len(names) <= 4:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return f"{len(names)} days, {names[0]} – {names[-1]}"
