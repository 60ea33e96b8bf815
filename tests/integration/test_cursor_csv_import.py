"""Cursor CSV import into real PostgreSQL: a bad file writes nothing, the fixed file imports, a re-import adds
nothing, and CSV rows merge with the API rows of the same events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from abacus.providers import cursor
from abacus.providers.cursor_csv import (
    REQUIRED_COLUMNS,
    CsvImportError,
    csv_organization_id,
    describe_import,
    import_cursor_csv,
)
from tests.integration.provider_support import (
    CORE,
    TODAY,
    data_snapshot,
    rollup_mismatches,
    stored_totals,
    truth_totals,
)

TOOL = "cursor"
DAY = TODAY - timedelta(days=15)  # a weekday whose export has zero-token rows and same-millisecond twins (seed 7)
KINDS = {"USAGE_EVENT_KIND_USAGE_BASED": "Usage-based", "USAGE_EVENT_KIND_INCLUDED_IN_BUSINESS": "Included in Business"}


def export_csv(emulator, team: str = "core", day=DAY, *, break_rows: dict[int, dict[str, str]] | None = None) -> bytes:
    """The day's events of a team as Cursor's usage export would list them (BOM, CRLF, quoted cells)."""
    events = exported_events(emulator, team, day)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(REQUIRED_COLUMNS), quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    for index, event in enumerate(events):
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=event.timestamp_ms)
        cw, cr = event.cache_write_tokens or 0, event.cache_read_tokens or 0
        row = {
            "Date": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "User": event.email or "",
            "Kind": KINDS.get(event.kind, "Errored, Not Charged"),
            "Model": "auto" if event.model == "default" else event.model,
            "Max Mode": "Yes" if event.max_mode else "No",
            "Input (w/ Cache Write)": str(cw),
            "Input (w/o Cache Write)": str(event.input_tokens),
            "Cache Read": str(cr),
            "Output Tokens": str(event.output_tokens),
            "Total Tokens": str(event.token_total),
            "Cost": f"${event.total_cents / 100}" if event.total_cents is not None else "Included",
        }
        row.update((break_rows or {}).get(index, {}))
        writer.writerow(row)
    return b"\xef\xbb\xbf" + out.getvalue().encode()


def exported_events(emulator, team: str = "core", day=DAY):
    """The emulator's events of a day that an export lists: every one with a user (an export row always has one)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return [
        e
        for e in emulator.state.dataset.cursor_events(
            team, cursor.epoch_ms(start), cursor.epoch_ms(start + timedelta(days=1)) - 1
        )
        if e.email
    ]


async def test_a_bad_file_writes_nothing_and_names_every_bad_row_then_the_fixed_file_imports(
    emulator, ctx, sessionmaker
):
    org = csv_organization_id(ctx.settings, "core")
    assert org == "cursor:core"
    events = exported_events(emulator)
    bad = export_csv(
        emulator,
        break_rows={
            1: {"Date": "2025-13-01T10:00"},
            4: {"Input (w/o Cache Write)": "12.5"},
            7: {"Cost": "about a dollar"},
        },
    )
    empty = await data_snapshot(sessionmaker)
    with pytest.raises(CsvImportError) as caught:
        await import_cursor_csv(sessionmaker, bad, organization_id=org)
    assert [e.split(":")[0] for e in caught.value.errors] == ["line 3", "line 6", "line 9"]
    assert caught.value.errors[0] == 'line 3: column "Date": "2025-13-01T10:00" is not an ISO 8601 timestamp'
    assert await data_snapshot(sessionmaker) == empty

    result = await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id=org)
    assert (result.new, result.already_present) == (sum(1 for e in events if e.token_total), 0)
    assert result.skipped_zero == sum(1 for e in events if not e.token_total) > 0
    assert (result.first_date, result.last_date) == (DAY, DAY)
    assert await rollup_mismatches(sessionmaker) == 0

    imported = await data_snapshot(sessionmaker)
    again = await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id=org)
    assert (again.new, again.already_present, again.other_team) == (0, result.new, 0)
    assert describe_import(again).startswith(f"0 new, {result.new:,} already present; ")
    assert await data_snapshot(sessionmaker) == imported  # idempotent


async def test_csv_and_api_rows_of_the_same_events_merge(emulator, ctx, sessionmaker):
    org = csv_organization_id(ctx.settings, "core")
    await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id=org)
    after_csv = (await data_snapshot(sessionmaker))["usage_records"]
    assert any(row[11] is not None for row in after_csv)  # same-millisecond twins numbered like the API does

    assert (await cursor.sync_range(ctx, CORE, DAY, DAY)).ok
    after_api = (await data_snapshot(sessionmaker))["usage_records"]
    with_user = [row for row in after_api if row[1] != "cursor:unknown"]
    assert with_user == after_csv  # every API event landed on its CSV row, with the same values
    assert await stored_totals(sessionmaker, TOOL, DAY, DAY) == truth_totals(emulator, TOOL, DAY, DAY, org="core")
    assert await rollup_mismatches(sessionmaker) == 0

    await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id=org)
    assert (await data_snapshot(sessionmaker))["usage_records"] == after_api


