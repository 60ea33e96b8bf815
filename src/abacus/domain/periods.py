"""Date ranges, period comparison, weekly buckets, trend line, projection and percentile (docs/metrics.md §0.4–§2, §4).

Everything is UTC; `today` is always passed in (the caller's `today_utc`), never read from a clock here.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

Number = int | float | Decimal | Fraction

MONTH_ABBR: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

EARLIEST_DAY = date(2020, 1, 1)
"""The reference's "All time" start; custom ranges never start earlier."""

PRESETS: dict[str, int] = {"7d": 7, "30d": 30, "90d": 90, "1y": 365}
DEFAULT_PRESET = "30d"
MAX_DAYS = 3650

WEEKLY_AFTER_POINTS = 90
"""A series with more points than this is drawn in Monday-start weekly buckets."""

HISTORY_DAYS = 28
"""M-PROJ: the historical average of an estimated day looks at the 28 days before it."""

DELTA_MIN_PERCENT = 3
RATE_DELTA_MIN_POINTS = 1

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAYS_PARAM = re.compile(r"[0-9]{1,5}")


# --- rounding -----------------------------------------------------------------------------------------------


def _exact(x: Number) -> Fraction:
    if isinstance(x, Fraction):
        return x
    return Fraction(x)


def round_half_up(x: Number) -> int:
    """Round to an integer with .5 going up (towards +∞), like the reference's `Math.round`, without float error."""
    return math.floor(_exact(x) + Fraction(1, 2))


def _round_1(x: Fraction) -> Decimal:
    """Round a non-negative exact value to one decimal, half-up."""
    return Decimal(round_half_up(x * 10)) / 10


