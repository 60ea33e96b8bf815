"""The bench's figures: one rich table on the console and, with `--json FILE`, the same figures as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

GOAL_RATIO = 0.1
"""Ours / the original's way: the goal is at most a tenth of the time."""


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    reference_way: float | None = None
    """The same figure measured the original's way (raw SQL per request), when there is one."""

    @property
    def ratio(self) -> float | None:
        if self.reference_way is None or not self.reference_way:
            return None
        return self.value / self.reference_way

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "reference_way": None if self.reference_way is None else round(self.reference_way, 3),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
        }


def _number(value: float, unit: str) -> str:
    if unit in ("rows", "bytes", "queries", "errors", "lines", "pages"):
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def table(figures: list[Figure], title: str) -> Table:
    result = Table("figure", "value", "unit", "original way", "ratio", title=title, title_justify="left")
    for figure in figures:
        ratio = figure.ratio
        shown = "" if ratio is None else f"[{'green' if ratio <= GOAL_RATIO else 'red'}]{ratio:.3f}[/]"
        reference = "" if figure.reference_way is None else _number(figure.reference_way, figure.unit)
        result.add_row(figure.name, _number(figure.value, figure.unit), figure.unit, reference, shown)
    return result


def write_json(path: Path, figures: list[Figure], params: dict[str, Any], explain: str) -> None:
    body = {"figures": [f.as_json() for f in figures], "params": params, "explain": explain}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
