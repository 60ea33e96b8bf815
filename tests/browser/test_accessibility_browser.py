"""Issue 11's acceptance, in Chromium at a desktop (1440×900) and a phone (390×844) size, over the synced demo data:
every page reachable from the nav, plus a person and a repository, has no axe-core violation of impact serious or
critical and is no wider than the screen; the Custom range popover opens and applies with real mouse clicks and
Escape closes it; after a keyboard-driven htmx swap focus is on the control's counterpart, never on <body>; the
phone menu and the column chips work without JavaScript.

The every-page check at the phone size and the sizes between run in test_accessibility_phone_browser.py, so that
another test worker takes them. One browser and one signed-in context per module (the viewport is resized, not
re-created). axe-core is the
vendored tests/browser/vendor/axe-4.14.1.min.js (MPL-2.0, see the README there), evaluated in each page by the
DevTools protocol, which the page's Content-Security-Policy does not apply to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.browser_support import ADMIN, browser_sign_in, screenshot, settle

AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text(encoding="utf-8")
SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
BLOCKING_IMPACTS = ("serious", "critical")
# Rules not run. Keep this empty unless a rule is being fixed elsewhere; say why and by whom.
EXCLUDED_RULES: dict[str, str] = {}

RUN_AXE = """async (excluded) => {
  const rules = Object.fromEntries(excluded.map((id) => [id, { enabled: false }]));
  const result = await axe.run(document, { resultTypes: ["violations"], rules });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " — " + (n.failureSummary || "").split("\\n")[1]),
    count: v.nodes.length,
  }));
}"""
WHAT_HAS_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "BODY";
  return el.tagName + " " + (el.getAttribute("aria-label") || el.textContent || "").trim().replace(/\\s+/g, " ");
}"""


@pytest.fixture(scope="module")
def signed_in(browser: Any, demo_app: Any) -> Iterator[Any]:
    """The module's one browser context, signed in as the admin the way a person does; starts at the desktop size."""
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    page.set_default_timeout(15000)
    browser_sign_in(page, demo_app.url, ADMIN)
    yield page
    context.close()


@pytest.fixture()
def app_page(signed_in: Any, request: Any) -> Any:
    """The signed-in page at the size named by the test's `size` parameter."""
    signed_in.set_viewport_size(SIZES[request.node.callspec.params["size"]])
    return signed_in


def pages_to_check(page: Any, base: str) -> list[str]:
    """Every page the main nav links to, plus the first person of the Team table, the first repository, a tip guide,
    the metric definitions and the API docs."""
    page.goto(f"{base}/team")
    person = page.locator("#team-table tbody td.email a").first.get_attribute("href")
    nav = [a.get_attribute("href") for a in page.locator("#mainnav a").all()]
    page.goto(f"{base}/commits")
    repository = page.locator("#repo-table a[href^='/repositories/']").first.get_attribute("href")
    page.goto(f"{base}/tips")
    guide = page.locator("main a[href^='/tips/']").first.get_attribute("href")
    paths = [*nav, person, repository, guide, "/definitions", "/api/docs"]
    assert len(nav) >= 7 and all(paths), paths  # Overview, Team, Usage, Commits, Tips, Status, Mappings
    return [p for p in paths if p]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SOURCE + "\n;0")
    return [v for v in page.evaluate(RUN_AXE, list(EXCLUDED_RULES)) if v["impact"] in BLOCKING_IMPACTS]


def sideways_overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def page_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.split("?")[0].lower()).strip("-") or "overview"


def every_page_passes_axe_and_fits_the_screen(page: Any, base: str, size: str) -> None:
    """The acceptance check at one size (the phone's runs in test_accessibility_phone_browser.py, so that another
    test worker takes it beside this module)."""
    page.set_viewport_size(SIZES[size])
    failures: list[str] = []
    for path in pages_to_check(page, base):
        response = page.goto(base + path)
        settle(page)
        assert response is not None and response.status == 200, path
        screenshot(page, f"a11y-{size}-{page_name(path)}")
        if (overflow := sideways_overflow(page)) > 0:
            failures.append(f"{path}: the page is {overflow}px wider than the {size} screen")
        for v in axe_violations(page):
            failures.append(f"{path}: axe {v['impact']} {v['id']} ×{v['count']} ({v['help']}): {v['nodes']}")
        if page.locator("main .range-custom").count():
            failures += custom_range_reachable(page, path)
    assert not failures, "\n".join(failures)


def test_every_page_passes_axe_and_fits_the_desktop(signed_in: Any, demo_app: Any) -> None:
    every_page_passes_axe_and_fits_the_screen(signed_in, demo_app.url, "desktop")


def custom_range_reachable(page: Any, path: str) -> list[str]:
    """Open the page's Custom range with a real click; its date inputs and Apply must be the topmost element where
    a mouse would click them (a trial click runs Playwright's hit test without acting); Escape closes it."""
    custom = page.locator("main .range-custom").first
    custom.locator("summary").click()
    problems = []
    try:
        for control in ("input[name=start]", "input[name=end]", "button[type=submit]"):
            custom.locator(control).click(trial=True, timeout=3000)
    except PlaywrightTimeout as exc:  # reported with the page; the other pages still run
        problems.append(f"{path}: a Custom range control cannot be clicked: {str(exc).splitlines()[0]}")
    page.keyboard.press("Escape")
    if custom.get_attribute("open") is not None:
        problems.append(f"{path}: Escape left the Custom range popover open")
    elif page.evaluate("document.activeElement && document.activeElement.tagName") != "SUMMARY":
        problems.append(f"{path}: after Escape focus is not on the Custom summary")
    return problems


