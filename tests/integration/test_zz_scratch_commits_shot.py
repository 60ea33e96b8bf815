from playwright.sync_api import sync_playwright

from tests import seed
from tests.conftest import app_settings, sign_in
from tests.integration.commits_truth import edge_rows  # noqa: F401
from tests.integration.pages_fixtures import *  # noqa: F403
from tests.support import ThreadedServer, free_port


def test_shot(services, oidc_server, edge_rows):  # noqa: F811
    from abacus.app import create_app
    port = free_port()
    app = create_app(app_settings(services, f"{oidc_server.url}/oidc", base_url=f"http://127.0.0.1:{port}"))
    app.state.now = lambda: seed.NOW
    with ThreadedServer(app, health_path="/healthz", port=port) as server:
        client = sign_in(server.url, "ada@example.com")
        cookies = [{"name": k, "value": v, "url": server.url} for k, v in client.cookies.items()]
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            page.context.add_cookies(cookies)
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server.url + "/commits")
            page.screenshot(path="/tmp/cm/commits.png", full_page=True)
            page.fill("input[name=search]", "infra")
            page.wait_for_timeout(1200)
            print("URL after search", page.url)
            page.click("text=90d")
            page.wait_for_timeout(1000)
            print("URL after range", page.url)
            page.screenshot(path="/tmp/cm/commits2.png", full_page=True)
            page.goto(server.url + "/repositories/acme/web")
            page.screenshot(path="/tmp/cm/repo.png", full_page=True)
            page.select_option("select[name=filter]", "ai")
            page.wait_for_timeout(1000)
            print("URL after filter", page.url)
            page.click("text=7d")
            page.wait_for_timeout(1000)
            print("URL after range", page.url)
            page.goto(server.url + "/repositories/acme/web?range=1y")
            page.screenshot(path="/tmp/cm/repo1y.png", full_page=False)
            print("console errors", errors)
            b.close()
