"""Attacks on every write the app offers, found by enumerating the app (attack_support.py): CSRF on every unsafe
route (no token, a wrong token, a token without its cookie → 403 and nothing changed), every admin action as a member
(403 and nothing changed), and every form the app renders submitted with missing and hostile fields (never a 500).
The live app runs over the seed data set; "nothing changed" compares every table of the database and the job queue."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from abacus.app import create_app
from tests.integration.attack_support import (
    UNSAFE,
    Form,
    app_routes,
    csrf_exempt,
    page_forms,
    page_routes,
    state_fingerprint,
)
from tests.support import app_settings

MEMBER = "grace@example.com"  # not in ABACUS_ADMIN_EMAILS of tests/support.py dev_env()
ADMIN = "ada@example.com"
# Unsafe routes a signed-in member may use; every other write must be admin-only.
MEMBER_WRITES = {("POST", "/auth/logout")}
HOSTILE_VALUES = [
    "",
    " ",
    "\x00",
    "a\x00b@example.com",
    "x" * 10_000,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "-1",
    "9" * 5000,
    "²",
    "١٠",
    "ａｄａ@example.com",
    "ADA@EXAMPLE.COM",
    "../../etc/passwd",
    "%00",
    "\r\nX-Injected: 1",
    "🙂" * 50,
    "unmapped:claude_code:x",
    "=cmd|' /C calc'!A0",
]
HOSTILE_FILES = [
    ("empty.csv", b""),
    ("nul.csv", b"\x00" * 64),
    ("binary.csv", bytes(range(256)) * 4),
    ("header-only.csv", b"Date,User,Kind\r\n"),
    ("bom.csv", b"\xef\xbb\xbfDate,Email\n2025-13-01,\x00@x\n"),
    ("latin1.csv", "Date,Email\n2025-01-01,jos\xe9@example.com\n".encode("latin-1")),
]


@pytest.fixture(scope="module")
def app_table(services):
    """The app's route table (a fresh app: routes only, nothing is served)."""
    return create_app(app_settings(services, "http://127.0.0.1:9/oidc"))


@pytest.fixture(scope="module")
def live(live_app, seeded_module):
    return live_app


def _client(base_url: str, email: str) -> httpx.Client:
    from tests.support import sign_in

    client = sign_in(base_url, email)
    assert client.last_response.status_code == 303  # type: ignore[attr-defined]
    assert client.get("/").status_code == 200  # sets the CSRF cookie
    return client


@pytest.fixture(scope="module")
def admin(live):
    client = _client(live.url, ADMIN)
    yield client
    client.close()


@pytest.fixture(scope="module")
def member(live):
    client = _client(live.url, MEMBER)
    yield client
    client.close()


@pytest.fixture(scope="module")
def rendered_forms(app_table, admin) -> list[Form]:
    """Every form of every page the admin sees (path parameters from the seed; Mappings also with all rows)."""
    urls = []
    for route in page_routes(app_table):
        urls.append(route.concrete())
    urls.append("/mappings?status=all")
    forms: dict[str, Form] = {}
    for url in urls:
        response = admin.get(url)
        if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        for form in page_forms(url, response.text):
            forms.setdefault(form.key, form)
    return list(forms.values())


def _form_for(forms: list[Form], method: str, path: str) -> Form | None:
    return next((f for f in forms if f.method == method and f.action == path), None)


def _send(client: httpx.Client, method: str, path: str, form: Form | None, headers: dict[str, str]) -> httpx.Response:
    if form is not None and form.files:
        files = {name: ("a.csv", b"Date,Email\n", "text/csv") for name in form.files}
        return client.request(method, path, data=form.fields, files=files, headers=headers)
    return client.request(method, path, data=form.fields if form else {}, headers=headers)


def _fingerprint(services) -> dict[str, Any]:
    return state_fingerprint(services.database_url, services.redis_url)


def test_the_app_offers_writes_and_forms(app_table, rendered_forms):
    unsafe = [r for r in app_routes(app_table) if r.method in UNSAFE]
    assert len(unsafe) >= 6
    # "Sync now" forms appear only for configured providers (none in this app): its route is still attacked below
    assert {f.action for f in rendered_forms if f.method == "POST"} >= {"/auth/logout", "/mappings", "/mappings/import"}


def test_every_write_but_sign_out_is_admin_only(app_table):
    exempt = csrf_exempt(app_table)
    for route in app_routes(app_table):
        if route.method not in UNSAFE or route.path in exempt:
            continue
        if (route.method, route.path) in MEMBER_WRITES:
            assert not route.admin_only
        else:
            assert route.admin_only, f"{route.method} {route.path} is a write a member can reach"


