"""The pages as a person uses them, in Chromium, over data synced from the emulators by the real sync code:
range swaps without reloads, back button, the team filter, the self-refreshing status panel, "Sync now", and
every main page with no console errors, CSP violations or layout slips (screenshots of every page at 1440 and 390 px:
test_accessibility_browser.py, test_accessibility_phone_browser.py)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from abacus.providers import registry, runner
from tests.browser.browser_support import ADMIN, browser_sign_in, screenshot, settle, sync_call
from tests.support import run_async

# Playwright's init scripts run outside the page's CSP, so this listener sees every violation on every document.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
});
"""
STAT_CARDS = "#page-body .stat"


class PageProblems:
    """Console errors, uncaught exceptions and failed responses of one browser page, with the URL they happened on."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.lines: list[str] = []
        page.add_init_script(CSP_LISTENER)
        page.on(
            "console",
            lambda msg: (
                msg.type == "error" and self.lines.append(f"console error: {msg.text} at {msg.location.get('url')}")
            ),
        )
        page.on("pageerror", lambda exc: self.lines.append(f"uncaught exception: {exc}"))
        page.on("requestfinished", lambda r: self._finished(r))
        page.on("requestfailed", lambda r: self._failed(r))

    def _finished(self, request: Any) -> None:
        response = request.response()
        if response is not None and response.status >= 400:
            self.lines.append(f"HTTP {response.status} for {request.method} {request.url}")

    def _failed(self, request: Any) -> None:
        if "ERR_ABORTED" not in (request.failure or ""):  # a poll cut short by navigating away is not a fault
            self.lines.append(f"request failed: {request.method} {request.url} {request.failure}")

    def collect(self) -> list[str]:
        """Everything recorded since the last call, plus the CSP violations of the current document."""
        csp = self.page.evaluate("window.__csp")
        found = self.lines + [f"CSP violation: {line}" for line in csp or []]
        if csp is None:
            found.append(f"the CSP listener is missing on {self.page.url}")
        self.lines = []
        self.page.evaluate("window.__csp = []")
        return found


@pytest.fixture()
def admin_page(page, demo_app):
    problems = PageProblems(page)
    browser_sign_in(page, demo_app.url, ADMIN)
    problems.collect()  # the identity provider's chooser page (another origin, no favicon) is not under test
    page.problems = problems
    return page


def card_texts(page: Any) -> list[str]:
    return [" ".join(text.split()) for text in page.locator(STAT_CARDS).all_text_contents()]


def mark_document(page: Any) -> None:
    """A marker that only survives if the page is never reloaded."""
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"


def test_range_buttons_swap_the_dashboard_in_place_and_back_restores_it(admin_page, demo_app):
    page = admin_page
    cards_30d = card_texts(page)
    assert len(cards_30d) == 4 and all("(30d)" in text for text in cards_30d), cards_30d
    picker = page.locator("#page-body .range-picker")
    expect(picker.get_by_role("link", name="30d", exact=True)).to_have_class(re.compile(r"\bactive\b"))
    mark_document(page)

    picker.get_by_role("link", name="7d", exact=True).click()
    page.wait_for_url(re.compile(r"\?range=7d$"))
    seven = page.locator("#page-body .range-picker").get_by_role("link", name="7d", exact=True)
    expect(seven).to_have_class(re.compile(r"\bactive\b"))
    expect(seven).to_have_attribute("aria-current", "true")
    expect(page.locator(STAT_CARDS).first).to_contain_text("(7d)")
    assert_not_reloaded(page)
    cards_7d = card_texts(page)
    assert all("(7d)" in text for text in cards_7d), cards_7d
    total_30d, total_7d = (page_value(cards[0]) for cards in (cards_30d, cards_7d))
    assert total_7d != total_30d, f"Total Tokens shows {total_7d} for both 7d and 30d"
    thirty = page.locator("#page-body .range-picker").get_by_role("link", name="30d", exact=True)
    assert seven.evaluate("e => getComputedStyle(e).color") != thirty.evaluate("e => getComputedStyle(e).color"), (
        "the active range button looks like the others"
    )
    screenshot(page, "dashboard-7d")

    page.go_back()
    page.wait_for_url(lambda url: "range=7d" not in url)
    expect(page.locator(STAT_CARDS).first).to_contain_text("(30d)")
    assert card_texts(page) == cards_30d
    expect(page.locator("#page-body .range-picker").get_by_role("link", name="30d", exact=True)).to_have_class(
        re.compile(r"\bactive\b")
    )
    assert urlsplit(page.url).path == "/"
    assert page.problems.collect() == []


def page_value(card_text: str) -> str:
    """The big number of a stat card's text ("Total Tokens (7d) 1.2M ↑ 12% …" → "1.2M")."""
    return card_text.split(")", 1)[1].split()[0]


