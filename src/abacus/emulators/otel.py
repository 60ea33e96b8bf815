"""A Claude Code OpenTelemetry client for the demo and the tests: builds OTLP metric exports like Claude Code's and
pushes them to an Abacus receiver (`POST /otlp/v1/metrics`), delta and cumulative, with retries and duplicates.

`build_export` makes one `ExportMetricsServiceRequest` from plain `Sample`s; `encode` turns it into a protobuf or
OTLP/JSON body (optionally gzipped). `OtelStream` simulates the demo people's sessions minute by minute: every
`tick` advances each active person's counters and exports them (delta for most people, cumulative for some, one
restart per cumulative person), and re-sends a share of exports as an exporter would after a timeout.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from abacus.domain import otlp
from abacus.emulators.dataset import EmulatorConfig, EmulatorDataset
from abacus.logging_setup import get_logger

log = get_logger("abacus.emulators.otel")

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


@dataclass(frozen=True)
class Sample:
    metric: str
    value: float
    start_ns: int
    time_ns: int
    attributes: dict[str, str] = field(default_factory=dict)
    cumulative: bool = False


def _kv(attributes: dict[str, str]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in sorted(attributes.items())]


def build_export(samples: Sequence[Sample], resource: dict[str, str] | None = None) -> ExportMetricsServiceRequest:
    """One export: one resource (Claude Code's `service.name` by default), one scope, one Sum metric per (name,
    temporality) holding its samples as points."""
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.extend(_kv(resource or {"service.name": "claude-code", "service.version": "2.0.0"}))
    sm = rm.scope_metrics.add()
    sm.scope.name = "com.anthropic.claude_code"
    metrics: dict[tuple[str, bool], object] = {}
    for sample in samples:
        key = (sample.metric, sample.cumulative)
        if key not in metrics:
            metric = sm.metrics.add()
            metric.name = sample.metric
            metric.unit = "USD" if sample.metric == otlp.COST else "1"
            metric.sum.aggregation_temporality = CUMULATIVE if sample.cumulative else DELTA
            metric.sum.is_monotonic = True
            metrics[key] = metric
        point = metrics[key].sum.data_points.add()  # type: ignore[attr-defined]
        point.start_time_unix_nano = sample.start_ns
        point.time_unix_nano = sample.time_ns
        point.as_double = float(sample.value)
        point.attributes.extend(_kv(sample.attributes))
    return request


def encode(
    request: ExportMetricsServiceRequest, *, json_body: bool = False, gzipped: bool = False
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one export (Content-Type, and Content-Encoding when gzipped)."""
    if json_body:
        body = str(json_format.MessageToJson(request, indent=None)).encode()
        headers = {"Content-Type": "application/json"}
    else:
        body = bytes(request.SerializeToString())
        headers = {"Content-Type": "application/x-protobuf"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001")
PRICES = {  # USD per million tokens: input, output, cache read, cache creation
    MODELS[0]: (3.0, 15.0, 0.3, 3.75),
    MODELS[1]: (15.0, 75.0, 1.5, 18.75),
    MODELS[2]: (1.0, 5.0, 0.1, 1.25),
}


@dataclass
class _Person:
    email: str
    cumulative: bool
    subscription: bool
    model: str
    start_ns: int
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)


