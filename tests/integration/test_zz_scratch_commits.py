from tests.integration.pages_fixtures import *  # noqa: F403


def test_smoke(page_client, database_url):
    for url in ["/commits", "/commits?range=1y&sort=fullName&dir=asc&cols=fullName,totalCommits,totalAdditions",
                "/repositories/acme/web", "/repositories/acme/web?range=1y&filter=ai&page=2",
                "/api/v1/stats/commits?comparison=true", "/api/v1/commits/trends?range=7d", "/api/v1/commits/pivot",
                "/api/v1/repositories/acme/api?commits_limit=3", "/export/commits.csv", "/repositories/github/acme/web?range=7d",
                "/repositories/acme/nope", "/commits?sort=bogus", "/api/v1/commits/pivot?limit=0"]:
        r = page_client.get(url, follow_redirects=False)
        name = url.replace("/", "_").replace("?", "Q")[:80]
        open(f"/tmp/cm/{name}.out", "w").write(f"{r.status_code}\n{dict(r.headers)}\n{r.text}")
        print(url, r.status_code, len(r.text))
    r = page_client.get("/commits?search=infra", headers={"HX-Request": "true", "HX-Target": "repo-table"})
    open("/tmp/cm/htmx_table.out", "w").write(r.text)
