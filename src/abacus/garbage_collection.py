"""The process's garbage-collector thresholds, set once at start by every Abacus process (CLI, web, worker).

A provider window is decoded JSON: two dicts per event, tens of thousands of events alive until the window is
stored. With CPython's default thresholds (a young collection every 700 net allocations) those live objects are
traversed again and again and, promoted to the oldest generation, trigger full collections of the whole heap: a
third of the CPU time of a Cursor sync went to the collector (measured with `abacus bench`'s ingest, 2,000 people ×
7 days: 24 → 16 µs of Python per row). A young collection every 50,000 allocations keeps reference cycles collected
(cyclic garbage is rare here; everything else is freed by reference counting at once) at a cost of a few MB.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 10, 10)
"""Young collection every 50,000 net container allocations (CPython's default: 700); the older generations keep
their default ratios."""


def collect_less_often() -> None:
    """Set `THRESHOLDS` (idempotent)."""
    gc.set_threshold(*THRESHOLDS)
