"""OTLP/HTTP metrics bodies → plausible data points (docs/operations.md, "Live: Claude Code OpenTelemetry").

Pure: bytes in (protobuf or OTLP/JSON, already decompressed), `ParsedExport` out. A body that cannot be read as an
`ExportMetricsServiceRequest` raises `OtlpBodyError` (the receiver answers 400 and stores nothing); a readable body
whose single points are implausible keeps the good points and counts the rejected ones with the first reason (the
receiver's partial-success answer).

A point is kept when it is a Sum or Gauge number point whose value is finite and not negative, whose time is at most a
day ahead of `now` and at most 400 days old, whose token count is at most 10^10 or cost at most $100,000, and whose
text fields fit their columns. Its series is the metric name, the resource's and the point's attributes (sorted,
canonical JSON), hashed; together with the organisation label, start time and time it is the point's unique key.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

COST = "claude_code.cost.usage"
TOKENS = "claude_code.token.usage"
LINES = "claude_code.lines_of_code.count"
SESSIONS = "claude_code.session.count"
COMMITS = "claude_code.commit.count"
PULL_REQUESTS = "claude_code.pull_request.count"
EDIT_DECISIONS = "claude_code.code_edit_tool.decision"
ACTIVE_TIME = "claude_code.active_time.total"
READ_METRICS = (COST, TOKENS, LINES, SESSIONS, COMMITS, PULL_REQUESTS, EDIT_DECISIONS, ACTIVE_TIME)
"""The metrics that feed usage and activity; any other metric's points are stored raw for later."""

MAX_TOKENS = 10**10
MAX_COST_USD = 100_000.0
MAX_AHEAD_NS = 86_400 * 10**9
MAX_AGE_NS = 400 * 86_400 * 10**9
MAX_VALUE = 1e15
MAX_TEXT = {"metric": 128, "identity": 246, "model": 128, "kind": 64}
"""Longest attribute texts a point may carry. An identity (`otel:<email or account>`) must still fit a person's email
column (255) once resolved to `unmapped:<identity>`: a longer one would make every rebuild of its day fail."""
MAX_POINTS = 200_000
"""Points in one export; a body with more is refused whole (400)."""


class OtlpBodyError(ValueError):
    """The body is not an OTLP metrics export (the message says why, without echoing the body)."""


@dataclass(frozen=True, slots=True)
class OtelPoint:
    metric: str
    series_key: str
    start_ns: int
    time_ns: int
    cumulative: bool
    value: float
    identity: str | None
    model: str | None
    kind: str | None
    attributes: dict[str, Any]
    attributes_json: str = ""
    """`attributes` as canonical JSON (sorted keys, ASCII): what is stored, dumped once while parsing."""

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.time_ns / 1e9, UTC).date()


@dataclass(slots=True)
class ParsedExport:
    points: list[OtelPoint] = field(default_factory=list)
    rejected: int = 0
    first_reason: str = ""

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected += count
        if not self.first_reason:
            self.first_reason = reason