def _strip_point_zero(value: Decimal) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --- ranges ---------------------------------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    """00:00 UTC of a day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


class RangeError(ValueError):
    """A bad range parameter; `.param` names it so the page can answer 400 naming the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of UTC days `[start, end]`.

    `preset` remembers the preset key (`30d`, …) the range came from, for links and the selector; it does not take
    part in equality.
    """

    start: date
    end: date
    preset: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"range start {self.start} is after its end {self.end}")

    @property
    def days(self) -> int:
        """N = E − S + 1."""
        return (self.end - self.start).days + 1

    @property
    def tag(self) -> str:
        """The range length as labels carry it: "30d" (also for custom ranges)."""
        return f"{self.days}d"

    @property
    def is_custom(self) -> bool:
        return self.preset is None

    def previous(self) -> DateRange:
        """The period of the same length ending the day before `start`."""
        end = self.start - timedelta(days=1)
        return DateRange(end - timedelta(days=self.days - 1), end)

    def label(self) -> str:
        """Range label: "Jan 1 – 15" in one month, "Nov 6 – Dec 4" in one year, "Dec 6, 2025 – Jan 4, 2026" across."""
        s, e = self.start, self.end
        if s == e:
            return f"{MONTH_ABBR[s.month - 1]} {s.day}"
        if (s.year, s.month) == (e.year, e.month):
            return f"{MONTH_ABBR[s.month - 1]} {s.day} – {e.day}"
        if s.year == e.year:
            return f"{MONTH_ABBR[s.month - 1]} {s.day} – {MONTH_ABBR[e.month - 1]} {e.day}"
        return f"{MONTH_ABBR[s.month - 1]} {s.day}, {s.year} – {MONTH_ABBR[e.month - 1]} {e.day}, {e.year}"

    def commit_bounds(self) -> tuple[datetime, datetime]:
        """Half-open commit window: `committed_at >= S 00:00 UTC AND committed_at < (E + 1) 00:00 UTC`."""
        return day_start(self.start), day_start(self.end + timedelta(days=1))

    def iter_days(self) -> Iterator[date]:
        """Every day from start to end inclusive (the zero-filled series axis)."""
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def query_params(self) -> dict[str, str]:
        """URL parameters that reproduce this range: `range=<preset>` or `start`/`end`."""
        if self.preset is not None:
            return {"range": self.preset}
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def preset_range(days: int, today: date, preset: str | None = None) -> DateRange:
    """The last `days` UTC days ending today, inclusive: `E = today`, `S = E − (N − 1)`."""
    return DateRange(today - timedelta(days=days - 1), today, preset)


def _parse_day(param: str, value: str) -> date:
    if not _ISO_DAY.fullmatch(value):
        raise RangeError(param, f"{param} must be a date in YYYY-MM-DD format")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(param, f"{param} is not a real calendar date") from None


def _param(params: Mapping[str, str], name: str) -> str:
    return (params.get(name) or "").strip()


def parse_range(params: Mapping[str, str], today: date) -> DateRange:
    """Read `start`+`end`, else `range`, else `days`, else the 30-day preset (docs/pages.md §1.1).

    Raises RangeError (naming the parameter) for a lone start/end, a malformed or impossible date, start after end,
    an unknown preset or `days` outside 1–3650. Custom dates are clamped into [2020-01-01, today].
    """
    start_text, end_text = _param(params, "start"), _param(params, "end")
    if start_text or end_text:
        if not end_text:
            raise RangeError("end", "end is required when start is given")
        if not start_text:
            raise RangeError("start", "start is required when end is given")
        start, end = _parse_day("start", start_text), _parse_day("end", end_text)
        if start > end:
            raise RangeError("start", "start must be on or before end")
        earliest = min(EARLIEST_DAY, today)
        return DateRange(min(max(start, earliest), today), min(max(end, earliest), today))

    preset = _param(params, "range")
    if preset:
        if preset not in PRESETS:
            raise RangeError("range", f"range must be one of {', '.join(PRESETS)}")
        return preset_range(PRESETS[preset], today, preset)

    days_text = _param(params, "days")
    if days_text:
        if not _DAYS_PARAM.fullmatch(days_text) or not 1 <= int(days_text) <= MAX_DAYS:
            raise RangeError("days", f"days must be a whole number from 1 to {MAX_DAYS}")
        days = int(days_text)
        alias = next((key for key, n in PRESETS.items() if n == days), None)
        return preset_range(days, today, alias)

    return preset_range(PRESETS[DEFAULT_PRESET], today, DEFAULT_PRESET)


def quick_ranges(today: date) -> list[tuple[str, DateRange]]:
    """The custom picker's quick choices, as (label, range)."""
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return [
        ("This Week", DateRange(today - timedelta(days=today.weekday()), today)),
        ("This Month", DateRange(first_of_month, today)),
        ("Last Month", DateRange(last_month_end.replace(day=1), last_month_end)),
        ("This Year", DateRange(today.replace(month=1, day=1), today)),
        ("All Time", DateRange(min(EARLIEST_DAY, today), today)),
    ]


# --- period comparison (M-DELTA) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    """A change worth showing. `value` is signed and rounded to one decimal; `unit` is "%" or "pp"."""

    value: Decimal
    up: bool
    unit: str = "%"

    @property
    def text(self) -> str:
        """Display text: "↑ 15%", "↓ 66.7%", "↓ 5 pp"."""
        arrow = "↑" if self.up else "↓"
        number = _strip_point_zero(abs(self.value))
        return f"{arrow} {number}%" if self.unit == "%" else f"{arrow} {number} pp"

    def __str__(self) -> str:
        return self.text


def _signed_delta(change: Fraction, unit: str) -> Delta:
    magnitude = _round_1(abs(change))
    return Delta(value=magnitude if change >= 0 else -magnitude, up=change >= 0, unit=unit)


def delta(cur: Number, prev: Number) -> Delta | None:
    """Relative change vs the previous period; None when prev is 0 or the change is under 3 %."""
    previous = _exact(prev)
    if previous == 0:
        return None
    change = (_exact(cur) - previous) / previous * 100
    if abs(change) < DELTA_MIN_PERCENT:
        return None
    return _signed_delta(change, "%")


