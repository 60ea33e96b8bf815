"""How an audit event reads on the Status page: one line of what changed, the full before → after kept for a look."""

from __future__ import annotations

from typing import Any

LIMIT = 4
"""Changes named in the line; the rest are counted ("+2 more")."""

TEXT_MAX = 48
"""Characters of a value shown in the line (the full value is in the event's details)."""


def change_summary(before: Any, after: Any, *, limit: int = LIMIT) -> str:
    """One readable line for an audit event: the top-level fields whose values differ ("email: a → b"), a nested
    object only by name ("state changed"); a created thing lists its fields, a removed one says "removed".

    A sync's event stores the sync state before and the run's result after, with the state it left under "state":
    the two states are compared as that field."""
    if isinstance(before, dict) and isinstance(after, dict) and "state" in after and "state" not in before:
        before = {"state": before}
    parts = _parts(_empty_as_none(before), _empty_as_none(after))
    shown = parts[:limit] + ([f"+{len(parts) - limit} more"] if len(parts) > limit else [])
    return " · ".join(shown) or "no change"


def _parts(before: Any, after: Any) -> list[str]:
    if before is None and after is None:
        return []
    if isinstance(after, dict) and (before is None or isinstance(before, dict)):
        old_fields = before or {}
        values: list[str] = []
        nested: list[str] = []
        for key in [*after, *(k for k in old_fields if k not in after)]:
            old, new = _empty_as_none(old_fields.get(key)), _empty_as_none(after.get(key))
            if old == new:
                continue
            if not (_scalar(old) and _scalar(new)):
                nested.append(f"{key} changed" if before is not None else f"{key}: {_count(new)}")
            elif before is None or key not in old_fields:
                values.append(f"{key}: {_text(new)}")
            else:
                values.append(f"{key}: {_text(old)} → {_text(new)}")
        return values + nested
    if isinstance(before, dict) and after is None:
        return ["removed"]
    return [f"{_text(before)} → {_text(after)}"]


def _empty_as_none(value: Any) -> Any:
    return None if value in ({}, [], "") else value


def _scalar(value: Any) -> bool:
    if isinstance(value, list):
        return all(_scalar(item) and not isinstance(item, list) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    shown = str(value)
    return shown if len(shown) <= TEXT_MAX else shown[: TEXT_MAX - 1] + "…"


def _count(value: Any) -> str:
    if isinstance(value, dict):
        return f"{len(value)} field" + ("" if len(value) == 1 else "s")
    if isinstance(value, list):
        return f"{len(value)} item" + ("" if len(value) == 1 else "s")
    return _text(value)
