"""Server-rendered SVG charts: stacked columns (with projection and trend line), split bars, sparklines.

Pure functions from plain data to Markup; colours and sizes are SVG attributes (the CSP forbids `style=`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from abacus.domain.formatting import format_tokens
from abacus.domain.periods import trend_line

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
    max_labels: int = 10
    css_class: str = "chart"
    aria_label: str = "chart"
    extra_defs: list[str] = field(default_factory=list)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def stacked_columns(columns: Sequence[Column], options: ChartOptions | None = None) -> Markup:
    """Stacked columns with y gridlines, at most ~10 x labels, hover titles, hatched projections, trend line."""
    opts = options or ChartOptions()
    width = opts.width
    n = len(columns)
    height = opts.height
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    top_value = _nice_max(max((c.total for c in columns), default=0))
    parts = [
        f'<svg class="{opts.css_class}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(opts.aria_label)}">',
        '<defs><pattern id="hatch" width="5" height="5" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="5" height="5" fill="#0a0c10" opacity="0.35"/>'
        '<line x1="0" y1="0" x2="0" y2="5" stroke="#0a0c10" stroke-width="2"/></pattern></defs>',
    ]
    for i in range(3):
        value = top_value * i / 2
        y = TOP + plot_h - plot_h * i / 2
        cls = "axis" if i == 0 else "grid-line"
        parts.append(f'<line class="{cls}" x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end">{escape(opts.y_format(value))}</text>')
    if n:
        slot = plot_w / n
        bar_w = max(1.0, slot * (0.72 if n > 1 else 0.4))
        label_every = max(1, -(-n // opts.max_labels))
        for index, column in enumerate(columns):
            x = LEFT + slot * index + (slot - bar_w) / 2
            y = TOP + plot_h
            group = ['<g class="weekend">' if column.muted else "<g>"]
            if column.title:
                group.append(f"<title>{escape(column.title)}</title>")
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
                            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="url(#hatch)"/>'
                        )
            group.append(
                f'<rect class="bar-hit" x="{LEFT + slot * index:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}"/>'
            )
            group.append("</g>")
            parts.extend(group)
            if column.show_label and (index % label_every == 0):
                cx = LEFT + slot * index + slot / 2
                parts.append(f'<text x="{cx:.1f}" y="{height - 6}" text-anchor="middle">{escape(column.label)}</text>')
        if opts.trend:
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
    parts.append("</svg>")
    return Markup("".join(parts))


def split_bar(parts: Sequence[BarPart], *, scale: float = 1.0, css_class: str = "hbar") -> Markup:
    """A horizontal bar whose filled length is `scale` (0–1) of the track, split among `parts` by value."""
    total = sum(p.value for p in parts)
    out = [
        f'<svg class="{css_class}" viewBox="0 0 100 8" preserveAspectRatio="none" role="img">',
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


def sparkline(values: Sequence[float], *, color: str = "#f59e0b", title: str = "") -> Markup:
    """A small polyline of a daily series (table cells)."""
    n = len(values)
    top = max(values, default=0) or 1
    if n < 2:
        points = "0,20 90,20"
    else:
        points = " ".join(f"{90 * i / (n - 1):.1f},{20 - 18 * v / top:.1f}" for i, v in enumerate(values))
    head = f"<title>{escape(title)}</title>" if title else ""
    return Markup(
        f'<svg class="spark" viewBox="0 0 90 22" preserveAspectRatio="none" role="img">{head}'
        f'<polyline points="{points}" stroke="{color}"/></svg>'
    )
