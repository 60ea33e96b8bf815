"""Playwright (Python) driving the system Chromium; skipped with a reason when it is missing (CI installs it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("ABACUS_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (ABACUS_REQUIRE_BROWSER=1) but `chromium` is not on PATH")
        pytest.skip("no Chromium found (install Debian's `chromium` package to run browser tests)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    # Module-scoped: Playwright's sync API owns an event loop while it runs, which async tests cannot share.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page, base_url: str, email: str = "ada@example.com") -> None:  # type: ignore[no-untyped-def]
    """Sign in the way a person does: sign-in page → identity provider's chooser → back on Abacus."""
    page.goto(f"{base_url}/sign-in")
    page.get_by_role("link", name="Continue with").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
