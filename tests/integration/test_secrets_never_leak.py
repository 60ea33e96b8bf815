"""No configured secret ever appears in a log line or in anything the app answers.

Every secret the settings hold gets a distinctive value (the providers' keys, a wrong key that makes its syncs
fail, the GitHub token and webhook secret, the OIDC client secret, the session secret). Then, with every log line
of every logger captured: syncs of every configured provider (successful, failing on the wrong key and failing on
provider faults), sign-in, a failed sign-in (a second app whose client secret the identity provider refuses), every
GET route the app has (enumerated from the app itself, path parameters filled), webhooks (valid, badly signed,
replayed), an admin action, errors (404, bad parameters, a forged callback). Not one secret may appear, whole or in
part (any 12-character slice of it), in the logs, in a response body or in a response header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from abacus.app import create_app
from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import DEMO_ANTHROPIC_KEYS, DEMO_CURSOR_KEYS, EmulatorConfig, demo_environment
from abacus.emulators.oidc import OIDCState, create_oidc_router
from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import ping_payload, webhook_request
from abacus.logging_setup import configure_logging
from abacus.providers import registry, runner
from abacus.settings import Settings, load_settings
from abacus.sync.context import SyncContext
from tests.support import ThreadedServer, captured_log_lines, free_port, run_async, sign_in

BAD_ANTHROPIC_KEY = "sk-ant-admin01-LeakCheckWrongAnthropicKey9f3a71c2"
BAD_CURSOR_KEY = "key_LeakCheckWrongCursorKey5b8e02d4aa"
WEBHOOK_SECRET = "whsec_LeakCheckWebhookSecret0c6f9e1b77"
OIDC_SECRET = "oidc-LeakCheckClientSecret-3e9d51a0c4"
WRONG_OIDC_SECRET = "oidc-LeakCheckRefusedSecret-a41f7730e2"
SESSION_SECRET = "LeakCheckSessionSecret-8d2c6b40f1e95a7733c0de42"


def _settings(services, emulator_url: str, port: int, client_secret: str) -> Settings:
    env = {
        **demo_environment(emulator_url),
        "ANTHROPIC_ADMIN_KEYS": ",".join(
            [*(f"{label}={key}" for label, key in DEMO_ANTHROPIC_KEYS.items()), f"wrong={BAD_ANTHROPIC_KEY}"]
        ),
        "CURSOR_ADMIN_KEYS": ",".join(
            [*(f"{label}={key}" for label, key in DEMO_CURSOR_KEYS.items()), f"wrong={BAD_CURSOR_KEY}"]
        ),
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": services.database_url,
        "REDIS_URL": services.redis_url,
        "ABACUS_ENV": "production",
        "ABACUS_SECRET_KEY": SESSION_SECRET,
        "ABACUS_BASE_URL": f"http://127.0.0.1:{port}",
        "OIDC_ISSUER": f"{emulator_url}/oidc",
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": client_secret,
        "ABACUS_ALLOWED_DOMAINS": "example.com",
        "ABACUS_ADMIN_EMAILS": "ada@example.com",
    }
    return load_settings(env, web=True)


def _secrets(settings: Settings) -> dict[str, str]:
    found = {f"anthropic key {k.label}": k.key for k in settings.anthropic.keys}
    found |= {f"cursor key {k.label}": k.key for k in settings.cursor.keys}
    found |= {
        "github token": settings.github.token or "",
        "github webhook secret": settings.github.webhook_secret or "",
        "OIDC client secret": settings.sign_in.client_secret or "",
        "session secret": settings.secret_key or "",
        "refused OIDC client secret": WRONG_OIDC_SECRET,
    }
    assert all(len(value) >= 16 for value in found.values()), "a secret too short to look for"
    assert BAD_ANTHROPIC_KEY in found.values() and BAD_CURSOR_KEY in found.values()
    return found


PUBLIC_PREFIXES = ("sk-ant-admin01-", "key_", "ghp_", "whsec_")  # the vendors' documented key formats


def _leaks(secrets: dict[str, str], where: str, text: str) -> list[str]:
    """Each secret found in `text`, whole or any 12-character slice of its secret part (after a vendor prefix)."""
    leaks = []
    for name, value in secrets.items():
        secret = next((value[len(p) :] for p in PUBLIC_PREFIXES if value.startswith(p)), value)
        pieces = {secret[i : i + 12] for i in range(0, len(secret) - 11)}
        if any(piece in text for piece in pieces):
            leaks.append(f"{name} in {where}")
    return leaks


@pytest.fixture(scope="module")
def identity_and_providers() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(users=4, days=3, repos=1, commits=20)
    oidc = create_oidc_router(OIDCState(client_secret=OIDC_SECRET))
    with EmulatorServer(config, extra_routers=[oidc]) as server:
        yield server


def _fill(path: str, values: dict[str, str]) -> str | None:
    names = re.findall(r"\{(\w+)(?::[^}]*)?\}", path)
    if any(name not in values for name in names):
        return None
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values[m.group(1)], path)


def test_no_secret_in_logs_or_responses(services, clean_db, identity_and_providers):
    emulator = identity_and_providers
    port, refused_port = free_port(), free_port()
    settings = _settings(services, emulator.base_url, port, OIDC_SECRET)
    refused_settings = _settings(services, emulator.base_url, refused_port, WRONG_OIDC_SECRET)
    secrets = _secrets(settings)
    responses: list[tuple[str, httpx.Response]] = []

    assert _leaks(secrets, "control", f"…{SESSION_SECRET[7:21]}…") == ["session secret in control"]  # it can fail
    assert _leaks(secrets, "the settings' repr", repr(settings) + str(settings)) == []

    async def syncs() -> None:
        engine = create_engine(services.database_url)
        ctx = SyncContext(settings=settings, sessionmaker=session_factory(engine), backoff_base=0.01)
        try:
            for provider in registry.PROVIDERS:
                if registry.configured(settings, provider):
                    if provider.mappings_before_sync:
                        await runner.run_mappings(ctx, provider, None)
                    await runner.run_incremental(ctx, provider, None)
            for provider_name in ("anthropic", "cursor", "github"):  # provider faults: every sync fails somewhere
                for kind in ("500", "403", "malformed"):
                    emulator.state.add_fault(provider_name, "*", kind, count=50)
                    await runner.run_incremental(ctx, registry.get(provider_name), None)
                    emulator.state.clear_faults()
        finally:
            await engine.dispose()

    configure_logging("production")  # as the worker and the web app configure it (create_app does it again)
    with captured_log_lines() as lines:
        run_async(syncs())
        app = create_app(settings)
        with ThreadedServer(app, health_path="/healthz", port=port):
            ada = sign_in(f"http://127.0.0.1:{port}", "ada@example.com")
            responses.append(("sign-in", ada.last_response))  # type: ignore[attr-defined]
            values = {"email": "ada@example.com", "owner": "acme", "repo": "web", "slug": "x", "import_id": "0" * 32}
            for route in app.routes:
                if "GET" not in getattr(route, "methods", ()) or route.path.startswith("/static"):
                    continue
                path = _fill(route.path, values)
                if path is not None:
                    responses.append((path, ada.get(path)))
            for path in ("/no-such-page", "/team?page=%C2%B2", "/users/nobody%40example.com", "/api/v1/nope"):
                responses.append((path, ada.get(path)))
            responses.append(("forged callback", ada.get("/auth/callback?code=forged&state=forged")))
            body, headers = webhook_request(WEBHOOK_SECRET, "ping", ping_payload(emulator.state.dataset))
            for label, sent_headers in (
                ("webhook", headers),
                ("webhook replay", headers),
                ("webhook bad signature", {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}),
            ):
                responses.append((label, ada.post("/webhooks/github", content=body, headers=sent_headers)))
            token = ada.cookies.get("abacus_csrf")
            sync_now = ada.post("/status/sync", data={"provider": "cursor", "kind": "sync", "_csrf_token": token})
            responses.append(("sync now", sync_now))
            ada.close()
        with ThreadedServer(create_app(refused_settings), health_path="/healthz", port=refused_port):
            client = httpx.Client(base_url=f"http://127.0.0.1:{refused_port}", timeout=20)
            login = client.get("/auth/login", params={"login_hint": "ada@example.com"})
            callback = httpx.get(login.headers["location"], timeout=20).headers["location"]
            refused = client.get(callback)
            assert refused.status_code in (302, 303, 400)  # refused, not signed in, not a server error
            responses.append(("refused sign-in", refused))
            client.close()

    assert len(responses) > 30, "the route enumeration found too little to be a real check"
    assert any(line.get("level") in ("warning", "error") for line in lines), "the failing syncs logged nothing"
    found: list[str] = []
    for number, line in enumerate(lines):
        found += _leaks(secrets, f"log line {number} ({line.get('event')})", json.dumps(line, default=str))
    for label, response in responses:
        found += _leaks(secrets, f"the body of {label} ({response.status_code})", response.text)
        found += _leaks(secrets, f"the headers of {label}", "\n".join(f"{k}: {v}" for k, v in response.headers.items()))
    assert found == []
