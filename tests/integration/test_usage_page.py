from __future__ import annotations

from tests.integration.pages_fixtures import *  # noqa: F403


def test_smoke(page_client):
    for url, name in [("/usage", "usage_models"), ("/usage?view=tools", "usage_tools"), ("/usage?range=1y&view=tools", "usage_tools_1y"),
                      ("/api/v1/stats?comparison=true", "stats"), ("/api/v1/stats/lifetime", "life"), ("/api/v1/trends?range=7d", "trends"),
                      ("/api/v1/models", "models"), ("/api/v1/models/trends?view=tools&range=7d", "mt"), ("/export/usage.csv?range=7d", "csv"),
                      ("/api/openapi.json", "openapi"), ("/?range=1y", "dash1y")]:
        r = page_client.get(url)
        assert r.status_code == 200, (url, r.text[:3000])
        open(f"/tmp/scratch/{name}.out", "w").write(r.text)