def _any_value(value: AnyValue, depth: int = 0) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if depth > 4:
        raise OtlpBodyError("attribute values nest more than 4 levels deep")
    if kind == "array_value":
        return [_any_value(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values, depth + 1)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "double_value" and not math.isfinite(value.double_value):
        return str(value.double_value)
    return getattr(value, kind)


def _attributes(pairs: Any, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        value = pair.value
        kind = value.WhichOneof("value")
        out[pair.key] = value.string_value if kind == "string_value" else _any_value(value, depth)
    return out


def _text(attributes: dict[str, Any], *names: str) -> str | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _storable(name: str, attributes: dict[str, Any]) -> bool:
    """Text PostgreSQL can store: no NUL character (text and jsonb refuse it) and valid UTF-8 (no lone surrogates)."""
    try:
        dumped = json.dumps([name, attributes], ensure_ascii=False, default=str)
        dumped.encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return "\x00" not in dumped and "\\u0000" not in dumped


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
"""One encoder for every point (`json.dumps` with options builds one per call)."""


def canonical_attributes(attributes: dict[str, Any]) -> str:
    return _CANONICAL.encode(attributes)


def series_key(metric: str, attributes: dict[str, Any], canonical: str | None = None) -> str:
    """sha256 of `[metric, attributes]` as canonical JSON (`canonical`: the attributes already dumped so)."""
    if canonical is None:
        canonical = canonical_attributes(attributes)
    return hashlib.sha256(f"[{_CANONICAL.encode(metric)},{canonical}]".encode()).hexdigest()


def _storable_fast(name: str, attributes: dict[str, Any], canonical: str) -> bool:
    """`_storable` without a second dump for the usual point: ASCII JSON without a `\\u0000` or a `\\ud…` escape
    (the only way a NUL or a surrogate shows in it) holds neither; anything else takes the exact check."""
    if "\\u0000" in canonical or "\\ud" in canonical or not name.isascii() or "\x00" in name:
        return _storable(name, attributes)
    return True


def decode(body: bytes, json_body: bool) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    try:
        if json_body:
            json_format.Parse(body.decode("utf-8"), request, ignore_unknown_fields=True, max_recursion_depth=32)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError, ValueError, TypeError) as exc:
        kind = "OTLP/JSON" if json_body else "OTLP protobuf"
        raise OtlpBodyError(f"body is not an {kind} metrics export ({type(exc).__name__})") from None
    return request


def _implausible(metric: str, kind: str | None, value: float, time_ns: int, now_ns: int) -> str | None:
    if not math.isfinite(value) or value < 0 or value > MAX_VALUE:
        return f"{metric}: value {value!r} is negative, not finite or too large"
    if metric == TOKENS and value > MAX_TOKENS:
        return f"{metric}: more than 10^10 tokens in one point"
    if metric == COST and value > MAX_COST_USD:
        return f"{metric}: more than $100,000 in one point"
    if time_ns > now_ns + MAX_AHEAD_NS:
        return f"{metric}: time is more than a day ahead"
    if time_ns < now_ns - MAX_AGE_NS:
        return f"{metric}: time is older than 400 days"
    return None


def parse_export(body: bytes, *, json_body: bool, now: datetime) -> ParsedExport:
    """Decode and flatten one export into plausible points; raises OtlpBodyError for an unreadable body."""
    request = decode(body, json_body)
    now_ns = int(now.timestamp() * 1e9)
    out = ParsedExport()
    total = sum(
        len(getattr(m, m.WhichOneof("data")).data_points) if m.WhichOneof("data") else 0
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    )
    if total > MAX_POINTS:
        raise OtlpBodyError(f"an export may carry at most {MAX_POINTS} data points, this one has {total}")
    for resource_metrics in request.resource_metrics:
        resource = _attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                _flatten_metric(out, metric, resource, now_ns)
    return out


def _flatten_metric(out: ParsedExport, metric: Any, resource: dict[str, Any], now_ns: int) -> None:
    data = metric.WhichOneof("data")
    name = metric.name
    if data not in ("sum", "gauge"):
        count = len(getattr(metric, data).data_points) if data else 0
        if count:
            out.reject(f"{name}: {data} points are not accepted (only sums and gauges)", count)
        return
    body = getattr(metric, data)
    points = body.data_points
    if not name or len(name) > MAX_TEXT["metric"]:
        if points:
            out.reject("a metric name is empty or longer than 128 characters", len(points))
        return
    cumulative = (
        data == "sum" and body.aggregation_temporality == AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
    )
    metric_json = _CANONICAL.encode(name)
    append = out.points.append
    for point in points:
        which = point.WhichOneof("value")
        if which is None:
            out.reject(f"{name}: a data point without a value")
            continue
        value = float(point.as_double if which == "as_double" else point.as_int)
        attributes = {**resource, **_attributes(point.attributes)} if resource else _attributes(point.attributes)
        email = _text(attributes, "user.email")
        account = _text(attributes, "user.account_uuid")
        identity = f"otel:{email.lower()}" if email else f"otel:{account}" if account else None
        model = _text(attributes, "model")
        kind = _text(attributes, "type", "decision")
        if identity is not None and len(identity) > MAX_TEXT["identity"]:
            out.reject(f"{name}: identity longer than {MAX_TEXT['identity']} characters")
            continue
        if model is not None and len(model) > MAX_TEXT["model"]:
            out.reject(f"{name}: model longer than {MAX_TEXT['model']} characters")
            continue
        if kind is not None and len(kind) > MAX_TEXT["kind"]:
            out.reject(f"{name}: kind longer than {MAX_TEXT['kind']} characters")
            continue
        canonical = _CANONICAL.encode(attributes)
        if not _storable_fast(name, attributes, canonical):
            out.reject("a NUL character or invalid text in a metric name or attribute")
            continue
        time_ns = int(point.time_unix_nano)
        if time_ns <= 0:
            out.reject(f"{name}: a data point without a time")
            continue
        if reason := _implausible(name, kind, value, time_ns, now_ns):
            out.reject(reason)
            continue
        start_ns = int(point.start_time_unix_nano)
        if start_ns > time_ns:
            out.reject(f"{name}: start time after time")
            continue
        append(
            OtelPoint(
                name,
                hashlib.sha256(f"[{metric_json},{canonical}]".encode()).hexdigest(),  # = series_key(name, attributes)
                start_ns,
                time_ns,
                cumulative,
                value,
                identity,
                model,
                kind,
                attributes,
                canonical,
            )
        )


def response_body(rejected: int, message: str, *, json_body: bool) -> bytes:
    """The OTLP/HTTP success answer: an empty ExportMetricsServiceResponse, or one with `partial_success`."""
    response = ExportMetricsServiceResponse()
    if rejected:
        response.partial_success.rejected_data_points = rejected
        response.partial_success.error_message = message
    if json_body:
        return str(json_format.MessageToJson(response, indent=None)).encode()
    return bytes(response.SerializeToString())


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_body(code: int, message: str, *, json_body: bool) -> bytes:
    """An OTLP/HTTP error answer: a `google.rpc.Status` (code = field 1, message = field 2), encoded like the
    request (written by hand: the Status type is not part of opentelemetry-proto)."""
    if json_body:
        return json.dumps({"code": code, "message": message}).encode()
    text_bytes = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text_bytes)) + text_bytes
