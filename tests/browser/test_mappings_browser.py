"""The Mappings assistant in Chromium over the synced demo data: no serious/critical axe violation and no sideways
scroll at desktop and phone sizes; "Accept all" and "Remove" ask exactly once (no browser confirm dialog), with
JavaScript and without; "Ignore as bot" and "Not a bot" move an identity between the two lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import ADMIN, browser_sign_in
from tests.browser.test_accessibility_browser import SIZES, axe_violations, sideways_overflow


@pytest.fixture(scope="module")
def admin(browser: Any, demo_app: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    page.set_default_timeout(15000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs  # type: ignore[attr-defined]
    browser_sign_in(page, demo_app.url, ADMIN)
    yield page
    context.close()


@pytest.fixture(scope="module")
def admin_without_js(browser: Any, demo_app: Any) -> Iterator[Any]:
    signer = browser.new_context(viewport=SIZES["desktop"])
    page = signer.new_page()
    browser_sign_in(page, demo_app.url, ADMIN)
    cookies = signer.cookies()
    signer.close()
    context = browser.new_context(viewport=SIZES["desktop"], java_script_enabled=False)
    context.add_cookies(cookies)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_the_assistant_passes_axe_and_fits_the_screen(admin: Any, demo_app: Any, size: str) -> None:
    admin.set_viewport_size(SIZES[size])
    admin.goto(f"{demo_app.url}/mappings")
    assert axe_violations(admin) == []
    assert sideways_overflow(admin) <= 0
    admin.set_viewport_size(SIZES["desktop"])


def test_accept_all_asks_once_on_the_page_then_applies(admin: Any, demo_app: Any) -> None:
    admin.goto(f"{demo_app.url}/mappings")
    accept_all = admin.get_by_role("button", name="Accept all")
    if accept_all.count() == 0:
        pytest.skip("the demo data left nothing to suggest")
    accept_all.click()
    step = admin.locator(".confirm-step")
    expect(step).to_contain_text("suggested mapping(s)?")
    step.get_by_role("link", name="Cancel").click()
    expect(admin.locator(".confirm-step")).to_have_count(0)
    admin.get_by_role("button", name="Accept all").click()
    admin.locator(".confirm-step").get_by_role("button", name="mapping(s)").click()
    expect(admin.locator(".alert-ok")).to_contain_text("Accepted")
    assert admin.dialogs == [], "no browser confirm on top of the page's own step"  # type: ignore[attr-defined]


def test_ignore_as_bot_and_back(admin: Any, demo_app: Any) -> None:
    admin.goto(f"{demo_app.url}/mappings")
    rows = admin.locator("section.card", has_text="Unmapped identities").locator("tbody tr")
    if rows.count() == 0:
        pytest.skip("every demo identity is mapped")
    first = rows.first
    identity = first.locator("td").nth(1).inner_text()
    first.get_by_role("button", name="Ignore as bot").click()
    bots = admin.locator("section.card", has_text="Ignored as bots")
    expect(bots).to_contain_text(identity)
    bots.locator("tr", has_text=identity).get_by_role("button", name="Not a bot").click()
    expect(admin.locator("section.card", has_text="Unmapped identities")).to_contain_text(identity)


def test_remove_asks_once_without_javascript(admin_without_js: Any, demo_app: Any) -> None:
    page = admin_without_js
    page.goto(f"{demo_app.url}/mappings?status=mapped")
    rows = page.locator("section.card", has_text="Existing mappings").locator("tbody tr")
    if rows.count() == 0:
        pytest.skip("no mappings in the demo data")
    before = rows.count()
    rows.first.get_by_role("button", name="Remove").click()
    step = page.locator(".confirm-step")
    expect(step).to_contain_text("Remove the mapping of")
    step.get_by_role("button", name="Yes, remove it").click()
    page.goto(f"{demo_app.url}/mappings?status=mapped")
    expect(page.locator("section.card", has_text="Existing mappings").locator("tbody tr")).to_have_count(before - 1)
