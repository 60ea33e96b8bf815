from tests.integration.pages_fixtures import *  # noqa: F403

def test_smoke(page_client, database_url):
    r = page_client.get("/team?cols=email,totalTokens,split,claudeCodeTokens,tool_codex,daysActive,avgTokensPerDay,lastActive&sort=tool_codex")
    assert r.status_code == 200, r.text
    open("/tmp/scratch/team.html", "w").write(r.text)
    r = page_client.get("/team?search=A_", headers={"HX-Request": "true", "HX-Target": "team-table"})
    open("/tmp/scratch/team_frag.html", "w").write(r.text)
    r = page_client.get("/team?sort=bogus")
    print(r.status_code, r.text[-600:])
