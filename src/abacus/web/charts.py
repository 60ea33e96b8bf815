"""Server-rendered SVG charts: stacked or grouped columns (with projection and trend line), split bars, sparklines.

Pure functions from plain data to Markup; colours and sizes are SVG attributes (the CSP forbids `style=`). Every
chart is an `<svg role="img">` whose `<title>` and `aria-label` say what it shows in one sentence, and every column
chart is followed by a "Show data" `<details>` table with its numbers, so screen readers and keyboards get the
figures the hover titles give a mouse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from abacus.domain.formatting import format_count, format_tokens
from abacus.domain.periods import trend_line
from abacus.domain.tools import TOTAL_COLOR

WIDTH = 800  # viewBox units; text scales with the card, so wide cards get a wider viewBox (ChartOptions.width)
WIDE = 1200
NARROW = 480
LEFT = 46
RIGHT = 8
TOP = 10
BOTTOM = 22


@dataclass(frozen=True)
class Segment:
    key: str
    value: float
    color: str
    projected: float = 0.0  # extra drawn hatched on top of the actual value
    estimated: bool = False  # the whole value is an estimate (drawn hatched)


@dataclass(frozen=True)
class Column:
    label: str
    segments: Sequence[Segment]
    title: str = ""
    muted: bool = False
    show_label: bool = True

    @property
    def total(self) -> float:
        return sum(s.value + s.projected for s in self.segments)

    @property
    def actual(self) -> float:
        return sum(s.value for s in self.segments if not s.estimated)


@dataclass(frozen=True)
class BarPart:
    value: float
    color: str
    title: str = ""


@dataclass
class ChartOptions:
    height: int = 220
    width: int = WIDTH
    trend: bool = False
    y_format: Callable[[float], str] = format_tokens
    table_format: Callable[[float], str] = format_count
    """The data table's cells: exact figures ("1,500"), where the axis and summary are compact ("1.5K")."""
    max_labels: int = 10
    css_class: str = "chart"
    aria_label: str = "chart"
    """What the chart shows ("Daily usage by tool"); the summary adds the range, total and peak."""
    extra_defs: list[str] = field(default_factory=list)
    grouped: bool = False
    """Segments side by side from the baseline (values that must not be added up, e.g. people per tool)."""
    integer_axis: bool = False
    """Counts: the gridlines fall on whole numbers."""
    summary: str = ""
    """The accessible one-line summary; built from the columns when empty."""
    summary_total: bool = True
    """Whether the built summary states the sum of the columns (not for people counts)."""
    series_names: dict[str, str] = field(default_factory=dict)
    """Segment key → name for the data table."""
    x_name: str = "Day"
    value_name: str = "Total"
    empty_text: str = "No data in this range"
    data_table: bool = True