def test_team_filter_narrows_the_table_in_place_and_keeps_the_input(admin_page, demo_app):
    page = admin_page
    page.goto(f"{demo_app.url}/team")
    emails = page.locator("#team-table tbody td.email").all_text_contents()
    assert len(emails) >= 3, emails
    needle = narrowing_substring(emails)
    mark_document(page)

    box = page.get_by_role("searchbox", name="Filter users")
    box.click()
    box.press_sequentially(needle, delay=60)
    page.wait_for_url(re.compile(r"[?&]search=" + re.escape(needle)))
    expected = [e for e in emails if needle in e.lower()]
    expect(page.locator("#team-table tbody tr")).to_have_count(len(expected))
    remaining = page.locator("#team-table tbody td.email").all_text_contents()
    assert len(remaining) < len(emails)
    assert all(needle in email.lower() for email in remaining), (needle, remaining)
    assert_not_reloaded(page)
    assert box.input_value() == needle
    assert page.evaluate("document.activeElement && document.activeElement.name") == "search", (
        "the filter box lost focus after the swap"
    )
    expect(page.locator("#team-table tfoot")).to_contain_text(f"Total ({len(expected)})")
    screenshot(page, "team-filtered")
    assert page.problems.collect() == []


def narrowing_substring(emails: list[str]) -> str:
    """A short piece of one email that some but not all of the emails contain."""
    for email in emails:
        local = email.split("@")[0].lower()
        for size in (3, 4, 5, 6):
            for start in range(0, len(local) - size + 1):
                piece = local[start : start + size]
                if 0 < sum(piece in e.lower() for e in emails) < len(emails) and "." not in piece:
                    return piece
    raise AssertionError(f"no substring narrows {emails}")


