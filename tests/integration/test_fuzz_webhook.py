"""Fuzzing POST /webhooks/github with hypothesis (real app in-process, real PostgreSQL and Redis): random bodies,
headers and signatures answer only 202/200/400/401/413, never a 500, and nothing is stored — no delivery row, no
queued payload — unless the signature is valid. Examples per test: attack_support.fuzz_examples (ABACUS_FUZZ_LONG=1
for the long run)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from redis import Redis

from tests.integration.attack_support import fuzz_examples
from tests.integration.pages_support import sql_value
from tests.support import app_settings

SECRET = "whsec_fuzz_" + uuid.uuid4().hex
FUZZ = settings(
    max_examples=fuzz_examples(100),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
ALLOWED = {200, 202, 400, 401, 413}
TRIED = {"unsigned": 0, "signed": 0}


@pytest.fixture(scope="module")
def client(services, clean_db_module) -> Any:
    from abacus.app import create_app

    app = create_app(app_settings(services, "http://127.0.0.1:9/oidc", github={"webhook_secret": SECRET}))
    with TestClient(app, base_url="http://testserver.local") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def clean_db_module(database_url):
    from tests.support import run_async, truncate_tables

    run_async(truncate_tables(database_url))


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
events = st.one_of(st.sampled_from(["push", "ping", "issues", "PUSH", " push ", "", "push\t"]), header_text)
delivery_ids = st.one_of(st.uuids().map(str), header_text, st.just("x" * 65), st.just(""))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=30,
)
push_like = st.fixed_dictionaries(
    {
        "ref": st.one_of(st.just("refs/heads/main"), st.text(max_size=40), st.integers(), st.none()),
        "repository": st.one_of(
            st.fixed_dictionaries(
                {
                    "full_name": st.one_of(st.just("acme/web"), st.text(max_size=40), st.none()),
                    "default_branch": st.one_of(st.just("main"), st.text(max_size=20), st.integers()),
                }
            ),
            json_values,
        ),
        "commits": st.one_of(st.lists(json_values, max_size=3), json_values),
        "zen": st.text(max_size=20),
    }
)
bodies = st.one_of(
    st.binary(max_size=2000),
    json_values.map(lambda v: json.dumps(v).encode()),
    push_like.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 200_000).map(lambda depth: b"[" * depth),
    st.just(b'{"a": "\\u0000"}'),
)
bad_signatures = st.one_of(
    st.none(),
    st.just(""),
    st.just("sha256="),
    header_text,
    st.binary(min_size=32, max_size=32).map(lambda b: "sha256=" + b.hex()),
    st.just("sha1=" + "0" * 40),
)


def _stored(database_url: str, redis_url: str) -> tuple[int, int]:
    redis = Redis.from_url(redis_url)
    try:
        payloads = sum(1 for _ in redis.scan_iter(match="abacus:webhook:*", count=1000))
    finally:
        redis.close()
    return sql_value(database_url, "SELECT count(*) FROM webhook_deliveries"), payloads


def test_unsigned_or_badly_signed_deliveries_are_401_and_store_nothing(client, services):
    before = _stored(services.database_url, services.redis_url)

    @FUZZ
    @given(
        body=bodies,
        event=events,
        delivery=delivery_ids,
        signature=st.one_of(
            bad_signatures,
            st.builds(lambda b: _sign(b, "not-the-secret"), st.binary(max_size=64)),  # signed with another secret
            bodies.map(lambda b: _sign(b + b" ")),  # the signature of another body
        ),
        upper=st.booleans(),
    )
    def run(body: bytes, event: str, delivery: str, signature: str | None, upper: bool) -> None:
        headers = {"x-github-event": event, "x-github-delivery": delivery, "content-type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256" if upper else "x-hub-signature-256"] = signature
        if signature == _sign(body):  # hypothesis could in theory produce the right one
            return
        response = client.post("/webhooks/github", content=body, headers=headers)
        assert response.status_code == 401, (response.status_code, response.text[:200])
        TRIED["unsigned"] += 1

    run()
    assert _stored(services.database_url, services.redis_url) == before
    print(f"webhook unsigned: {TRIED['unsigned']} deliveries")


def test_validly_signed_random_deliveries_never_500(client, services):
    delivered: set[str] = set()

    @FUZZ
    @given(body=bodies, event=events, delivery=delivery_ids, hex_case=st.sampled_from(["lower", "upper"]))
    def run(body: bytes, event: str, delivery: str, hex_case: str) -> None:
        signature = _sign(body)
        if hex_case == "upper":
            signature = "sha256=" + signature[7:].upper()
        response = client.post(
            "/webhooks/github",
            content=body,
            headers={"x-github-event": event, "x-github-delivery": delivery, "x-hub-signature-256": signature},
        )
        assert response.status_code in ALLOWED - {413}, (response.status_code, response.text[:200])
        assert response.status_code != 401
        if response.status_code in (200, 202) and response.json().get("status") != "duplicate":
            delivered.add(delivery.strip())
        TRIED["signed"] += 1

    run()
    rows, _ = _stored(services.database_url, services.redis_url)
    assert rows <= len(delivered)  # a row only for an accepted, signed delivery (no row for a 400)
    print(f"webhook signed: {TRIED['signed']} deliveries, {len(delivered)} accepted")


def test_an_oversized_body_is_413_before_the_signature_is_checked(client, services):
    body = b" " * (25 * 1024 * 1024 + 1)
    before = _stored(services.database_url, services.redis_url)
    response = client.post(
        "/webhooks/github",
        content=body,
        headers={"x-github-event": "push", "x-github-delivery": "big", "x-hub-signature-256": _sign(body)},
    )
    assert response.status_code == 413
    assert _stored(services.database_url, services.redis_url) == before
