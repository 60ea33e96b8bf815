from tests.integration.pages_fixtures import *  # noqa: F403

def test_smoke(page_client, database_url):
    for name, url in [("user", "/users/ada%40example.com"), ("user90", "/users/ada%40example.com?range=1y"),
                      ("raw", "/users/ada%40example.com?tab=raw&tool=cursor"), ("local", "/users/ada"),
                      ("nobody", "/users/nobody"), ("csv", "/export/team.csv?search=a")]:
        r = page_client.get(url, follow_redirects=False)
        print(name, r.status_code, r.headers.get("location"))
        open(f"/tmp/scratch/{name}.html", "w").write(r.text)