def test_csrf_on_every_unsafe_route(app_table, admin, rendered_forms, services):
    """As the admin (who may do everything): without a valid token every unsafe route is 403 and changes nothing."""
    exempt = csrf_exempt(app_table)
    token = admin.cookies.get("abacus_csrf")
    assert token
    tried = 0
    for route in app_routes(app_table):
        if route.method not in UNSAFE or route.path in exempt:
            continue
        path = route.concrete()
        form = _form_for(rendered_forms, route.method, route.path)
        before = _fingerprint(services)
        attempts = {
            "no token": {},
            "wrong token": {"x-csrftoken": "forged-" + token[7:]},
            "empty token": {"x-csrftoken": ""},
            "htmx without token": {"HX-Request": "true"},
            "cross-site origin": {"Origin": "https://evil.example", "Referer": "https://evil.example/"},
        }
        for what, headers in attempts.items():
            response = _send(admin, route.method, path, form, headers)
            assert response.status_code == 403, f"{route.method} {path} with {what} → {response.status_code}"
            assert "Traceback" not in response.text
            tried += 1
        # the right token in the header but the cookie gone (a cross-site request cannot read or set it)
        cookieless = httpx.Client(
            base_url=str(admin.base_url), cookies={"abacus_session": admin.cookies["abacus_session"]}
        )
        assert _send(cookieless, route.method, path, form, {"x-csrftoken": token}).status_code == 403
        tried += 1
        assert _fingerprint(services) == before, f"{route.method} {path} changed state without a CSRF token"
    assert admin.get("/").status_code == 200  # still signed in: sign-out without a token did nothing
    print(f"csrf: {tried} attempts")
    assert tried >= 30


def test_every_admin_action_as_a_member_is_403_and_changes_nothing(app_table, member, rendered_forms, services):
    token = member.cookies.get("abacus_csrf")
    admin_routes = [r for r in app_routes(app_table) if r.admin_only]
    assert {r.path for r in admin_routes} >= {"/mappings", "/status/sync"}
    before = _fingerprint(services)
    for route in admin_routes:
        path = route.concrete()
        form = _form_for(rendered_forms, route.method, route.path)
        for headers in ({"x-csrftoken": token}, {"x-csrftoken": token, "HX-Request": "true"}):
            response = _send(member, route.method, path, form, headers)
            assert response.status_code == 403, f"{route.method} {path} as a member → {response.status_code}"
            assert "Traceback" not in response.text
    assert _fingerprint(services) == before
    # and the member's pages do not offer the admin forms
    for page in ("/mappings", "/status"):
        html = member.get(page).text
        assert not [f for f in page_forms(page, html) if f.method == "POST" and f.action != "/auth/logout"], page


def _submissions(form: Form) -> list[tuple[str, dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]]:
    """(label, fields, files): nothing at all, each field missing, each field hostile, unknown extra fields."""
    files = [(name, ("a.csv", b"Date,Email\n", "text/csv")) for name in form.files]
    out: list[tuple[str, dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]] = [("nothing", {}, [])]
    for name in form.fields:
        out.append((f"without {name}", {k: v for k, v in form.fields.items() if k != name}, files))
        for value in HOSTILE_VALUES:
            out.append((f"{name}={value[:20]!r}", {**form.fields, name: value}, files))
        out.append((f"{name} twice", {**form.fields}, files))  # the repeated field is added in _submit
    for name in form.files:
        for filename, content in HOSTILE_FILES:
            out.append((f"{name}={filename}", form.fields, [(name, (filename, content, "text/csv"))]))
        out.append((f"{name} as text", {**form.fields, name: "not a file"}, []))
    out.append(("extra fields", {**form.fields, "is_admin": "1", "__proto__": "x", "email[]": "a"}, files))
    return out


def test_every_rendered_form_survives_missing_and_hostile_fields(app_table, admin, rendered_forms, services):
    token = admin.cookies.get("abacus_csrf") or ""
    tried = 0
    failures = []
    # a write no page rendered a form for here is still sent empty and with unknown fields
    unrendered = [
        Form(page="", method=r.method, action=r.concrete(), enctype="")
        for r in app_routes(app_table)
        if r.method in UNSAFE
        and r.path not in csrf_exempt(app_table)
        and not _form_for(rendered_forms, r.method, r.path)
    ]
    for form in [*rendered_forms, *unrendered]:
        if form.action == "/auth/logout":
            continue  # signing the admin out would end the run; its CSRF is covered above
        for label, fields, files in _submissions(form):
            if form.method == "GET":
                response = admin.get(form.action, params=fields)
                allowed = {200, 400}
            else:
                data: Any = fields
                if label.endswith(" twice"):
                    data = {k: [v, v + "x"] for k, v in fields.items()}
                headers = {"x-csrftoken": token}
                if files or form.files:
                    response = admin.request(
                        form.method, form.action, data=fields, files=files or None, headers=headers
                    )
                else:
                    response = admin.request(form.method, form.action, data=data, headers=headers)
                allowed = {200, 303, 400, 404, 413, 422}
            tried += 1
            if response.status_code not in allowed or "Traceback" in response.text:
                failures.append(f"{form.method} {form.action} {label} → {response.status_code}")
    assert not failures, "\n".join(failures)
    print(f"forms: {len(rendered_forms)} rendered + {len(unrendered)} unrendered writes, {tried} submissions")
    assert tried >= 100
    assert admin.get("/").status_code == 200