@dataclass
class OtelStream:
    """Minute-by-minute Claude Code telemetry of some people, pushed to `url` with `token`."""

    url: str
    token: str
    emails: Sequence[str]
    subscription_email: str | None = None
    seed: int = 14
    duplicate_share: float = 0.15
    sent: int = 0
    accepted_points: int = 0
    cost_by_email: dict[str, float] = field(default_factory=dict)
    """USD the stream has generated per person (what the stored points must add up to)."""
    _rng: random.Random = field(init=False)
    _people: list[_Person] = field(init=False)
    _ticks: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._people = []

    def _person(self, email: str, index: int, now_ns: int) -> _Person:
        return _Person(
            email=email,
            cumulative=index % 3 == 1,
            subscription=email == self.subscription_email,
            model=MODELS[index % len(MODELS)],
            start_ns=now_ns - 60_000_000_000,
        )

    def samples(self, now: datetime) -> list[Sample]:
        """One minute of every active person's telemetry ending at `now`."""
        now_ns = ns(now)
        if not self._people:
            self._people = [self._person(email, i, now_ns) for i, email in enumerate(self.emails)]
        self._ticks += 1
        out: list[Sample] = []
        for person in self._people:
            if self._rng.random() < 0.3:  # not at the keyboard this minute
                continue
            base = {
                "user.email": person.email,
                "session.id": f"s-{zlib.crc32(person.email.encode())}",
                "organization.id": "demo-org",
                "terminal.type": "vscode",
            }
            if person.subscription:
                base["user.account_uuid"] = f"acct-{zlib.crc32(person.email.encode())}"
            tokens = {
                "input": self._rng.randint(2_000, 30_000),
                "output": self._rng.randint(500, 8_000),
                "cacheRead": self._rng.randint(10_000, 200_000),
                "cacheCreation": self._rng.randint(0, 20_000),
            }
            prices = PRICES[person.model]
            cost = sum(tokens[k] * prices[i] for i, k in enumerate(("input", "output", "cacheRead", "cacheCreation")))
            increments: list[tuple[str, float, dict[str, str]]] = [
                (otlp.COST, round(cost / 1e6, 6), {"model": person.model}),
                *((otlp.TOKENS, float(v), {"model": person.model, "type": k}) for k, v in tokens.items()),
                (otlp.LINES, float(self._rng.randint(0, 60)), {"type": "added"}),
                (otlp.LINES, float(self._rng.randint(0, 20)), {"type": "removed"}),
                (otlp.EDIT_DECISIONS, float(self._rng.randint(0, 4)), {"decision": "accept", "tool": "Edit"}),
                (otlp.EDIT_DECISIONS, float(self._rng.randint(0, 1)), {"decision": "reject", "tool": "Edit"}),
                (otlp.ACTIVE_TIME, float(self._rng.randint(5, 55)), {"type": "user"}),
            ]
            if self._ticks == 1:
                increments.append((otlp.SESSIONS, 1.0, {}))
            if self._rng.random() < 0.05:
                increments.append((otlp.COMMITS, 1.0, {}))
            self.cost_by_email[person.email] = self.cost_by_email.get(person.email, 0.0) + increments[0][1]
            if person.cumulative and self._ticks % 10 == 0:  # the CLI restarted: a new series start
                person.start_ns = now_ns - 1_000_000_000
                person.totals.clear()
            for metric, value, extra in increments:
                attributes = {**base, **extra}
                if person.cumulative:
                    key = (metric, tuple(sorted(extra.items())))
                    person.totals[key] = person.totals.get(key, 0.0) + value
                    out.append(Sample(metric, person.totals[key], person.start_ns, now_ns, attributes, True))
                else:
                    out.append(Sample(metric, value, now_ns - 60_000_000_000, now_ns, attributes))
        return out

    def push(self, client: httpx.Client, now: datetime) -> int:
        """Export one minute (protobuf, gzipped, as Claude Code's http/protobuf exporter does), retrying on 429/5xx/
        network errors and re-sending a share as duplicates; returns the points accepted."""
        samples = self.samples(now)
        if not samples:
            return 0
        body, headers = encode(build_export(samples), gzipped=True)
        headers["Authorization"] = f"Bearer {self.token}"
        sends = 2 if self._rng.random() < self.duplicate_share else 1  # an export re-sent after a lost answer
        accepted = False
        for _ in range(sends):
            for attempt in range(4):
                try:
                    response = client.post(self.url, content=body, headers=headers, timeout=10)
                except httpx.HTTPError:
                    time.sleep(0.5 * (attempt + 1))
                    continue
                self.sent += 1
                if response.status_code == 200:
                    accepted = True
                    break
                if response.status_code not in (429, 502, 503, 504) or attempt == 3:
                    break
                time.sleep(min(5.0, float(response.headers.get("retry-after", "1") or 1)))
        if accepted:
            self.accepted_points += len(samples)  # distinct points, however often they were sent
        return len(samples)


DEMO_OTLP_TOKEN = "demo-otlp-ingest-token-not-a-secret"
DEMO_OTLP_LABEL = "demo"
DEMO_STREAM_SECONDS = 20.0
"""How often the demo stream exports (Claude Code's default metric export interval is 60 s; faster here so the
demo's Today strip moves while someone watches)."""


def demo_otlp_environment() -> dict[str, str]:
    """The receiver's token for the demo stream (`ABACUS_OTLP_TOKENS`)."""
    return {"ABACUS_OTLP_TOKENS": f"{DEMO_OTLP_LABEL}={DEMO_OTLP_TOKEN}"}


def demo_stream(app_url: str, config: EmulatorConfig | None = None, people: int = 8) -> OtelStream:
    """The demo people's stream: the first `people` Claude Code users of the emulator's data set, and one person
    the Admin API never reports (a Pro/Max subscription), whose figures stay on OTel."""
    dataset = EmulatorDataset(config or EmulatorConfig())
    users = [p.email for p in dataset.people if p.uses_claude][:people]
    outside = [p.email for p in dataset.people if not p.uses_claude and not p.anthropic_orgs]
    subscription = outside[0] if outside else None
    emails = [*users, *([subscription] if subscription else [])]
    return OtelStream(
        url=f"{app_url.rstrip('/')}/otlp/v1/metrics",
        token=DEMO_OTLP_TOKEN,
        emails=emails,
        subscription_email=subscription,
    )


def run_stream(stream: OtelStream, stop: threading.Event, interval: float = DEMO_STREAM_SECONDS) -> None:
    """Export every `interval` seconds until `stop` is set (the first export at once)."""
    with httpx.Client() as client:
        while not stop.is_set():
            try:
                stream.push(client, datetime.now(UTC))
            except Exception as exc:  # the demo must not die with its stream; say why and go on
                log.warning("demo otel stream export failed", error=repr(exc))
            stop.wait(interval)
