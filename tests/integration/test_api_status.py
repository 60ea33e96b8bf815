"""JSON for status and mappings, the OpenAPI schema and its rendered docs page (all behind the session)."""

import httpx


def test_status_json(signed_in, seeded):
    data = signed_in("grace@example.com").get("/api/v1/status").json()
    assert {p["id"] for p in data["providers"]} == {"anthropic", "cursor", "github", "copilot"}
    assert all(p["configured"] is False for p in data["providers"])
    assert data["unattributed_api_keys"] == 1
    assert data["unattributed"][0]["identity"] == "claude_code:ci-deploy-key"
    assert data["lifetime"]["total_repos"] == 4


def test_mappings_json_and_bad_source(signed_in, seeded):
    client = signed_in("grace@example.com")
    data = client.get("/api/v1/mappings").json()
    assert data["mappings"] == []
    assert any(u["external_id"] == "ci-deploy-key" for u in data["unmapped"])
    assert "ada@example.com" in data["known_emails"]
    bad = client.get("/api/v1/mappings?source=gitlab")
    assert bad.status_code == 400 and bad.json()["parameter"] == "source"


def test_openapi_lists_the_json_api_only_and_docs_render(signed_in, live_app):
    client = signed_in("grace@example.com")
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/stats" in schema["paths"] and "/api/v1/status" in schema["paths"]
    assert not [p for p in schema["paths"] if not p.startswith("/api/")]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/api/v1/users/pivot" in docs.text
    assert httpx.get(f"{live_app.url}/api/docs").status_code == 401
