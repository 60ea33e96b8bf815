"""The fast path of `parse_usage_events` (well-typed events, per-window caches) gives exactly what the strict
field-by-field reader gives: the same rows, the same skipped count, or the same error for any event list."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abacus.providers import cursor
from abacus.records import ProviderError

odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " 7 ", "1.5", "x", "²", "12"]),
    st.lists(st.integers(), max_size=1),
)
counts = st.one_of(st.integers(min_value=0, max_value=10**7), st.none(), odd)
cents = st.one_of(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0, max_value=500), st.none(), odd)
timestamps = st.one_of(
    st.integers(min_value=1_700_000_000_000, max_value=1_800_000_000_000).map(str),
    st.integers(min_value=1_700_000_000_000, max_value=1_700_000_000_003),
    odd,
)
emails = st.one_of(st.sampled_from(["a@x.io", "B@X.io ", "", "  ", "bot"]), st.none(), st.just("x" * 201), odd)
models = st.one_of(st.sampled_from(["default", "gpt-5", " Default ", "claude-4-sonnet-thinking", ""]), st.none(), odd)


@st.composite
def events(draw: st.DrawFn) -> Any:
    if draw(st.integers(min_value=0, max_value=30)) == 0:
        return draw(odd)
    event: dict[str, Any] = {}
    for field, values in (("timestamp", timestamps), ("userEmail", emails), ("model", models)):
        if draw(st.integers(min_value=0, max_value=8)):
            event[field] = draw(values)
    if draw(st.integers(min_value=0, max_value=8)):
        usage = {
            name: draw(counts)
            for name in ("inputTokens", "cacheWriteTokens", "cacheReadTokens", "outputTokens")
            if draw(st.booleans()) or draw(st.booleans())
        }
        if draw(st.booleans()) or draw(st.booleans()):
            usage["totalCents"] = draw(cents)
        event["tokenUsage"] = usage if draw(st.integers(min_value=0, max_value=20)) else draw(odd)
    return event


def outcome(batch: list[Any]) -> object:
    try:
        return cursor.parse_usage_events(batch, organization_id="cursor:core")
    except ProviderError as exc:
        return ("error", str(exc))
    except ValueError as exc:  # int("²"): the strict reader's own behaviour, kept
        return ("value error", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(st.lists(events(), max_size=6))
def test_fast_path_equals_the_strict_reader(batch: list[Any]) -> None:
    fast = outcome(batch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cursor, "_read_plain_event", lambda event: None)  # every event through `_read_event`
        strict = outcome(batch)
    assert fast == strict


def window_outcome(batch: list[Any]) -> object:
    try:
        return asyncio.run(cursor.parse_usage_window(batch, organization_id="cursor:core"))
    except ProviderError as exc:
        return ("error", str(exc))
    except ValueError as exc:
        return ("value error", type(exc).__name__)


@settings(max_examples=200, deadline=None)
@given(st.lists(events(), max_size=9))
def test_a_window_parsed_in_pieces_equals_one_parse(batch: list[Any]) -> None:
    """`parse_usage_window` hands the event loop back every `PARSE_PIECE` events: the same rows (ordinals assigned
    across pieces), skipped count, or error naming the event's position in the whole window."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cursor, "PARSE_PIECE", 2)
        assert window_outcome(batch) == outcome(batch)