def cursor_state(database_url: str) -> list[tuple[Any, ...]]:
    """Cursor's sync_state rows as the status page reads them."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def read() -> list[tuple[Any, ...]]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text(
                        "SELECT id, records_last_run, last_success_at FROM sync_state WHERE id LIKE 'cursor%' ORDER BY"
                        " id"
                    )
                )
                return [tuple(row) for row in rows]
        finally:
            await engine.dispose()

    return run_async(read())


def test_status_panel_refreshes_itself_after_a_sync_finishes(admin_page, demo_app):
    page = admin_page
    page.goto(f"{demo_app.url}/status")
    card = page.locator("#status-panel section.source").filter(has=page.get_by_role("heading", name="Cursor"))
    expect(card).to_contain_text("Last synced")
    before = " ".join(card.text_content().split())
    mark_document(page)

    # A real sync, outside the page: re-read the last 10 days of Cursor, so "records last run" changes.
    state_before = cursor_state(demo_app.database_url)
    today = datetime.now(UTC).date()
    cursor = registry.get("cursor")
    results = run_async(sync_call(demo_app.settings, runner.run_range, cursor, today - timedelta(days=9), today))
    assert all(r.ok for r in results), results
    assert cursor_state(demo_app.database_url) != state_before, "the sync did not change Cursor's sync_state"

    started = time.monotonic()
    deadline = started + 15
    while " ".join(card.text_content().split()) == before and time.monotonic() < deadline:
        page.wait_for_timeout(250)
    after = " ".join(card.text_content().split())
    assert after != before, f"the status panel did not refresh within 15 s: {after}"
    print(f"status panel refreshed {time.monotonic() - started:.1f}s after the sync")
    assert_not_reloaded(page)
    assert page.url == f"{demo_app.url}/status"
    assert page.problems.collect() == []


def test_admin_sync_now_queues_a_job_and_says_so(admin_page, demo_app):
    page = admin_page
    page.goto(f"{demo_app.url}/status")
    buttons = page.locator("#status-panel").get_by_role("button", name="Sync now")
    expect(buttons).to_have_count(4)  # Claude Code, Cursor, GitHub, GitHub Copilot
    mark_document(page)
    buttons.nth(1).click()
    expect(page.locator("#status-panel [role=status]")).to_contain_text("Queued")
    assert_not_reloaded(page)
    screenshot(page, "status-sync-queued")
    assert page.problems.collect() == []


def test_a_member_sees_no_sync_buttons(page, demo_app):
    browser_sign_in(page, demo_app.url, "grace@example.com")
    page.goto(f"{demo_app.url}/status")
    expect(page.get_by_role("heading", name="Data Sources")).to_be_visible()
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    expect(page.get_by_role("link", name="Mappings")).to_have_count(0)


def test_every_main_page_renders_without_console_errors(admin_page, demo_app):
    page = admin_page
    base = demo_app.url
    page.goto(f"{base}/team")
    user_href = page.locator("#team-table tbody td.email a").first.get_attribute("href")
    page.goto(f"{base}/commits")
    repo_href = page.locator("a[href^='/repositories/']").first.get_attribute("href")
    page.goto(f"{base}/tips")
    guide_href = page.locator("main a[href^='/tips/']").first.get_attribute("href")
    page.problems.collect()

    pages = [
        ("dashboard", "/"),
        ("usage-models", "/usage"),
        ("usage-tools", "/usage?view=tools"),
        ("team", "/team"),
        ("user-detail", user_href),
        ("commits", "/commits"),
        ("repository", repo_href),
        ("seats", "/seats"),
        ("budgets", "/budgets"),
        ("teams", "/teams"),
        ("status", "/status"),
        ("mappings", "/mappings"),
        ("tips", "/tips"),
        ("tip-guide", guide_href),
    ]
    failures: list[str] = []
    for name, path in pages:
        response = page.goto(f"{base}{path}")
        settle(page)
        if response is None or response.status != 200:
            failures.append(f"{name} {path}: HTTP {response.status if response else 'none'}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            print(f"{name}: page scrolls sideways by {overflow}px at 1360px")
        # a card left inline (a link is inline unless styled) draws its border around each line: thin empty boxes
        inline_cards = page.evaluate(
            "[...document.querySelectorAll('.card')].filter(e => getComputedStyle(e).display === 'inline')"
            ".map(e => e.className)"
        )
        failures += [f"{name} {path}: card '{card}' is laid out inline" for card in inline_cards]
        # a grid's gap spaces its items; an item with its own top margin starts lower than its neighbours in the row
        pushed_down = page.evaluate(
            "[...document.querySelectorAll('.grid > *')].filter(e => parseFloat(getComputedStyle(e).marginTop) > 0)"
            ".map(e => e.className)"
        )
        failures += [f"{name} {path}: grid item '{item}' has a top margin" for item in pushed_down]
        # the stylesheet styles text fields by their type: one without a type is drawn as the browser's light box
        untyped = page.evaluate("[...document.querySelectorAll('main input:not([type])')].map(e => e.name)")
        failures += [f"{name} {path}: input '{field}' has no type" for field in untyped]
        failures += [f"{name} {path}: {line}" for line in page.problems.collect()]
    assert not failures, "\n".join(failures)


IN_VIEW = "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"


def test_a_question_or_refusal_after_a_swap_is_where_the_person_is_looking(admin_page, demo_app):
    """The Teams page asks "Remove team …?" and says why an add was refused above the teams; the person clicked far
    below. The swapped-in message takes the focus (htmx focuses [autofocus]), which scrolls it into view and lets a
    screen reader read it; the question's buttons are the next Tab stops."""
    page = admin_page
    page.goto(f"{demo_app.url}/teams")
    last = page.locator(".team-card").last
    last.get_by_role("button", name=re.compile(r"^Remove team ")).click()
    question = page.locator(".confirm-step")
    expect(question).to_be_focused()
    assert question.evaluate(IN_VIEW), "the question is out of sight"
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Yes, remove it")).to_be_focused()
    page.get_by_role("link", name="Cancel").click()
    expect(question).to_have_count(0)

    last = page.locator(".team-card").last
    last.get_by_label("Add person").fill("ada@intranet")  # the browser takes it, Abacus does not
    last.get_by_role("button", name=re.compile(r"^Add to ")).click()
    refusal = page.locator("#teams-body > .alert-error")
    expect(refusal).to_be_focused()
    assert refusal.evaluate(IN_VIEW), "the refusal is out of sight"