@pytest.mark.parametrize("size", list(SIZES))
def test_custom_range_applies_with_real_clicks(app_page: Any, demo_app: Any, size: str) -> None:
    page = app_page
    page.goto(f"{demo_app.url}/team")
    custom = page.locator("#team-table .range-custom")
    custom.locator("summary").click()
    popover = custom.locator(".range-pop")
    expect(popover).to_be_visible()
    box = popover.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"], box

    start = custom.locator("input[name=start]")
    start.click()
    assert page.evaluate("document.activeElement.name") == "start", "the From date input did not take the click"
    end_value = custom.locator("input[name=end]").input_value()
    start.fill("2026-01-05" if end_value >= "2026-01-05" else end_value)
    wanted = start.input_value()
    custom.get_by_role("button", name="Apply").click()

    page.wait_for_url(re.compile(rf"[?&]start={wanted}&end={end_value}"))
    applied = page.locator("#team-table .range-custom")
    expect(applied).to_have_class(re.compile(r"\bactive\b"))
    expect(applied).not_to_have_attribute("open", "")
    expect(page.locator("#team-table .stat .card-label").first).not_to_contain_text("(30d)")
    assert page.evaluate(WHAT_HAS_FOCUS) != "BODY", "focus fell to <body> after Apply"


@pytest.mark.parametrize("size", list(SIZES))
def test_focus_follows_keyboard_driven_swaps(app_page: Any, demo_app: Any, size: str) -> None:
    page = app_page
    page.goto(f"{demo_app.url}/team")

    # The skip link is the first Tab stop and lands on <main>.
    page.keyboard.press("Tab")
    assert page.evaluate(WHAT_HAS_FOCUS) == "A Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    # A range button (a link with aria-current), activated with Enter.
    page.locator("#team-table .range-picker a", has_text="7d").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]range=7d"))
    expect(page.locator("#team-table .range-picker a[aria-current]")).to_have_text("7d")
    expect_focus(page, "A 7d")
    assert page.evaluate("document.activeElement.getAttribute('aria-current')") == "true"

    # A sort header, with Enter: its label gains the arrow, focus stays on it.
    page.locator("#team-table th a", has_text="Cost").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]sort=totalCost"))
    expect_focus(page, "A Cost ↓")

    # A column chip (a toggle button), with Space.
    chip = page.locator("#team-table button.chip", has_text="Cursor")
    pressed = chip.get_attribute("aria-pressed")
    chip.focus()
    page.keyboard.press("Space")
    flipped = "false" if pressed == "true" else "true"
    expect(page.locator("#team-table button.chip", has_text="Cursor")).to_have_attribute("aria-pressed", flipped)
    expect_focus(page, "BUTTON Cursor")
    assert page.evaluate("document.activeElement.getAttribute('aria-pressed')") == flipped

    # The Custom range, all by keyboard: open with Enter, Enter in a date field submits; focus lands on the summary.
    page.locator("#team-table .range-custom summary").focus()
    page.keyboard.press("Enter")
    page.locator("#team-table .range-custom input[name=start]").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]start="))
    expect_focus(page, "SUMMARY")


def expect_focus(page: Any, starts_with: str) -> None:
    """Wait (htmx settles after the swap) until the focused element's tag and name start with `starts_with`."""
    for _ in range(40):
        if page.evaluate(WHAT_HAS_FOCUS).startswith(starts_with):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"focus is on {page.evaluate(WHAT_HAS_FOCUS)!r}, expected {starts_with!r}")


def test_phone_menu_and_column_chips_work_without_javascript(browser: Any, signed_in: Any, demo_app: Any) -> None:
    context = browser.new_context(
        viewport=SIZES["phone"], java_script_enabled=False, storage_state=signed_in.context.storage_state()
    )
    try:
        page = context.new_page()
        page.goto(f"{demo_app.url}/")
        nav = page.locator("#mainnav")
        expect(nav).to_be_hidden()
        page.get_by_text("Menu", exact=True).click()
        expect(nav).to_be_visible()
        expect(page.get_by_role("searchbox", name="Search users")).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert sideways_overflow(page) == 0
        screenshot(page, "a11y-phone-menu-open")
        nav.get_by_role("link", name="Commits").click()
        page.wait_for_url(re.compile(r"/commits"))
        expect(page.get_by_role("heading", name="Commits", exact=True)).to_be_visible()

        additions = page.locator("#repo-table button.chip", has_text="Additions")
        expect(additions).to_have_attribute("aria-pressed", "false")
        additions.click()  # submits the chip's own GET form
        page.wait_for_url(re.compile(r"cols=[^&]*totalAdditions"))
        expect(page.locator("#repo-table button.chip", has_text="Additions")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#repo-table thead")).to_contain_text("Additions")
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop"])
def test_desktop_shows_the_nav_without_a_menu_button(app_page: Any, demo_app: Any, size: str) -> None:
    page = app_page
    page.goto(f"{demo_app.url}/")
    expect(page.locator(".navmenu > summary")).to_be_hidden()
    expect(page.locator("#mainnav").get_by_role("link", name="Team", exact=True)).to_be_visible()
    expect(page.get_by_role("searchbox", name="Search users")).to_be_visible()
    # The skip link is off-screen until focused.
    box = page.get_by_role("link", name="Skip to main content").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 0, box