def rate_delta(cur_num: int, cur_den: int, prev_num: int, prev_den: int) -> Delta | None:
    """Change of a rate (AI %) in percentage points of the unrounded rates; None under 1 pp or when prev_den is 0."""
    if prev_den == 0:
        return None
    current = Fraction(cur_num * 100, cur_den) if cur_den else Fraction(0)
    change = current - Fraction(prev_num * 100, prev_den)
    if abs(change) < RATE_DELTA_MIN_POINTS:
        return None
    return _signed_delta(change, "pp")


# --- series ---------------------------------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def should_bucket_weekly(points: int) -> bool:
    return points > WEEKLY_AFTER_POINTS


Summable = int | Decimal
"""What weekly buckets add up: counts (tokens, commits) are int, money is Decimal; int + Decimal is exact."""


def _summable(key: str, value: object) -> Summable | None:
    """The value to add to the week, or None for a non-numeric field (bool, str, None …), which is skipped."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return None
    if not isinstance(value, int | Decimal):
        # float or Fraction: adding one to a Decimal raises, and a float sum of money drifts
        raise TypeError(f"weekly_buckets: {key!r} is {type(value).__name__}; pass int or Decimal")
    return value


def weekly_buckets(points: Sequence[tuple[date, Mapping[str, object]]]) -> list[tuple[date, dict[str, Summable]]]:
    """Sum each numeric field (int or Decimal) per Monday-start week, keyed by the Monday; weeks in date order.

    Pass actual values only (never projected ones); distinct-user counts are not summable (recompute them in SQL).
    Non-numeric fields are left out. Every week carries every numeric field seen in the series (0 where absent).
    """
    fields: dict[str, None] = {}
    weeks: dict[date, dict[str, Summable]] = {}
    for day, values in points:
        bucket = weeks.setdefault(week_start(day), {})
        for key, raw in values.items():
            value = _summable(key, raw)
            if value is None:
                continue
            fields.setdefault(key)
            bucket[key] = bucket.get(key, 0) + value
    return [(monday, {key: weeks[monday].get(key, 0) for key in fields}) for monday in sorted(weeks)]


def trend_line(values: Sequence[Number]) -> tuple[float, float, float, float] | None:
    """M-TREND: least-squares line from the first non-zero value, as (x0 fraction, y0, 1.0, y1), y clamped at 0.

    y values are in data units (the chart scales them by its max); None when the line is not drawn.
    """
    n = len(values)
    if n < 2:
        return None
    k = next((i for i, y in enumerate(values) if y > 0), None)
    if k is None:
        return None
    ys = [_exact(y) for y in values[k:]]
    m = len(ys)
    if m < 2:
        return None
    sum_i = Fraction(m * (m - 1), 2)
    sum_i2 = Fraction((m - 1) * m * (2 * m - 1), 6)
    sum_y = sum(ys, Fraction(0))
    sum_iy = sum((i * y for i, y in enumerate(ys)), Fraction(0))
    slope = (m * sum_iy - sum_i * sum_y) / (m * sum_i2 - sum_i * sum_i)
    intercept = (sum_y - slope * sum_i) / m
    y0 = max(Fraction(0), intercept)
    y1 = max(Fraction(0), intercept + slope * (m - 1))
    return float(Fraction(k, n - 1)), float(y0), 1.0, float(y1)


# --- projection (M-PROJ) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolDay:
    """One tool's bar segment on one day: `actual` is real data, `projected_extra` is drawn hatched on top."""

    actual: int
    projected_extra: int = 0
    estimated: bool = False
    """True when the whole value comes from the historical average ("Estimated from historical average")."""

    @property
    def shown(self) -> int:
        return self.actual + self.projected_extra

    @property
    def extrapolated(self) -> bool:
        """Today's partial value scaled up to a full day."""
        return self.projected_extra > 0 and not self.estimated


@dataclass(frozen=True)
class ProjectedDay:
    day: date
    tools: dict[str, ToolDay]
    incomplete: bool

    @property
    def has_projection(self) -> bool:
        return any(t.projected_extra > 0 for t in self.tools.values())


