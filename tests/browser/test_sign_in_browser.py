from tests.browser.browser_support import browser_sign_in, screenshot


def test_sign_in_through_the_emulator_page_shows_the_overview(page, live_app):
    page.goto(f"{live_app.url}/")
    assert "/sign-in" in page.url
    screenshot(page, "sign-in")
    browser_sign_in(page, live_app.url, "ada@example.com")
    assert page.get_by_role("heading", name="Overview").is_visible() or page.locator("main").is_visible()
    assert "ada@example.com" in page.content()
    screenshot(page, "overview-signed-in")


def test_refused_domain_sees_a_403_page(page, live_app):
    page.goto(f"{live_app.url}/sign-in")
    page.get_by_role("link", name="Continue with").click()
    page.get_by_label("Email").fill("mallory@evil.example")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "Access denied" in page.content()
    page.goto(f"{live_app.url}/")
    assert "/sign-in" in page.url
