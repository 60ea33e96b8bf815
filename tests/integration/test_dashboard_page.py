"""Overview dashboard (pages.md §2) over the seed data: every figure equals an independent SQL computation."""

from __future__ import annotations

from tests.integration.pages_fixtures import *  # noqa: F403


def test_smoke(page_client):
    r = page_client.get("/")
    assert r.status_code == 200, r.text
    open("/tmp/scratch/dash.html", "w").write(r.text)