async def test_an_email_less_row_is_refused_with_its_line(emulator, sessionmaker):
    data = export_csv(emulator, break_rows={2: {"User": ""}})
    with pytest.raises(CsvImportError) as caught:
        await import_cursor_csv(sessionmaker, data, organization_id="cursor:core")
    assert caught.value.errors == ['line 4: column "User": "" is not an email address']
    assert (await data_snapshot(sessionmaker))["usage_records"] == []


async def test_cost_in_dollars_is_stored_exactly(emulator, sessionmaker):
    data = export_csv(emulator, break_rows={0: {"Cost": "$1.234567", "Output Tokens": "7"}})
    await import_cursor_csv(sessionmaker, data, organization_id="cursor:core")
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert Decimal("1.234567") in {row[10] for row in rows}


async def test_the_same_file_under_another_team_is_reported_as_duplicates_and_not_written(emulator, ctx, sessionmaker):
    """Issue 11: importing one export under two labels used to store every event twice (a person's total doubled)."""
    first = await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id="cursor:core")
    before = await data_snapshot(sessionmaker)
    totals = await stored_totals(sessionmaker, TOOL, DAY, DAY)
    second = await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id="cursor:mobile")
    assert (second.new, second.already_present, second.other_team) == (0, first.new, first.new)
    assert "under another team, not written again" in describe_import(second)
    assert await data_snapshot(sessionmaker) == before
    assert await stored_totals(sessionmaker, TOOL, DAY, DAY) == totals
    assert await rollup_mismatches(sessionmaker) == 0


async def test_api_rows_of_one_team_make_a_csv_under_another_team_a_duplicate(emulator, ctx, sessionmaker):
    assert (await cursor.sync_range(ctx, CORE, DAY, DAY)).ok
    before = await data_snapshot(sessionmaker)
    result = await import_cursor_csv(sessionmaker, export_csv(emulator), organization_id="cursor:mobile")
    assert result.new == 0 and result.other_team == result.already_present > 0
    assert await data_snapshot(sessionmaker) == before


async def test_a_file_half_new_half_present_writes_only_the_new_half(emulator, sessionmaker):
    whole = export_csv(emulator)
    header, *lines = whole.decode("utf-8-sig").split("\r\n")
    lines = [line for line in lines if line]
    half = ("\r\n".join([header, *lines[: len(lines) // 2]]) + "\r\n").encode()
    first = await import_cursor_csv(sessionmaker, half, organization_id="cursor:core")
    result = await import_cursor_csv(sessionmaker, whole, organization_id="cursor:mobile")
    assert result.already_present == result.other_team == first.new
    assert result.new > 0
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert len(rows) == first.new + result.new
    assert await rollup_mismatches(sessionmaker) == 0


async def test_a_nul_byte_in_a_cell_is_a_line_and_column_error_and_nothing_is_written(emulator, sessionmaker):
    data = export_csv(emulator, break_rows={3: {"Model": "gpt-5\x00"}, 5: {"User": "ana\x00@example.com"}})
    with pytest.raises(CsvImportError) as caught:
        await import_cursor_csv(sessionmaker, data, organization_id="cursor:core")
    assert caught.value.errors == [
        'line 5: column "Model": contains a NUL byte; only printable text is accepted',
        'line 7: column "User": contains a NUL byte; only printable text is accepted',
    ]
    assert (await data_snapshot(sessionmaker))["usage_records"] == []


async def test_progress_is_reported_stage_by_stage_up_to_every_row(emulator, sessionmaker, monkeypatch):
    from abacus.providers import cursor_csv

    monkeypatch.setattr(cursor_csv, "WRITE_CHUNK", 3)
    seen: list[tuple[str, int, int]] = []

    async def progress(stage: str, done: int, total: int) -> None:
        seen.append((stage, done, total))

    result = await import_cursor_csv(
        sessionmaker, export_csv(emulator), organization_id="cursor:core", progress=progress
    )
    stages = [stage for stage, _, _ in seen]
    assert stages[0] == "validating" and stages[-1] == "summing"
    writes = [(done, total) for stage, done, total in seen if stage == "writing"]
    assert writes[0] == (0, result.new) and writes[-1] == (result.new, result.new)
    assert len(writes) == 1 + -(-result.new // 3)  # one report per chunk of the one transaction
    assert await rollup_mismatches(sessionmaker) == 0
