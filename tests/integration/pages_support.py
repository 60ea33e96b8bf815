"""Helpers of the page tests, imported by name (the fixtures `seeded_module`, `page_app` and `page_client` are in
tests/integration/conftest.py): SQL for computing expected values independently of the app, GETs that must answer
200, signing a Litestar TestClient in through the OIDC emulator, and reading the cards and charts of a page."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx
from litestar.testing import TestClient
from lxml.html import HtmlElement
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import dom


def sql_rows(database_url: str, statement: str, **params: Any) -> list[Any]:
    """Run one SQL statement on its own connection (for computing expected values independently of the app)."""

    async def run() -> list[Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(statement), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def sql_value(database_url: str, statement: str, **params: Any) -> Any:
    rows = sql_rows(database_url, statement, **params)
    return rows[0][0] if rows else None


def get_ok(client: Any, url: str, **kwargs: Any) -> str:
    """The body of a GET that must answer 200 (else the assertion shows the start of the body)."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.text[:500]
    return response.text


def sign_in_test_client(client: TestClient, email: str) -> None:
    """/auth/login on the app → the emulator over HTTP → /auth/callback on the app; leaves the session cookie set."""
    login = client.get("/auth/login", params={"login_hint": email}, follow_redirects=False)
    assert login.status_code == 302, login.text
    back = httpx.get(login.headers["location"], follow_redirects=False, timeout=20)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["location"])
    done = client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert done.status_code == 303, done.text


# ---- reading the pages (through the HTML parser in tests/dom.py) ----------------------------------------------------


def stat_card(page: dom.Node, label: str) -> HtmlElement:
    """The first stat card (`div.card.stat`) whose label starts with `label`."""
    for card in dom.select(page, "div.card.stat"):
        if dom.text(dom.first(card, ".card-label")).startswith(label):
            return card
    raise AssertionError(f"no stat card {label!r}")


def card_value_title(card: HtmlElement) -> tuple[str, str | None]:
    """The big value of a card (without its `<small>` unit) and its exact-value tooltip (None when it has none)."""
    value = dom.first(card, ".stat-value")
    shown = value.text or ""
    for child in value:
        if child.tag == "small":
            break
        shown += child.text_content() + (child.tail or "")
    return shown.strip(), value.get("title")


def card_delta(card: HtmlElement) -> str | None:
    """The text of the card's change badge (up, down or neutral), None when it shows none."""
    found = dom.select(card, "span.delta.up, span.delta.down, span.delta.neutral")
    return found[0].text_content() if found else None


def svg_titles(node: dom.Node) -> list[str]:
    """The tooltip texts of the parts of every SVG inside (bars, segments, lines), in document order, lines kept;
    each chart's own summary title (`svg > title`) is left out (see `svg_summaries`)."""
    return [title.text_content() for title in dom.select(node, "svg title") if title.getparent().tag != "svg"]


def svg_summaries(node: dom.Node) -> list[str]:
    """The accessible summary of every chart inside: its `<title>`, which must equal its `aria-label`."""
    found = []
    for svg in dom.select(node, "svg[role=img]"):
        title = dom.first(svg, "title")
        assert title.getparent() is svg and title.text_content() == svg.get("aria-label"), svg.get("aria-label")
        found.append(title.text_content())
    return found


def card_titled(page: dom.Node, heading: str) -> HtmlElement:
    """The card (`.card`) whose heading (`.card-head h2`) reads exactly `heading`."""
    found = []
    for h2 in dom.select(page, ".card-head h2"):
        if dom.text(h2).replace("ⓘ", "").strip() == heading:  # the heading's definition link left out
            found += [a for a in h2.iterancestors() if "card" in (a.get("class") or "").split()][:1]
    assert len(found) == 1, f"expected one card headed {heading!r}, found {len(found)}"
    return found[0]


def hrefs(node: dom.Node) -> list[str]:
    """The (decoded) href of every link inside, in document order."""
    return [a.get("href") for a in dom.select(node, "a[href]")]


def store_usage_rows(database_url: str, *rows: Any, live: bool = False) -> None:
    """Write `rows` (UsageRow) through the sync store path, in one transaction, as a sync would (`live`: marked as
    the OTel rebuild job marks its writes, `abacus.db.live_write`)."""
    from abacus.db import create_engine, live_write, session_factory
    from abacus.sync.usage_store import store_usage

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db, db.begin():
                if live:
                    await live_write(db)
                await store_usage(db, list(rows))
        finally:
            await engine.dispose()

    asyncio.run(run())


def laptop_key_usage(person: str = "grace") -> Any:
    """Claude Code usage of an API key named after a person (`<person>-laptop`), today: what Mappings suggests."""
    from decimal import Decimal

    from abacus.records import UsageRow
    from tests.seed import TODAY

    return UsageRow(
        date=TODAY,
        identity=f"claude_code:{person}-laptop",
        tool="claude_code",
        model="claude-sonnet-4",
        raw_model="claude-sonnet-4",
        input_tokens=500,
        cost=Decimal("0.5"),
        tool_record_id=f"{person}-laptop-1",
        organization_id="claude_code:default",
    )
