"""OTel identities on the Mappings page (beyond.md §7, issue 14): an account known only by `user.account_uuid` is
an unmapped identity like any other, with its provisional dollars; mapping it over HTTP moves its provisional rows
to the person in the mapping's transaction, and removing the mapping moves them back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text

from abacus.db import create_engine
from abacus.domain import otlp
from abacus.emulators.otel import Sample, ns
from tests import dom
from tests.integration.otel_support import map_otel_identity, store_and_rebuild
from tests.support import run_async

ACCOUNT = "5f0c2a1e-acct-0042"
MODEL = "claude-sonnet-4-5-20250929"


async def _sql(database_url: str, sql: str) -> list[Any]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def _export_and_rebuild(database_url: str) -> None:
    """Two OTel people: one by email, one by account only (a subscription seat without an email attribute)."""
    at = ns(datetime.now(UTC) - timedelta(minutes=10))
    samples = [
        Sample(otlp.COST, 2.5, at - 60_000_000_000, at, {"user.account_uuid": ACCOUNT, "model": MODEL}),
        Sample(otlp.TOKENS, 900, at - 60_000_000_000, at, {"user.account_uuid": ACCOUNT, "model": MODEL,
                                                             "type": "input"}),
        Sample(otlp.LINES, 7, at - 60_000_000_000, at, {"user.account_uuid": ACCOUNT, "type": "added"}),
        Sample(otlp.COST, 1.0, at - 60_000_000_000, at, {"user.email": "bo@example.com", "model": MODEL}),
    ]  # fmt: skip
    await store_and_rebuild(database_url, samples)


def _emails(database_url: str) -> dict[str, tuple[Decimal, int]]:
    rows = run_async(
        _sql(
            database_url,
            "SELECT u.email, sum(u.cost) AS cost, (SELECT sum(a.lines_added) FROM activity_daily a "
            "WHERE a.email = u.email) AS lines FROM usage_records u WHERE u.tool_record_id = 'otel' GROUP BY u.email",
        )
    )
    return {r.email: (r.cost, int(r.lines or 0)) for r in rows}


def _unmapped_rows(page: str) -> list[str]:
    """Rows of the page's tables (status=unmapped: the unmapped identities only) that name an OTel identity."""
    return [row for row in dom.texts(dom.parse(page), "tbody tr") if "otel" in row]


def test_an_otel_account_is_listed_unmapped_and_mapping_it_moves_its_provisional_rows(
    signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None
) -> None:
    run_async(_export_and_rebuild(database_url))
    assert _emails(database_url) == {
        f"unmapped:otel:{ACCOUNT}": (Decimal("2.500000"), 7),
        "bo@example.com": (Decimal("1.000000"), 0),
    }
    ada = signed_in("ada@example.com")
    page = ada.get("/mappings", params={"source": "otel", "status": "unmapped"})
    assert page.status_code == 200
    [listed] = _unmapped_rows(page.text)
    assert ACCOUNT in listed and "$2.50" in listed
    # (bo, known by an email, is a person, not an unmapped identity: the single row is the account's)

    token = ada.cookies.get("abacus_csrf")
    saved = map_otel_identity(ada, ACCOUNT, "Cy@Example.com")
    assert saved.status_code == 200
    assert "1 usage row," in saved.text  # the provisional row the mapping moved
    assert _emails(database_url) == {
        "cy@example.com": (Decimal("2.500000"), 7),
        "bo@example.com": (Decimal("1.000000"), 0),
    }
    assert _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text) == []
    person = ada.get("/users/cy@example.com")
    assert person.status_code == 200 and "$2.50" in person.text

    removed = ada.post(
        "/mappings/delete",
        data={"source": "otel", "external_id": ACCOUNT, "confirm": "yes", "_csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": "mapping-tables"},
    )
    assert removed.status_code == 200
    assert f"unmapped:otel:{ACCOUNT}" in _emails(database_url)
    [back] = _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text)
    assert ACCOUNT in back


def _personal_export(database_url: str) -> None:
    """A Max subscription on a personal address, outside ABACUS_ALLOWED_DOMAINS (example.com in tests)."""
    at = ns(datetime.now(UTC) - timedelta(minutes=10))
    attrs = {"user.email": "Dev.Home@gmail.com", "model": MODEL}
    run_async(store_and_rebuild(database_url, [Sample(otlp.COST, 4.0, at - 60_000_000_000, at, attrs)]))


def test_an_otel_email_outside_the_work_domains_is_listed_until_mapped(
    signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None
) -> None:
    _personal_export(database_url)
    ada = signed_in("ada@example.com")
    [listed] = _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text)
    assert "dev.home@gmail.com" in listed and "$4.00" in listed
    saved = map_otel_identity(ada, "dev.home@gmail.com", "dev@example.com")
    assert saved.status_code == 200 and "1 usage row," in saved.text
    assert _emails(database_url) == {"dev@example.com": (Decimal("4.000000"), 0)}
    assert _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text) == []


ACTIVITY_ACCOUNT = "9d1e-acct-activity-only"


def test_otel_people_who_send_only_activity_are_listed_and_mapping_moves_their_activity(
    signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None
) -> None:
    """An exporter filtered to sessions and lines (no cost or token metric): no usage row, yet an identity to map —
    an unmapped account, and an own email outside the work domains; an own work email is a person already."""
    at = ns(datetime.now(UTC) - timedelta(minutes=10))
    begin = at - 60_000_000_000
    samples = [
        Sample(otlp.SESSIONS, 2, begin, at, {"user.account_uuid": ACTIVITY_ACCOUNT}),
        Sample(otlp.LINES, 11, begin, at, {"user.account_uuid": ACTIVITY_ACCOUNT, "type": "added"}),
        Sample(otlp.LINES, 3, begin, at, {"user.email": "Night.Owl@gmail.com", "type": "added"}),
        Sample(otlp.LINES, 5, begin, at, {"user.email": "eve@example.com", "type": "added"}),
    ]
    run_async(store_and_rebuild(database_url, samples))
    assert _emails(database_url) == {}  # no usage rows at all

    ada = signed_in("ada@example.com")
    rows = _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text)
    assert len(rows) == 2, rows
    [account] = [r for r in rows if ACTIVITY_ACCOUNT in r]
    [personal] = [r for r in rows if "night.owl@gmail.com" in r]
    assert "1 active day" in account and "1 active day" in personal and "days" not in account + personal
    assert not any("eve@example.com" in r for r in rows)

    saved = map_otel_identity(ada, ACTIVITY_ACCOUNT, "fay@example.com")
    assert saved.status_code == 200
    activity = run_async(_sql(database_url, "SELECT email, sessions, lines_added FROM activity_daily ORDER BY email"))
    assert [(r.email, r.sessions, r.lines_added) for r in activity] == [
        ("eve@example.com", 0, 5),
        ("fay@example.com", 2, 11),
        ("night.owl@gmail.com", 0, 3),
    ]
    left = _unmapped_rows(ada.get("/mappings", params={"source": "otel", "status": "unmapped"}).text)
    assert len(left) == 1 and "night.owl@gmail.com" in left[0]
