"""Display formats of numbers and dates (docs/metrics.md §8). Every function accepts int, float and Decimal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from abacus.domain.periods import MONTH_ABBR, Number, round_half_up

# (unit size, suffix, decimals) from small to large; a value that rounds to 1000 of a unit moves to the next.
_TOKEN_UNITS: tuple[tuple[Decimal, str, int], ...] = (
    (Decimal(10) ** 3, "K", 0),
    (Decimal(10) ** 6, "M", 1),
    (Decimal(10) ** 9, "B", 1),
    (Decimal(10) ** 12, "T", 1),
    (Decimal(10) ** 15, "Q", 1),
    (Decimal(10) ** 18, "Qi", 1),
)
_TOKEN_CAP = Decimal(10) ** 21
_TOKEN_CAP_TEXT = "999Qi+"

_MONEY_UNITS: tuple[tuple[Decimal, str, int], ...] = (
    (Decimal(10) ** 3, "K", 1),
    (Decimal(10) ** 6, "M", 1),
    (Decimal(10) ** 9, "B", 1),
)
_COUNT_UNITS: tuple[tuple[Decimal, str, int], ...] = (
    (Decimal(10) ** 3, "K", 1),
    (Decimal(10) ** 6, "M", 1),
)
_THOUSAND = Decimal(1000)


def _to_decimal(value: Number | str) -> Decimal | None:
    """Decimal of a number (floats by their shortest repr, so 1.005 stays 1.005); None when not finite."""
    try:
        if isinstance(value, Decimal):
            number = value
        elif isinstance(value, Fraction):
            number = Decimal(value.numerator) / Decimal(value.denominator)
        elif isinstance(value, float):
            number = Decimal(repr(value))
        else:
            number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


def _quantize(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _compact(
    magnitude: Decimal,
    units: tuple[tuple[Decimal, str, int], ...],
    base_places: int,
    base_format: str,
) -> tuple[Decimal, str, int] | None:
    """Pick the unit for a non-negative value: (rounded number, suffix, decimals); None when past the last unit."""
    index = -1
    for i, (size, _, _) in enumerate(units):
        if magnitude >= size:
            index = i
    while True:
        if index < 0:
            rounded = _quantize(magnitude, base_places)
            if rounded < _THOUSAND:
                return rounded, base_format, base_places
        else:
            size, suffix, places = units[index]
            rounded = _quantize(magnitude / size, places)
            if rounded < _THOUSAND:
                return rounded, suffix, places
            if index == len(units) - 1:
                return None
        index += 1


def format_tokens(n: Number) -> str:
    """Compact tokens: 950 → "950", 1,499 → "1K", 999,600 → "1.0M", 2,512,000,000 → "2.5B"; non-finite → "0"."""
    value = _to_decimal(n)
    if value is None:
        return "0"
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    if magnitude >= _TOKEN_CAP:
        return f"{sign}{_TOKEN_CAP_TEXT}"
    picked = _compact(magnitude, _TOKEN_UNITS, 0, "")
    if picked is None:
        return f"{sign}{_TOKEN_CAP_TEXT}"
    number, suffix, places = picked
    if number == 0:
        return "0"
    return f"{sign}{number:.{places}f}{suffix}"


def format_money(n: Number) -> str:
    """Compact USD: 12.3 → "$12.30", 26,640 → "$26.6K", 999.996 → "$1.0K"; negative "-$…"; non-finite "$0.00"."""
    value = _to_decimal(n)
    if value is None:
        return "$0.00"
    magnitude = abs(value)
    picked = _compact(magnitude, _MONEY_UNITS, 2, "")
    if picked is None:  # beyond 999.95 B: stay in billions
        number, suffix, places = _quantize(magnitude / _MONEY_UNITS[-1][0], 1), _MONEY_UNITS[-1][1], 1
    else:
        number, suffix, places = picked
    sign = "-" if value < 0 and number != 0 else ""
    return f"{sign}${number:.{places}f}{suffix}"


def format_money_exact(n: Number) -> str:
    """Exact USD for titles and "per day" lines: "$1,234.56" (thousands separators, 2 decimals, half-up)."""
    value = _to_decimal(n)
    if value is None:
        return "$0.00"
    number = _quantize(abs(value), 2)
    sign = "-" if value < 0 and number != 0 else ""
    return f"{sign}${number:,.2f}"


def format_count(n: Number) -> str:
    """People and record counts: "1,204"."""
    value = _to_decimal(n)
    if value is None:
        return "0"
    return f"{round_half_up(value):,}"


def for_count(plural: str, n: Number) -> str:
    """A plural noun as it reads after the count `n`: ("records", 1) → "record", ("active days", 3) → "active days"."""
    value = _to_decimal(n)
    one = value is not None and abs(value) == 1
    return plural[:-1] if one and plural.endswith("s") else plural


def counted(n: Number, plural: str) -> str:
    """A count with its noun: (1, "usage rows") → "1 usage row", (1204, "commits") → "1,204 commits"."""
    return f"{format_count(n)} {for_count(plural, n)}"


def format_tokens_exact(n: Number) -> str:
    """Exact tokens for titles: "1,234,567 tokens"."""
    count = format_count(n)
    return f"{count} token" if count == "1" else f"{count} tokens"


def format_commit_count(n: Number) -> str:
    """Commit counts: 987 → "987", 1,234 → "1.2K", ≥ 1e6 → "X.XM"."""
    value = _to_decimal(n)
    if value is None:
        return "0"
    magnitude = abs(value)
    picked = _compact(magnitude, _COUNT_UNITS, 0, "")
    if picked is None:  # beyond 999.95 M: stay in millions
        number, suffix = _quantize(magnitude / _COUNT_UNITS[-1][0], 1), _COUNT_UNITS[-1][1]
    else:
        number, suffix, _ = picked
    sign = "-" if value < 0 and number != 0 else ""
    if not suffix:
        return f"{sign}{int(number):,}"
    return f"{sign}{number:.1f}{suffix}"


def format_percent_int(percent: Number) -> str:
    """AI rate and tool/commit shares, given in percent: 77.78 → "78%" (half-up)."""
    value = _to_decimal(percent)
    return f"{round_half_up(value) if value is not None else 0}%"


def format_percent_1(percent: Number) -> str:
    """User tool/model shares, given in percent: 45.25 → "45.3%" (one decimal, half-up)."""
    value = _to_decimal(percent)
    tenths = round_half_up(value * 10) if value is not None else 0
    return f"{Decimal(tenths) / 10:.1f}%"


# --- dates (all UTC; None renders as an empty string) ---------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _day(value: date) -> date:
    return _utc(value).date() if isinstance(value, datetime) else value


def fmt_day(value: date | None) -> str:
    """Chart axes, Last Active, activity: "Dec 6"."""
    if value is None:
        return ""
    day = _day(value)
    return f"{MONTH_ABBR[day.month - 1]} {day.day}"


def fmt_day_year(value: date | None, today: date) -> str:
    """Raw usage "When": "Jan 5" in the current (UTC) year, "Jan 5, 2024" otherwise."""
    if value is None:
        return ""
    day = _day(value)
    return fmt_day(day) if day.year == today.year else fmt_status_date(day)


def fmt_status_date(value: date | None) -> str:
    """Status dates: "Jan 5, 2026"."""
    if value is None:
        return ""
    day = _day(value)
    return f"{MONTH_ABBR[day.month - 1]} {day.day}, {day.year}"


def fmt_status_ts(value: datetime | None) -> str:
    """Status timestamps: "Jan 5, 2026, 03:00 PM UTC" (naive datetimes are taken as UTC)."""
    if value is None:
        return ""
    moment = _utc(value)
    hour12 = moment.hour % 12 or 12
    meridiem = "AM" if moment.hour < 12 else "PM"
    return f"{fmt_status_date(moment.date())}, {hour12:02d}:{moment.minute:02d} {meridiem} UTC"


def fmt_since(value: date | None) -> str:
    """Lifetime strip: "since May '25" (the date itself, no zone shift)."""
    if value is None:
        return ""
    day = _day(value)
    return f"since {MONTH_ABBR[day.month - 1]} '{day.year % 100:02d}"


def fmt_commit_ts(value: datetime | None) -> str:
    """Commit rows: "Dec 6, 14:05" in UTC."""
    if value is None:
        return ""
    moment = _utc(value)
    return f"{fmt_day(moment.date())}, {moment.hour:02d}:{moment.minute:02d}"


def fmt_iso_day(value: date | None) -> str:
    """Team table and CSV dates: "2026-01-05"."""
    if value is None:
        return ""
    return _day(value).isoformat()