def nice_max(value: float, *, integer: bool = False) -> float:
    """The axis top: the smallest 1/2/2.5/5 × 10^k at or above `value` (0 for an empty chart); with `integer` the
    top and its half are whole numbers (an axis of people never reads "1, 1, 0")."""
    if value <= 0:
        return 0.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 4, 5, 10) if integer else (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if value <= top and (not integer or (top >= 2 and top % 2 == 0)):
            return top
    return 10 * magnitude


def _column_peak(column: Column, grouped: bool) -> float:
    if grouped:
        return max((s.value + s.projected for s in column.segments), default=0.0)
    return column.total


def chart_summary(columns: Sequence[Column], opts: ChartOptions) -> str:
    """ "Daily usage by tool, Nov 1–Nov 30: total 4.2M, peak 310K on Nov 12" (or "…: no data")."""
    if opts.summary:
        return opts.summary
    head = opts.aria_label
    if columns:
        first, last = columns[0].label, columns[-1].label
        head += f", {first}" if first == last else f", {first}–{last}"
    peaks = [_column_peak(c, opts.grouped) for c in columns]
    if not any(peaks):
        return f"{head}: no data"
    index = max(range(len(peaks)), key=lambda i: peaks[i])
    parts = []
    if opts.summary_total and not opts.grouped:
        parts.append(f"total {opts.y_format(sum(peaks))}")
    parts.append(f"peak {opts.y_format(peaks[index])} on {columns[index].label}")
    return f"{head}: " + ", ".join(parts)


def data_table(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Markup:
    """A collapsed "Show data" table: the numbers of a chart for keyboards, screen readers and copying."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(r[0])}</th>'
        + "".join(f'<td class="num">{escape(c)}</td>' for c in r[1:])
        + "</tr>"
        for r in rows
    )
    return Markup(
        '<details class="chart-data"><summary>Show data</summary><div class="table-wrap"><table class="data-table">'
        f"<caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        "</details>"
    )


def _cell(segment: Segment, fmt: Callable[[float], str]) -> str:
    if segment.estimated:
        return f"{fmt(segment.value)} (estimated)"
    if segment.projected > 0:
        return f"{fmt(segment.value)} (+{fmt(segment.projected)} projected)"
    return fmt(segment.value)


def columns_table(columns: Sequence[Column], opts: ChartOptions, caption: str) -> Markup:
    """The data table of a column chart: one row per column, one column per series (+ the total when stacked)."""
    keys: list[str] = []
    for column in columns:
        keys += [s.key for s in column.segments if s.key not in keys]
    headers = [opts.x_name, *(opts.series_names.get(k, k) for k in keys)]
    if not opts.grouped and len(keys) > 1:
        headers.append(opts.value_name)
    rows = []
    for column in columns:
        by_key = {s.key: s for s in column.segments}
        row = [column.label]
        fmt = opts.table_format
        row += [_cell(by_key[k], fmt) if k in by_key else fmt(0) for k in keys]
        if not opts.grouped and len(keys) > 1:
            row.append(fmt(sum(s.value for s in column.segments)))
        rows.append(row)
    return data_table(caption, headers, rows)


def svg_open(css_class: str, width: int, height: int, summary: str) -> str:
    """The frame and the `<svg>` of a chart `width` × `height` viewBox units wide. The frame lets a phone scroll a
    chart sideways at a legible size instead of shrinking its text to ~4 px; a chart wider than `WIDTH` (a full-width
    card's) is marked `chart-wide`, so the phone gives it the room its text needs (app.css)."""
    label = escape(summary)
    wide = " chart-wide" if width > WIDTH else ""
    return (
        '<div class="chart-frame">'
        f'<svg class="{css_class}{wide}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title>"
    )


def value_axis(top_value: float, width: int, height: int, fmt: Callable[[float], str]) -> list[str]:
    """The y axis of a chart `width` × `height` running from 0 to `top_value`: the baseline and two gridlines (half
    and top), each labelled with `fmt` of its value at the left."""
    plot_h = height - TOP - BOTTOM
    parts = []
    for i in range(3):
        grid_y = TOP + plot_h - plot_h * i / 2
        cls = "axis" if i == 0 else "grid-line"
        parts.append(f'<line class="{cls}" x1="{LEFT}" x2="{width - RIGHT}" y1="{grid_y:.1f}" y2="{grid_y:.1f}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{grid_y + 3:.1f}" text-anchor="end">{escape(fmt(top_value * i / 2))}</text>'
        )
    return parts


def stacked_columns(columns: Sequence[Column], options: ChartOptions | None = None) -> Markup:
    """Stacked (or, with `grouped`, side-by-side) columns with y gridlines, at most ~10 x labels, hover titles,
    hatched projections and a trend line, then the "Show data" table. An all-zero chart draws a 0 baseline and says
    there is no data instead of inventing an axis."""
    opts = options or ChartOptions()
    width = opts.width
    n = len(columns)
    height = opts.height
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    top_value = nice_max(max((_column_peak(c, opts.grouped) for c in columns), default=0), integer=opts.integer_axis)
    summary = chart_summary(columns, opts)
    parts = [
        svg_open(opts.css_class, width, height, summary),
        '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="5" height="5" fill="#0a0c10" opacity="0.35"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#0a0c10" stroke-width="2"/></pattern></defs>',
    ]
    if top_value <= 0:
        base = TOP + plot_h
        parts.append(f'<line class="axis" x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{base + 3}" text-anchor="end">{escape(opts.y_format(0))}</text>')
        parts.append(
            f'<text class="chart-empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle">{escape(opts.empty_text)}</text>'
        )
        if n:
            slot = plot_w / n
            label_every = max(1, -(-n // opts.max_labels))
            for index, column in enumerate(columns):
                if column.show_label and index % label_every == 0:
                    cx = LEFT + slot * index + slot / 2
                    parts.append(
                        f'<text x="{cx:.1f}" y="{height - 6}" text-anchor="middle">{escape(column.label)}</text>'
                    )
        parts.append("</svg></div>")
        return Markup("".join(parts))
    parts.extend(value_axis(top_value, width, height, opts.y_format))
    if n:
        slot = plot_w / n
        bar_w = max(1.0, slot * (0.72 if n > 1 else 0.4))
        label_every = max(1, -(-n // opts.max_labels))
        for index, column in enumerate(columns):
            x = LEFT + slot * index + (slot - bar_w) / 2
            y: float = TOP + plot_h
            group = ['<g class="weekend">' if column.muted else "<g>"]
            if column.title:
                group.append(f"<title>{escape(column.title)}</title>")
            if opts.grouped:
                shown = list(column.segments)
                each = bar_w / max(1, len(shown))
                for k, segment in enumerate(shown):
                    if segment.value <= 0:
                        continue
                    h = plot_h * segment.value / top_value
                    group.append(
                        f'<rect x="{x + each * k:.1f}" y="{TOP + plot_h - h:.1f}" width="{max(0.5, each - 0.5):.1f}" '
                        f'height="{h:.1f}" fill="{segment.color}"/>'
                    )
            else:
                for segment in column.segments:
                    for amount, hatched in ((segment.value, segment.estimated), (segment.projected, True)):
                        if amount <= 0:
                            continue
                        h = plot_h * amount / top_value
                        y -= h
                        extra = ' class="projected"' if hatched else ""
                        group.append(
                            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                            f'fill="{segment.color}"{extra}/>'
                        )
                        if hatched:
                            group.append(
                                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                                'fill="url(#hatch)"/>'
                            )
            group.append(
                f'<rect class="bar-hit" x="{LEFT + slot * index:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}"/>'
            )
            group.append("</g>")
            parts.extend(group)
            if column.show_label and (index % label_every == 0):
                cx = LEFT + slot * index + slot / 2
                parts.append(f'<text x="{cx:.1f}" y="{height - 6}" text-anchor="middle">{escape(column.label)}</text>')
        if opts.trend and not opts.grouped:
            line = trend_line([c.actual for c in columns])
            if line is not None and n > 1:
                x0f, y0, x1f, y1 = line
                x_first, x_last = LEFT + slot / 2, LEFT + slot * (n - 1) + slot / 2
                xa = x_first + (x_last - x_first) * x0f
                xb = x_first + (x_last - x_first) * x1f
                ya = TOP + plot_h - plot_h * min(y0, top_value) / top_value
                yb = TOP + plot_h - plot_h * min(y1, top_value) / top_value
                parts.append(
                    f'<line class="trend" x1="{xa:.1f}" y1="{ya:.1f}" x2="{xb:.1f}" y2="{yb:.1f}">'
                    "<title>Trend (linear regression)</title></line>"
                )
    parts.append("</svg></div>")
    if opts.data_table and columns:
        parts.append(columns_table(columns, opts, opts.aria_label))
    return Markup("".join(parts))


def split_bar(parts: Sequence[BarPart], *, scale: float = 1.0, css_class: str = "hbar", label: str = "") -> Markup:
    """A horizontal bar whose filled length is `scale` (0–1) of the track, split among `parts` by value. Its
    accessible name is `label`, or the parts' titles joined ("Claude Code: 1.2M (45%); Cursor: …")."""
    total = sum(p.value for p in parts)
    name = label or "; ".join(p.title for p in parts if p.title and p.value > 0) or "No data"
    out = [
        f'<svg class="{css_class}" viewBox="0 0 100 8" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(name)}"><title>{escape(name)}</title>',
        '<rect class="bar-track" x="0" y="0" width="100" height="8"/>',
    ]
    x = 0.0
    if total > 0:
        for part in parts:
            if part.value <= 0:
                continue
            w = 100 * max(0.0, min(1.0, scale)) * part.value / total
            title = f"<title>{escape(part.title)}</title>" if part.title else ""
            out.append(f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="8" fill="{part.color}">{title}</rect>')
            x += w
    out.append("</svg>")
    return Markup("".join(out))


def sparkline(values: Sequence[float], *, color: str = TOTAL_COLOR, title: str = "") -> Markup:
    """A small polyline of a daily series (table cells), named by `title` (or its peak)."""
    n = len(values)
    top = max(values, default=0) or 1
    if n < 2:
        points = "0,20 90,20"
    else:
        points = " ".join(f"{90 * i / (n - 1):.1f},{20 - 18 * v / top:.1f}" for i, v in enumerate(values))
    name = escape(title or f"Daily series, peak {format_tokens(max(values, default=0))}")
    return Markup(
        f'<svg class="spark" viewBox="0 0 90 22" preserveAspectRatio="none" role="img" aria-label="{name}">'
        f'<title>{name}</title><polyline points="{points}" stroke="{color}"/></svg>'
    )
