from playwright.sync_api import sync_playwright
from tests.integration.pages_fixtures import *  # noqa: F403
from tests.support import ThreadedServer, free_port
from tests.conftest import app_settings, sign_in
from dataclasses import replace

def test_shots(services, oidc_server, seeded_module):
    from abacus.app import create_app
    from tests import seed
    port = free_port()
    app = create_app(app_settings(services, f"{oidc_server.url}/oidc", base_url=f"http://127.0.0.1:{port}"))
    app.state.now = lambda: seed.NOW
    with ThreadedServer(app, health_path="/healthz", port=port) as server:
        client = sign_in(server.url, "ada@example.com")
        cookies = [{"name": c.name, "value": c.value, "url": server.url} for c in client.cookies.jar]
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
            ctx = b.new_context(viewport={"width": 1400, "height": 1000})
            ctx.add_cookies(cookies)
            page = ctx.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            for name, url in [("team", "/team?cols=email,totalTokens,totalCost,split,claudeCodeTokens,cursorTokens,tool_codex,daysActive,avgTokensPerDay,lastActive"),
                              ("user", "/users/ada%40example.com"), ("raw", "/users/ada%40example.com?tab=raw"),
                              ("amb", "/users/nobody"), ("user1y", "/users/ada%40example.com?range=1y")]:
                page.goto(server.url + url)
                page.screenshot(path=f"/tmp/scratch/{name}.png", full_page=True)
            # htmx interactions
            page.goto(server.url + "/team")
            page.fill("input[name=search]", "a_")
            page.wait_for_timeout(1200)
            print("after search url", page.url, page.locator("#team-table tbody tr").count())
            page.click("text=7d")
            page.wait_for_timeout(800)
            print("after 7d url", page.url)
            page.click("#team-table th a:has-text('Cost')") if page.locator("#team-table th a:has-text('Cost')").count() else None
            page.wait_for_timeout(800)
            print("after sort", page.url)
            page.goto(server.url + "/users/ada%40example.com?tab=raw")
            page.select_option("select[name=tool]", "cursor")
            page.wait_for_timeout(800)
            print("after select", page.url, page.locator("#raw-usage tbody tr").count())
            page.click("text=Next")
            page.wait_for_timeout(800)
            print("after next", page.url)
            page.click("text=Overview")
            page.wait_for_timeout(800)
            print("after overview", page.url)
            print("console errors", errors)
            b.close()