def projection_history_window(days: Sequence[date]) -> DateRange:
    """Days whose per-tool totals `project_series` may read: 28 days before the first day, to the last day."""
    return DateRange(min(days) - timedelta(days=HISTORY_DAYS), max(days))


def historical_average(tool_values: Mapping[date, int], day: date, last_data: date, today: date) -> Fraction:
    """avg_t for an estimated day: among the 28 days before it that are complete (≤ L_t, not today, > 0), the mean
    of those on the same weekday when there are at least 2, else the mean of all; 0 when there are none."""
    samples = [
        (d, tool_values.get(d, 0))
        for d in (day - timedelta(days=offset) for offset in range(1, HISTORY_DAYS + 1))
        if d <= last_data and d != today
    ]
    samples = [(d, v) for d, v in samples if v > 0]
    same_weekday = [v for d, v in samples if d.weekday() == day.weekday()]
    chosen = same_weekday if len(same_weekday) >= 2 else [v for _, v in samples]
    if not chosen:
        return Fraction(0)
    return Fraction(sum(chosen), len(chosen))


def project_series(
    days: Sequence[date],
    values: Mapping[str, Sequence[int]],
    last_data: Mapping[str, date | None],
    history: Mapping[str, Mapping[date, int]],
    today: date,
    now_hours: float,
    configured: Iterable[str],
) -> list[ProjectedDay]:
    """Daily series with today's and late days' projections (display only; never feed it into sums).

    `days` is the series axis and `values[tool][i]` the actual tokens of `days[i]`. `last_data[tool]` is L_t
    (M-DATA-COMPLETE). `history[tool]` holds daily totals for `projection_history_window(days)`; days it lacks are
    taken from `values`, else 0. Only tools in `configured` with an L_t are projected. `now_hours` is UTC hours +
    minutes / 60 of now.
    """
    configured_tools = set(configured)
    limits: dict[str, date] = {
        tool: last_day for tool in values if tool in configured_tools and (last_day := last_data.get(tool)) is not None
    }
    projected_tools = list(limits)
    lookups: dict[str, dict[date, int]] = {}
    for tool in projected_tools:
        merged = dict(zip(days, values[tool], strict=True))
        merged.update(history.get(tool, {}))
        lookups[tool] = merged

    fraction_of_day = Fraction(min(max(now_hours, 0.0), 24.0)) / 24
    too_early = now_hours < 1
    result: list[ProjectedDay] = []
    for index, day in enumerate(days):
        tools = {tool: ToolDay(actual=int(series[index])) for tool, series in values.items()}
        late_tools = [t for t in projected_tools if day > limits[t]]
        incomplete = day == today or bool(late_tools)
        if incomplete and day <= today and not (day == today and too_early):
            for tool in projected_tools if day == today else late_tools:
                actual = tools[tool].actual
                if day == today and actual > 0:
                    shown = round_half_up(actual / fraction_of_day)
                    tools[tool] = ToolDay(actual=actual, projected_extra=shown - actual)
                elif actual == 0:
                    average = historical_average(lookups[tool], day, limits[tool], today)
                    if average > 0:
                        tools[tool] = ToolDay(actual=0, projected_extra=round_half_up(average), estimated=True)
        result.append(ProjectedDay(day=day, tools=tools, incomplete=incomplete))
    return result


def has_projection(series: Sequence[ProjectedDay]) -> bool:
    """Rule 6: the "Projected" legend appears only when some day has a projected part (daily charts only)."""
    return any(day.has_projection for day in series)


# --- people ---------------------------------------------------------------------------------------------------


def percentile(scores: Mapping[str, Number], user: str) -> int:
    """M-PERCENTILE: ties share a percentile (i = users with a strictly higher score); 50 with no users, 0 when the
    user is absent, 100 when alone."""
    n = len(scores)
    if n == 0:
        return 50
    if user not in scores:
        return 0
    if n == 1:
        return 100
    own = _exact(scores[user])
    higher = sum(1 for score in scores.values() if _exact(score) > own)
    return round_half_up(Fraction(n - 1 - higher, n - 1) * 100)
