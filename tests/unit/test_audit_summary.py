"""The Status page's one-line reading of an audit event (domain/audit.py)."""

from __future__ import annotations

from typing import Any

import pytest

from abacus.domain.audit import change_summary

STATE_1 = {"cursor:core": {"last_success_at": "2026-12-03 08:15:25+00:00", "backfill_complete": True}}
STATE_2 = {"cursor:core": {"last_success_at": "2026-12-03 08:16:47+00:00", "backfill_complete": True}}


@pytest.mark.parametrize(
    ("before", "after", "line"),
    [
        ({"email": "a@x.com"}, {"email": "b@x.com"}, "email: a@x.com → b@x.com"),
        (None, {"email": "a@x.com", "is_bot": False}, "email: a@x.com · is_bot: no"),
        ({"email": "a@x.com"}, None, "removed"),
        ("a@x.com", "b@x.com", "a@x.com → b@x.com"),
        (None, None, "no change"),
        ({"email": "a@x.com"}, {"email": "a@x.com"}, "no change"),
        (None, {"amount_usd": "4552.00", "channels": ["slack", "webhook"], "scope_id": "", "thresholds": [50, 80]},
         "amount_usd: 4552.00 · channels: slack, webhook · thresholds: 50, 80"),
        (STATE_1, {"state": STATE_2, "records": 266, "windows": 6, "failed_windows": 0, "options": {}},
         "records: 266 · windows: 6 · failed_windows: 0 · state changed"),
        (None, {"rows": 10, "members": {"a": 1, "b": 2}}, "rows: 10 · members: 2 fields"),
        ({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, {"a": 2, "b": 3, "c": 4, "d": 5, "e": 6},
         "a: 1 → 2 · b: 2 → 3 · c: 3 → 4 · d: 4 → 5 · +1 more"),
        ({"name": "x" * 80}, {"name": "y"}, "name: " + "x" * 47 + "… → y"),
        ({"dropped": 1, "kept": 2}, {"kept": 2}, "dropped: 1 → —"),
    ],
)  # fmt: skip
def test_an_audit_event_reads_as_one_line(before: Any, after: Any, line: str) -> None:
    assert change_summary(before, after) == line
