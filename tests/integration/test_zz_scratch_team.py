from tests.integration.pages_fixtures import *  # noqa: F403

def test_smoke(page_client, database_url):
    r = page_client.get("/")
    assert r.status_code == 200, r.text
    assert "ada@example.com" in r.text
    print(sql_value(database_url, "select count(*) from usage_daily"))
