"""The provider emulators over HTTP: auth, pagination, determinism, faults, late data, App tokens, ground truth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from litestar import Request, Response, Router, post

from abacus.domain.attribution import attribute_commit
from abacus.domain.modelnames import normalize_model_name
from abacus.emulators.dataset import (
    ATTRIBUTION_EXAMPLES,
    DEMO_ANTHROPIC_KEYS,
    DEMO_CURSOR_KEYS,
    DEMO_GITHUB_APP_ID,
    DEMO_GITHUB_APP_PRIVATE_KEY,
    DEMO_GITHUB_INSTALLATION_ID,
    DEMO_GITHUB_TOKEN,
    EmulatorConfig,
    EmulatorDataset,
    demo_environment,
)
from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import ping_payload, push_payload, send_webhook

TODAY = date(2026, 1, 14)  # a Wednesday
NOW = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)
PAGE = 3
CONFIG = EmulatorConfig(seed=7, users=12, days=20, today=TODAY, now=lambda: NOW, max_page_size=PAGE, commits=600)

ANTHROPIC_HEADERS = {"x-api-key": DEMO_ANTHROPIC_KEYS["acme"], "anthropic-version": "2023-06-01"}
GITHUB_HEADERS = {
    "Authorization": f"Bearer {DEMO_GITHUB_TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
MEMBERS_QUERY = (
    "query($org: String!, $cursor: String) { organization(login: $org) { membersWithRole(first: 100, "
    "after: $cursor) { nodes { login databaseId organizationVerifiedDomainEmails(login: $org) } "
    "pageInfo { hasNextPage endCursor } } } }"
)


@pytest.fixture(scope="module")
def emulator() -> Any:
    with EmulatorServer(CONFIG) as server:
        yield server


@pytest.fixture(scope="module")
def client(emulator: EmulatorServer) -> Any:
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        yield http


@pytest.fixture(autouse=True)
def fresh_state(emulator: EmulatorServer) -> Any:
    emulator.state.reset()
    yield
    emulator.state.reset()


# ---- helpers -----------------------------------------------------------------------------------------------------


def day_ms(day: date) -> tuple[int, int]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return start, start + 86_400_000 - 1


def anthropic_report(client: httpx.Client, day: date, org: str = "acme") -> list[dict[str, Any]]:
    headers = {**ANTHROPIC_HEADERS, "x-api-key": DEMO_ANTHROPIC_KEYS[org]}
    params: dict[str, Any] = {"starting_at": day.isoformat(), "limit": 1000}
    records: list[dict[str, Any]] = []
    while True:
        response = client.get("/anthropic/v1/organizations/usage_report/claude_code", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]) <= PAGE
        records += body["data"]
        if not (body["has_more"] and body["next_page"]):
            return records
        params["page"] = body["next_page"]


def cursor_events(client: httpx.Client, start_ms: int, end_ms: int, team: str = "core") -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.post(
            "/cursor/teams/filtered-usage-events",
            auth=(DEMO_CURSOR_KEYS[team], ""),
            json={"startDate": start_ms, "endDate": end_ms, "page": page, "pageSize": 1000},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        events += body["usageEvents"]
        if not body["pagination"]["hasNextPage"]:
            return events
        page += 1


def github_pages(client: httpx.Client, path: str, **params: Any) -> list[Any]:
    """Follow `Link: rel="next"` from the first page; every page has at most PAGE items."""
    items: list[Any] = []
    response = client.get(f"/github{path}", params={"per_page": 100, **params}, headers=GITHUB_HEADERS)
    while True:
        assert response.status_code == 200, response.text
        assert len(response.json()) <= PAGE
        items += response.json()
        match = re.search(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
        if match is None:
            return items
        response = client.get(match.group(1), headers=GITHUB_HEADERS)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_jwt(*, iss: object = DEMO_GITHUB_APP_ID, iat: int = -60, exp: int = 540, key: Any = None) -> str:
    key = key or serialization.load_pem_private_key(DEMO_GITHUB_APP_PRIVATE_KEY.encode(), password=None)
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"iat": now + iat, "exp": now + exp, "iss": iss}).encode())
    signature = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{claims}.{b64url(signature)}"


def set_clock(client: httpx.Client, value: datetime) -> None:
    response = client.post("/_emulator/clock", json={"now": value.isoformat().replace("+00:00", "Z")})
    assert response.status_code == 200, response.text


# ---- configuration -----------------------------------------------------------------------------------------------


def test_demo_environment_points_abacus_at_the_emulator() -> None:
    env = demo_environment("http://127.0.0.1:9999/")
    assert env["ANTHROPIC_API_URL"] == "http://127.0.0.1:9999/anthropic"
    assert env["CURSOR_API_URL"] == "http://127.0.0.1:9999/cursor"
    assert env["GITHUB_API_URL"] == "http://127.0.0.1:9999/github"
    assert env["GITHUB_ORG"] == "acme"
    assert env["ABACUS_PROVIDER_PACING_MS"] == "0"
    assert env["COPILOT_ENABLED"] == "1"  # Copilot is opt-in; the demo turns it on
    assert env["GITHUB_TOKEN"] == DEMO_GITHUB_TOKEN and env["GITHUB_WEBHOOK_SECRET"]
    assert [entry.split("=", 1)[0] for entry in env["ANTHROPIC_ADMIN_KEYS"].split(",")] == ["acme", "labs"]
    cursor_keys = dict(entry.split("=", 1) for entry in env["CURSOR_ADMIN_KEYS"].split(","))
    assert set(cursor_keys) == {"core", "mobile"}
    assert all(re.fullmatch(r"key_[0-9a-f]{64}", key) for key in cursor_keys.values())
    app_env = demo_environment("http://x", github_app=True)
    assert "GITHUB_TOKEN" not in app_env
    assert app_env["GITHUB_APP_ID"] == str(DEMO_GITHUB_APP_ID)
    assert app_env["GITHUB_APP_PRIVATE_KEY"].startswith("-----BEGIN RSA PRIVATE KEY-----")


def test_dataset_is_deterministic_per_seed() -> None:
    small = {"users": 6, "days": 6, "today": TODAY, "now": lambda: NOW, "commits": 120}
    first = EmulatorDataset(EmulatorConfig(seed=3, **small)).snapshot()
    assert first == EmulatorDataset(EmulatorConfig(seed=3, **small)).snapshot()
    assert first != EmulatorDataset(EmulatorConfig(seed=4, **small)).snapshot()


def test_demo_sized_dataset_generates_quickly() -> None:
    started = time.perf_counter()
    dataset = EmulatorDataset(EmulatorConfig(today=TODAY, now=lambda: NOW))
    assert dataset.truth_usage(dataset.first_day, TODAY)
    assert dataset.truth_commits(dataset.first_day, TODAY)["total"] > 1500
    assert time.perf_counter() - started < 3.0


def test_people_and_orgs_cover_the_edge_cases(emulator: EmulatorServer) -> None:
    dataset = emulator.state.dataset
    ada = dataset.people[0]
    assert (ada.email, ada.name) == ("ada@example.com", "Ada Lovelace")
    assert all(re.fullmatch(r"[a-z-]+\.[a-z0-9-]+@example\.com", p.email) for p in dataset.people[1:])
    acme = dataset.anthropic_orgs["acme"]
    assert {k.status for k in acme.api_keys} == {"active", "inactive", "archived"}
    user_ids = {u.id for u in acme.users}
    assert any(k.created_by not in user_ids for k in acme.api_keys)
    key_names = {k.name for k in acme.api_keys}
    assert any(u.key_name not in key_names for u in acme.api_usage)
    assert dataset.anthropic_orgs["labs"].organization_id != acme.organization_id
    assert {r.default_branch for r in dataset.repos} == {"main", "trunk"}
    assert any(r.archived for r in dataset.repos)


# ---- auth --------------------------------------------------------------------------------------------------------


def test_anthropic_refuses_bad_keys(client: httpx.Client) -> None:
    path = "/anthropic/v1/organizations/usage_report/claude_code?starting_at=2026-01-13"
    expected = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    bearer = {"Authorization": f"Bearer {DEMO_ANTHROPIC_KEYS['acme']}"}
    for headers in ({}, {"x-api-key": "sk-ant-admin01-wrong"}, bearer):
        response = client.get(path, headers=headers)
        assert (response.status_code, response.json()) == (401, expected)
    assert client.get(path, headers={**ANTHROPIC_HEADERS, "anthropic-version": "2020-01-01"}).status_code == 400
    assert client.get(path, headers={"x-api-key": DEMO_ANTHROPIC_KEYS["labs"]}).status_code == 200


def test_cursor_refuses_bad_basic_auth(client: httpx.Client) -> None:
    key = DEMO_CURSOR_KEYS["core"]
    body = {"startDate": 0, "endDate": 1}
    for kwargs in (
        {},
        {"auth": ("key_" + "0" * 64, "")},
        {"auth": (key, "password")},
        {"headers": {"Authorization": f"Bearer {key}"}},
    ):
        response = client.post("/cursor/teams/filtered-usage-events", json=body, **kwargs)
        assert (response.status_code, response.json()) == (401, {"error": "Unauthorized"})
    assert client.post("/cursor/teams/filtered-usage-events", json=body, auth=(key, "")).status_code == 200


def test_github_refuses_bad_credentials(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer ghp_wrong"}, {"Authorization": f"Basic {DEMO_GITHUB_TOKEN}"}):
        response = client.get("/github/orgs/acme/repos", headers=headers)
        assert response.status_code == 401
        assert response.json()["message"] == "Bad credentials"
    assert client.get("/github/orgs/acme/repos", headers={"Authorization": f"token {DEMO_GITHUB_TOKEN}"}).is_success
    assert client.post("/github/graphql", json={"query": MEMBERS_QUERY}).status_code == 401


# ---- pagination --------------------------------------------------------------------------------------------------


def test_anthropic_usage_report_pages_union_to_the_dataset(client: httpx.Client, emulator: EmulatorServer) -> None:
    day = TODAY - timedelta(days=1)
    records = anthropic_report(client, day)
    assert len(records) > PAGE
    assert records == emulator.state.dataset.claude_code_report("acme", day)
    assert {r["actor"]["type"] for r in records} == {"user_actor", "api_actor"}
    assert all(r["date"] == f"{day.isoformat()}T00:00:00Z" for r in records)
    amounts = [e["estimated_cost"]["amount"] for r in records for e in r["model_breakdown"]]
    assert all(isinstance(a, int | float) for a in amounts)
    requests = client.get("/_emulator/requests", params={"endpoint": "usage_report"}).json()
    assert len(requests) >= 2 and requests[1]["query"]["page"].startswith("page_")


def test_anthropic_report_validates_its_query(client: httpx.Client) -> None:
    path = "/anthropic/v1/organizations/usage_report/claude_code"
    assert client.get(path, headers=ANTHROPIC_HEADERS).status_code == 400
    assert (
        client.get(path, params={"starting_at": "2026-01-13", "limit": 1001}, headers=ANTHROPIC_HEADERS).status_code
        == 400
    )
    bad_page = client.get(
        path, params={"starting_at": "2026-01-13", "page": "page_bm9wZQ=="}, headers=ANTHROPIC_HEADERS
    )
    assert bad_page.status_code == 400
    assert bad_page.json()["error"]["type"] == "invalid_request_error"
    future = client.get(path, params={"starting_at": "2026-02-01"}, headers=ANTHROPIC_HEADERS).json()
    assert future == {"data": [], "has_more": False, "next_page": None}


def test_anthropic_users_and_keys_page_by_id(client: httpx.Client, emulator: EmulatorServer) -> None:
    acme = emulator.state.dataset.anthropic_orgs["acme"]

    def all_of(path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 100, **params}
        while True:
            body = client.get(f"/anthropic/v1/organizations/{path}", params=query, headers=ANTHROPIC_HEADERS).json()
            assert len(body["data"]) <= PAGE
            items += body["data"]
            if not body["has_more"]:
                return items
            query["after_id"] = body["last_id"]

    users = all_of("users")
    assert sorted(u["email"] for u in users) == sorted(u.email for u in acme.users)
    keys = [k for status in ("active", "inactive", "archived") for k in all_of("api_keys", status=status)]
    assert sorted(k["id"] for k in keys) == sorted(k.id for k in acme.api_keys)
    assert all(k["status"] == "archived" for k in all_of("api_keys", status="archived"))
    one = client.get(f"/anthropic/v1/organizations/api_keys/{keys[0]['id']}", headers=ANTHROPIC_HEADERS)
    assert one.json() == keys[0]
    user = client.get(f"/anthropic/v1/organizations/users/{users[0]['id']}", headers=ANTHROPIC_HEADERS)
    assert user.json() == users[0]
    missing = client.get("/anthropic/v1/organizations/users/user_nope", headers=ANTHROPIC_HEADERS)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    other_org = client.get(
        f"/anthropic/v1/organizations/api_keys/{keys[0]['id']}", headers={"x-api-key": DEMO_ANTHROPIC_KEYS["labs"]}
    )
    assert other_org.status_code == 404


def test_cursor_events_page_union_to_the_dataset(client: httpx.Client, emulator: EmulatorServer) -> None:
    start, end = day_ms(TODAY - timedelta(days=1))
    events = cursor_events(client, start, end)
    expected = [e.wire() for e in emulator.state.dataset.cursor_events("core", start, end)]
    assert len(events) > PAGE and events == expected
    assert all(isinstance(e["timestamp"], str) and start <= int(e["timestamp"]) <= end for e in events)
    assert any("userEmail" not in e for e in events)
    assert any("tokenUsage" in e and "totalCents" not in e["tokenUsage"] for e in events)
    pages = [r["body"]["page"] for r in client.get("/_emulator/requests", params={"provider": "cursor"}).json()]
    assert pages == list(range(1, len(pages) + 1)) and len(pages) > 1


def test_cursor_range_is_inclusive_and_validated(client: httpx.Client, emulator: EmulatorServer) -> None:
    start, end = day_ms(TODAY - timedelta(days=2))
    event = emulator.state.dataset.cursor_events("core", start, end)[5]
    exact = cursor_events(client, event.timestamp_ms, event.timestamp_ms)
    assert event.wire() in exact
    assert all(int(e["timestamp"]) == event.timestamp_ms for e in exact)
    response = client.post(
        "/cursor/teams/filtered-usage-events", auth=(DEMO_CURSOR_KEYS["core"], ""), json={"endDate": end}
    )
    assert response.status_code == 400


def test_cursor_data_has_zero_token_and_same_millisecond_events(emulator: EmulatorServer) -> None:
    dataset = emulator.state.dataset
    events = [e for team in dataset.cursor_teams for e in dataset.cursor_events(team, 0, 2**53)]
    assert any(e.token_total == 0 for e in events)
    assert any(e.model == "default" for e in events)
    keys = [(e.email, e.model, e.timestamp_ms) for e in events]
    assert len(keys) > len(set(keys))


def test_github_repos_follow_link_headers(client: httpx.Client, emulator: EmulatorServer) -> None:
    first = client.get("/github/orgs/acme/repos", params={"per_page": 100}, headers=GITHUB_HEADERS)
    assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert int(first.headers["x-ratelimit-remaining"]) < 5000
    repos = github_pages(client, "/orgs/acme/repos")
    assert [r["full_name"] for r in repos] == [r.full_name for r in emulator.state.dataset.repos]
    assert {(r["name"], r["default_branch"], r["archived"]) for r in repos} >= {
        ("infra", "trunk", False),
        ("legacy", "main", True),
    }
    assert client.get("/github/orgs/acme/repos", params={"page": 99}, headers=GITHUB_HEADERS).json() == []
    assert client.get("/github/orgs/other/repos", headers=GITHUB_HEADERS).status_code == 404


def test_github_commits_filter_by_branch_and_window(client: httpx.Client, emulator: EmulatorServer) -> None:
    since, until = "2026-01-10T00:00:00Z", "2026-01-12"
    commits = github_pages(client, "/repos/acme/api/commits", sha="main", since=since, until=until)
    expected = emulator.state.dataset.commits(
        "acme/api", datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC)
    )
    assert [c["sha"] for c in commits] == [c.sha for c in expected] and len(commits) > PAGE
    dates = [c["commit"]["committer"]["date"] for c in commits]
    assert dates == sorted(dates, reverse=True)
    assert all("2026-01-10T00:00:00Z" <= d <= "2026-01-12T00:00:00Z" for d in dates)
    assert (
        client.get("/github/repos/acme/infra/commits", params={"sha": "main"}, headers=GITHUB_HEADERS).status_code
        == 404
    )
    assert client.get("/github/repos/acme/infra/commits", params={"sha": "trunk"}, headers=GITHUB_HEADERS).is_success
    detail = client.get(f"/github/repos/acme/api/commits/{commits[0]['sha']}", headers=GITHUB_HEADERS).json()
    assert set(detail["stats"]) == {"total", "additions", "deletions"} and detail["parents"]
    assert client.get("/github/repos/acme/api/commits/" + "f" * 40, headers=GITHUB_HEADERS).status_code == 422


def test_every_attribution_example_is_served(client: httpx.Client) -> None:
    commits = github_pages(client, "/repos/acme/web/commits", sha="main", since="2025-12-01")
    by_message = {c["commit"]["message"]: c for c in commits}
    for example in ATTRIBUTION_EXAMPLES:
        assert example.message in by_message, example.message
        served = by_message[example.message]
        assert len(served["parents"]) == (2 if example.merge else 1)
        found = attribute_commit(
            example.message, served["commit"]["author"]["name"], served["commit"]["author"]["email"]
        )
        assert tuple(a.tool for a in found) == example.tools, example.message
    initial_plan = by_message["Initial plan"]
    assert initial_plan["commit"]["author"]["name"] == "copilot-swe-agent[bot]"
    assert initial_plan["author"]["type"] == "Bot"
    assert any(c["author"] is None for c in commits)
    assert any(c["commit"]["author"]["email"].endswith("@users.noreply.github.com") for c in commits)
    assert any(c["commit"]["author"]["name"] == "dependabot[bot]" for c in commits)


def test_graphql_members_paginate_by_end_cursor(client: httpx.Client, emulator: EmulatorServer) -> None:
    nodes: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.post(
            "/github/graphql",
            headers=GITHUB_HEADERS,
            json={"query": MEMBERS_QUERY, "variables": {"org": "acme", "cursor": cursor}},
        )
        connection = response.json()["data"]["organization"]["membersWithRole"]
        assert len(connection["nodes"]) <= PAGE
        nodes += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
    members = emulator.state.dataset.github_members
    assert [n["databaseId"] for n in nodes] == [m.id for m in members] and len(nodes) > PAGE
    assert any(n["organizationVerifiedDomainEmails"] for n in nodes)
    assert any(not n["organizationVerifiedDomainEmails"] for n in nodes)
    missing = client.post(
        "/github/graphql",
        headers=GITHUB_HEADERS,
        json={"query": MEMBERS_QUERY, "variables": {"org": "nope", "cursor": None}},
    ).json()
    assert missing["data"]["organization"] is None and missing["errors"]


# ---- faults ------------------------------------------------------------------------------------------------------


def test_anthropic_429_then_recovery(client: httpx.Client) -> None:
    fault = {"provider": "anthropic", "endpoint": "usage_report", "kind": "429", "count": 2, "retry_after": 7}
    assert client.post("/_emulator/faults", json=fault).status_code == 201
    path = "/anthropic/v1/organizations/usage_report/claude_code?starting_at=2026-01-13"
    for _ in range(2):
        response = client.get(path, headers=ANTHROPIC_HEADERS)
        assert response.status_code == 429 and response.headers["retry-after"] == "7"
        assert response.json()["error"]["type"] == "rate_limit_error"
        assert response.json()["type"] == "error"
    assert client.get(path, headers=ANTHROPIC_HEADERS).status_code == 200
    statuses = [r["status"] for r in client.get("/_emulator/requests").json()]
    assert statuses == [429, 429, 200]


def test_cursor_and_github_rate_limit_bodies(client: httpx.Client, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("cursor", "usage_events", "429", retry_after=3)
    response = client.post(
        "/cursor/teams/filtered-usage-events", auth=(DEMO_CURSOR_KEYS["core"], ""), json={"startDate": 0, "endDate": 1}
    )
    assert (response.status_code, response.json(), response.headers["retry-after"]) == (
        429,
        {"error": "Rate limit exceeded"},
        "3",
    )
    for kind in ("429", "403"):
        emulator.state.add_fault("github", "commits", kind, retry_after=30)
        response = client.get("/github/repos/acme/web/commits", headers=GITHUB_HEADERS)
        assert response.status_code == int(kind)
        assert response.json()["message"].startswith("API rate limit exceeded")
        assert response.json()["documentation_url"]
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["x-ratelimit-reset"]) >= int(time.time()) + 25
        assert ("retry-after" in response.headers) == (kind == "429")
    assert client.get("/github/repos/acme/web/commits", headers=GITHUB_HEADERS).status_code == 200


def test_fault_after_k_requests_fails_the_nth(client: httpx.Client) -> None:
    client.post("/_emulator/faults", json={"provider": "github", "endpoint": "repos", "kind": "500", "after": 2})
    statuses = [client.get("/github/orgs/acme/repos", headers=GITHUB_HEADERS).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]
    assert client.get("/_emulator/faults").json() == []


def test_malformed_and_missing_field_and_slow(client: httpx.Client, emulator: EmulatorServer) -> None:
    path = "/anthropic/v1/organizations/usage_report/claude_code?starting_at=2026-01-13"
    emulator.state.add_fault("anthropic", "usage_report", "malformed")
    response = client.get(path, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    emulator.state.add_fault("anthropic", "usage_report", "missing_field")
    body = client.get(path, headers=ANTHROPIC_HEADERS).json()
    assert "data" not in body and "has_more" in body
    emulator.state.add_fault("github", "graphql", "missing_field")
    graph = client.post(
        "/github/graphql",
        headers=GITHUB_HEADERS,
        json={"query": MEMBERS_QUERY, "variables": {"org": "acme", "cursor": None}},
    ).json()
    assert graph == {"data": {}}
    emulator.state.add_fault("cursor", "*", "slow", delay=0.6)
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/cursor/teams/filtered-usage-events",
            auth=(DEMO_CURSOR_KEYS["core"], ""),
            json={"startDate": 0, "endDate": 1},
            timeout=0.2,
        )
    assert (
        client.post(
            "/cursor/teams/filtered-usage-events",
            auth=(DEMO_CURSOR_KEYS["core"], ""),
            json={"startDate": 0, "endDate": 1},
            timeout=5,
        ).status_code
        == 200
    )


def test_fault_spec_is_validated(client: httpx.Client) -> None:
    assert client.post("/_emulator/faults", json={"provider": "openai", "kind": "429"}).status_code == 400
    assert client.post("/_emulator/faults", json={"provider": "github", "kind": "418"}).status_code == 400
    assert client.delete("/_emulator/faults").json() == {"cleared": 0}


# ---- clock and late data -----------------------------------------------------------------------------------------


def report_tokens(records: list[dict[str, Any]]) -> int:
    return sum(sum(e["tokens"].values()) for r in records for e in r["model_breakdown"])


def test_anthropic_today_grows_and_lags_an_hour(client: httpx.Client) -> None:
    at_six_pm = report_tokens(anthropic_report(client, TODAY))
    yesterday_full = report_tokens(anthropic_report(client, TODAY - timedelta(days=1)))
    set_clock(client, datetime(2026, 1, 15, 2, 0, tzinfo=UTC))
    assert report_tokens(anthropic_report(client, TODAY)) > at_six_pm > 0
    set_clock(client, datetime(2026, 1, 14, 0, 30, tzinfo=UTC))
    assert anthropic_report(client, TODAY) == []
    assert 0 < report_tokens(anthropic_report(client, TODAY - timedelta(days=1))) < yesterday_full


def test_cursor_event_appears_after_its_lag(client: httpx.Client, emulator: EmulatorServer) -> None:
    start, end = day_ms(TODAY - timedelta(days=1))
    event = next(e for e in emulator.state.dataset.cursor_events("core", start, end) if e.lag_minutes >= 10)
    happened = datetime.fromtimestamp(event.timestamp_ms / 1000, UTC)
    set_clock(client, happened + timedelta(minutes=event.lag_minutes - 5))
    assert event.wire() not in cursor_events(client, event.timestamp_ms, event.timestamp_ms)
    set_clock(client, happened + timedelta(minutes=event.lag_minutes))
    assert event.wire() in cursor_events(client, event.timestamp_ms, event.timestamp_ms)
    no_lag = EmulatorDataset(EmulatorConfig(**{**CONFIG.__dict__, "lag": False}))
    no_lag.set_now(happened)
    assert event in no_lag.cursor_events("core", event.timestamp_ms, event.timestamp_ms)


def test_commits_do_not_exist_before_they_happen(client: httpx.Client) -> None:
    set_clock(client, datetime(2026, 1, 13, 12, 0, tzinfo=UTC))
    commits = github_pages(client, "/repos/acme/web/commits", since="2026-01-13")
    assert commits and all(c["commit"]["committer"]["date"] <= "2026-01-13T12:00:00Z" for c in commits)
    clock = client.get("/_emulator/clock").json()
    assert clock["now"].startswith("2026-01-13T12:00:00")
    client.post("/_emulator/reset")
    assert client.get("/_emulator/clock").json()["now"].startswith("2026-01-14T18:00:00")


# ---- GitHub App tokens -------------------------------------------------------------------------------------------


def test_app_jwt_is_exchanged_for_an_installation_token(client: httpx.Client) -> None:
    path = f"/github/app/installations/{DEMO_GITHUB_INSTALLATION_ID}/access_tokens"
    response = client.post(path, headers={**GITHUB_HEADERS, "Authorization": f"Bearer {app_jwt()}"})
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token.startswith("ghs_")
    expires = datetime.fromisoformat(response.json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=55) < expires - datetime.now(UTC) <= timedelta(hours=1)
    repos = client.get("/github/orgs/acme/repos", headers={**GITHUB_HEADERS, "Authorization": f"Bearer {token}"})
    assert repos.status_code == 200


def test_app_jwt_refusals(client: httpx.Client) -> None:
    path = f"/github/app/installations/{DEMO_GITHUB_INSTALLATION_ID}/access_tokens"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for jwt in (app_jwt(iss=1), app_jwt(key=stranger), app_jwt(iat=-1200, exp=-600), "not.a.jwt", DEMO_GITHUB_TOKEN):
        response = client.post(path, headers={**GITHUB_HEADERS, "Authorization": f"Bearer {jwt}"})
        assert response.status_code == 401, jwt
        assert response.json()["message"]
    wrong_installation = client.post(
        "/github/app/installations/1/access_tokens", headers={**GITHUB_HEADERS, "Authorization": f"Bearer {app_jwt()}"}
    )
    assert wrong_installation.status_code == 404
    assert client.get("/github/orgs/acme/repos", headers={"Authorization": f"Bearer {app_jwt()}"}).status_code == 401


# ---- ground truth ------------------------------------------------------------------------------------------------


def test_truth_usage_equals_summing_the_raw_responses(client: httpx.Client) -> None:
    first, last = TODAY - timedelta(days=2), TODAY
    totals: dict[tuple[str, str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, Decimal(0)])

    def add(key: tuple[str, str, str], i: int, cw: int, cr: int, o: int, cost: Decimal) -> None:
        row = totals[key]
        for position, value in enumerate((i, cw, cr, o, cost)):
            row[position] += value

    day = first
    while day <= last:
        for org in DEMO_ANTHROPIC_KEYS:
            for record in anthropic_report(client, day, org):
                for entry in record["model_breakdown"]:
                    t = entry["tokens"]
                    add(
                        (record["date"][:10], "claude_code", normalize_model_name(entry["model"] or "unknown")),
                        t["input"],
                        t["cache_creation"],
                        t["cache_read"],
                        t["output"],
                        Decimal(str(entry["estimated_cost"]["amount"])) / 100,
                    )
        for team in DEMO_CURSOR_KEYS:
            for event in cursor_events(client, *day_ms(day), team=team):
                usage = event.get("tokenUsage") or {}
                counts = [
                    usage.get(k, 0) for k in ("inputTokens", "cacheWriteTokens", "cacheReadTokens", "outputTokens")
                ]
                if not any(counts):
                    continue
                raw = "auto" if event["model"] == "default" else event["model"]
                stamp = datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC).date().isoformat()
                add(
                    (stamp, "cursor", normalize_model_name(raw)),
                    *counts,
                    Decimal(str(usage.get("totalCents", 0))) / 100,
                )
        day += timedelta(days=1)

    truth = client.get("/_emulator/truth/usage", params={"start": first.isoformat(), "end": last.isoformat()}).json()
    served = {
        (r["date"], r["tool"], r["model"]): [
            r["input_tokens"],
            r["cache_write_tokens"],
            r["cache_read_tokens"],
            r["output_tokens"],
            Decimal(r["cost"]),
        ]
        for r in truth
    }
    assert served == dict(totals)
    assert {tool for _, tool, _ in served} == {"claude_code", "cursor"}
    assert all(r["tokens"] == sum(served[(r["date"], r["tool"], r["model"])][:4]) for r in truth)
    cursor_only = client.get(
        "/_emulator/truth/usage", params={"start": first.isoformat(), "end": last.isoformat(), "tool": "cursor"}
    ).json()
    assert cursor_only and all(r["tool"] == "cursor" for r in cursor_only)


def test_truth_commits_equals_counting_the_served_commits(client: httpx.Client) -> None:
    start, end = date(2026, 1, 5), date(2026, 1, 9)
    by_tool: dict[str, int] = defaultdict(int)
    total = human = 0
    for repo in github_pages(client, "/orgs/acme/repos"):
        if repo["archived"]:
            continue
        branch = client.get(f"/github/repos/{repo['full_name']}", headers=GITHUB_HEADERS).json()["default_branch"]
        commits = github_pages(
            client,
            f"/repos/{repo['full_name']}/commits",
            sha=branch,
            since=f"{start.isoformat()}T00:00:00Z",
            until=f"{end.isoformat()}T23:59:59Z",
        )
        for commit in commits:
            if len(commit["parents"]) >= 2:
                continue
            author = commit["commit"]["author"]
            total += 1
            found = attribute_commit(commit["commit"]["message"], author["name"], author["email"])
            if found:
                by_tool[found[0].tool] += 1
            else:
                human += 1
    truth = client.get("/_emulator/truth/commits", params={"start": start.isoformat(), "end": end.isoformat()}).json()
    assert (truth["total"], truth["by_tool"], truth["human"]) == (total, dict(by_tool), human)
    assert total > 50 and truth["by_tool"]


# ---- webhook sender and extra routers ----------------------------------------------------------------------------


def test_webhook_sender_signs_push_and_ping_and_rate_limit_is_configurable() -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    @post("/github")
    async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
        received.append((dict(request.headers), await request.body()))
        return Response(content=b"{}", status_code=202, media_type="application/json")

    config = EmulatorConfig(users=6, days=5, today=TODAY, now=lambda: NOW, commits=100, github_rate_limit=3)
    with EmulatorServer(config, extra_routers=[Router(path="/webhooks", route_handlers=[receive])]) as server:
        payload = push_payload(server.state.dataset, "acme/web", count=4)
        assert send_webhook(server.base_url, "s3cret", "push", payload, delivery_id="d-1").status_code == 202
        assert (
            send_webhook(
                server.base_url + "/webhooks/github", "s3cret", "ping", ping_payload(server.state.dataset)
            ).status_code
            == 202
        )
        statuses = [
            httpx.get(f"{server.base_url}/github/orgs/acme/repos", headers=GITHUB_HEADERS).status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 403]
    headers, body = received[0]
    assert headers["x-github-event"] == "push" and headers["x-github-delivery"] == "d-1"
    assert headers["x-hub-signature-256"] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    push = json.loads(body)
    assert push["ref"] == "refs/heads/main" and push["repository"]["default_branch"] == "main"
    assert len(push["commits"]) == 4 and push["after"] == push["commits"][-1]["id"]
    stamps = [datetime.fromisoformat(c["timestamp"]) for c in push["commits"]]
    assert stamps == sorted(stamps) and all(s.tzinfo is not None for s in stamps)
    assert {"id", "login"} <= set(push["sender"])
    assert received[1][0]["x-github-event"] == "ping" and "zen" in json.loads(received[1][1])
