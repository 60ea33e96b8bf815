"""OTLP export bodies → points (abacus.domain.otlp): table-driven cases and a fuzz of hostile bodies."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abacus.domain import otlp
from abacus.emulators.otel import Sample, build_export, encode, ns

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AT = ns(NOW - timedelta(minutes=5))
DAY_NS = 86_400 * 10**9


def one(metric: str, value: float, time_ns: int = AT, **attrs: str) -> otlp.ParsedExport:
    body, _ = encode(build_export([Sample(metric, value, time_ns - 60 * 10**9, time_ns, dict(attrs))]))
    return otlp.parse_export(body, json_body=False, now=NOW)


@pytest.mark.parametrize(
    ("metric", "value", "time_ns", "attrs", "kept", "reason"),
    [
        (otlp.COST, 1.25, AT, {"user.email": "Ada@Example.com", "model": "m"}, True, ""),
        (otlp.COST, -0.01, AT, {}, False, "negative"),
        (otlp.COST, math.inf, AT, {}, False, "not finite"),
        (otlp.COST, math.nan, AT, {}, False, "not finite"),
        (otlp.COST, 100_000.0, AT, {}, True, ""),
        (otlp.COST, 100_000.01, AT, {}, False, "$100,000"),
        (otlp.TOKENS, 1e10, AT, {"type": "input"}, True, ""),
        (otlp.TOKENS, 1e10 + 1, AT, {"type": "input"}, False, "10^10"),
        (otlp.SESSIONS, 1, ns(NOW) + DAY_NS - 1, {}, True, ""),
        (otlp.SESSIONS, 1, ns(NOW) + DAY_NS + 1, {}, False, "a day ahead"),
        (otlp.SESSIONS, 1, ns(NOW) - 399 * DAY_NS, {}, True, ""),
        (otlp.SESSIONS, 1, ns(NOW) - 401 * DAY_NS, {}, False, "400 days"),
        ("some.other.metric", 7, AT, {}, True, ""),
        (otlp.COST, 1, AT, {"model": "m" * 129}, False, "model longer"),
        # an identity must fit the email column as `unmapped:otel:<account>` (255): longer ones broke the rebuild
        (otlp.COST, 1, AT, {"user.account_uuid": "u" * 241}, True, ""),
        (otlp.COST, 1, AT, {"user.account_uuid": "u" * 242}, False, "identity longer than 246"),
        (otlp.COST, 1, AT, {"user.email": "a\x00@b.co"}, False, "NUL"),  # found by the HTTP fuzz (was a 500)
        (otlp.COST, 1, AT, {"session.id": "\x00"}, False, "NUL"),
    ],
)
def test_plausibility(metric: str, value: float, time_ns: int, attrs: dict[str, str], kept: bool, reason: str) -> None:
    parsed = one(metric, value, time_ns, **attrs)
    assert len(parsed.points) == (1 if kept else 0)
    assert parsed.rejected == (0 if kept else 1)
    assert reason in parsed.first_reason


@pytest.mark.parametrize(
    ("attrs", "identity"),
    [
        ({"user.email": "Ada@Example.com", "user.account_uuid": "u-1"}, "otel:ada@example.com"),
        ({"user.account_uuid": "u-1"}, "otel:u-1"),
        ({"user.email": "  "}, None),
        ({}, None),
    ],
)
def test_identity_is_the_email_else_the_account(attrs: dict[str, str], identity: str | None) -> None:
    assert one(otlp.COST, 1, **attrs).points[0].identity == identity


def test_series_key_ignores_attribute_order_and_separates_series() -> None:
    a = otlp.series_key("m", {"x": "1", "y": "2"})
    assert a == otlp.series_key("m", {"y": "2", "x": "1"})
    assert a != otlp.series_key("m", {"x": "1", "y": "3"})
    assert a != otlp.series_key("n", {"x": "1", "y": "2"})


def test_json_and_protobuf_give_the_same_points() -> None:
    export = build_export(
        [
            Sample(otlp.TOKENS, 10, AT - 1, AT, {"user.email": "a@b.co", "type": "cacheRead", "model": "m"}, True),
            Sample(otlp.COST, 0.5, AT - 1, AT, {"user.email": "a@b.co", "model": "m"}),
        ]
    )
    proto = otlp.parse_export(encode(export)[0], json_body=False, now=NOW)
    as_json = otlp.parse_export(encode(export, json_body=True)[0], json_body=True, now=NOW)
    assert proto.points == as_json.points
    assert [p.cumulative for p in proto.points] == [True, False]
    assert proto.points[0].kind == "cacheRead"


def test_status_body_is_a_google_rpc_status() -> None:
    assert otlp.status_body(400, "bad", json_body=False) == b"\x08\x90\x03\x12\x03bad"
    assert json.loads(otlp.status_body(401, "no", json_body=True)) == {"code": 401, "message": "no"}


VALID = encode(build_export([Sample(otlp.COST, 1.0, AT - 1, AT, {"user.email": "a@b.co"})]))[0]
VALID_JSON = encode(build_export([Sample(otlp.COST, 1.0, AT - 1, AT, {"user.email": "a@b.co"})]), json_body=True)[0]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
hostile = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda cut, junk: VALID[:cut] + junk, st.integers(0, len(VALID)), st.binary(max_size=20)),
    st.builds(
        lambda i, b: VALID[:i] + bytes([b]) + VALID[i + 1 :], st.integers(0, len(VALID) - 1), st.integers(0, 255)
    ),
)
hostile_json = st.one_of(
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda i, c: VALID_JSON[:i] + c.encode() + VALID_JSON[i + 1 :],
        st.integers(0, len(VALID_JSON) - 1),
        st.sampled_from(list('{}[]",:0-e.a\\')),
    ),
    st.just(b"[" * 100_000),
    st.just(
        json.dumps(
            {
                "resourceMetrics": [
                    {
                        "scopeMetrics": [
                            {
                                "metrics": [
                                    {"name": "x", "sum": {"dataPoints": [{"asDouble": "NaN", "timeUnixNano": "1"}]}}
                                ]
                            }
                        ]
                    }
                ]
            }
        ).encode()
    ),
)


def _parses_or_refuses(body: bytes, json_body: bool) -> None:
    try:
        parsed = otlp.parse_export(body, json_body=json_body, now=NOW)
    except otlp.OtlpBodyError:
        return
    for point in parsed.points:  # whatever is kept is plausible
        assert math.isfinite(point.value) and point.value >= 0
        assert point.time_ns <= ns(NOW) + DAY_NS
        assert "\\u0000" not in json.dumps([point.metric, point.attributes], default=str)  # PostgreSQL can store it


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(hostile)
def test_fuzzed_protobuf_bodies_never_raise_anything_else(body: bytes) -> None:
    _parses_or_refuses(body, json_body=False)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(hostile_json)
def test_fuzzed_json_bodies_never_raise_anything_else(body: bytes) -> None:
    _parses_or_refuses(body, json_body=True)


@pytest.mark.parametrize(
    ("name", "attributes", "storable"),
    [
        (otlp.COST, {"user.email": "ada@example.com", "model": "m"}, True),
        (otlp.COST, {"user.email": "zoë@example.com"}, True),  # non-ASCII, BMP
        (otlp.COST, {"terminal.type": "😀"}, True),  # a valid surrogate pair in the ASCII dump: the exact check
        (otlp.COST, {"terminal.type": "한국"}, True),  # \ud55c…: looks like a surrogate escape, is not one
        (otlp.COST, {"session.id": "\\u0000"}, False),  # a literal backslash-u0000 is refused, as before
        (otlp.COST, {"session.id": "a\x00b"}, False),
        (otlp.COST, {"session.id": "\ud800"}, False),  # a lone surrogate: not UTF-8
        (otlp.COST, {"nested": {"deep": ["ok", "\udfff"]}}, False),
        ("claude\x00code", {}, False),
        ("claude_cöde", {}, True),
        ("claude\ud800", {}, False),
    ],
)
def test_storable_fast_agrees_with_the_exact_check(name: str, attributes: dict[str, Any], storable: bool) -> None:
    canonical = otlp.canonical_attributes(attributes)
    assert otlp._storable(name, attributes) is storable
    assert otlp._storable_fast(name, attributes, canonical) is storable


def test_series_key_from_the_canonical_dump_is_the_key_of_the_pair() -> None:
    """Points stored before the single-dump parse keep their keys: a re-sent export still changes nothing."""
    import hashlib

    attributes: dict[str, Any] = {"b": 1, "a": "zoë 😀", "z": [1, {"y": None}], "x": 1.5}
    before = json.dumps([otlp.COST, attributes], sort_keys=True, separators=(",", ":"), default=str)
    assert otlp.series_key(otlp.COST, attributes) == hashlib.sha256(before.encode()).hexdigest()
    sent = {"user.email": "zoë@example.com", "terminal.type": "😀"}
    body, _ = encode(build_export([Sample(otlp.COST, 1.0, AT - 1, AT, sent)]))
    [point] = otlp.parse_export(body, json_body=False, now=NOW).points
    assert point.series_key == otlp.series_key(otlp.COST, point.attributes)
    assert json.loads(point.attributes_json) == point.attributes
