"""`abacus audit list`: the audit log of admin changes (services/audit.py), newest first."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from abacus.cli.common import console, fail, run_with_context, timestamp
from abacus.sync.context import SyncContext

app = typer.Typer(help="The audit log of admin changes.", no_args_is_help=True)


def _shown(value: Any) -> str:
    return "—" if value is None else json.dumps(value, sort_keys=True)


@app.command("list")
def audit_list(
    limit: int = typer.Option(50, "--limit", "-n", help="How many events (newest first)."),
    page: int = typer.Option(1, "--page", help="Which page of LIMIT events."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
) -> None:
    """Who changed what and when, with the state before and after each change."""
    from abacus.queries.audit import AuditPage, latest_audit_events

    if limit < 1 or limit > 10_000:
        fail("--limit must be between 1 and 10000")
    if page < 1:
        fail("--page must be at least 1")

    async def work(ctx: SyncContext) -> AuditPage:
        async with ctx.sessionmaker() as db:
            return await latest_audit_events(db, page=page, per_page=limit)

    events = run_with_context(work, progress=False)
    if as_json:
        for e in events.rows:
            row = {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target}
            print(json.dumps({**row, "before": e.before, "after": e.after, "request_id": e.request_id}))
        return
    if not events.rows:
        console.print("no audit events" + (f" on page {page}" if events.total else ""))
        return
    table = Table("when", "who", "action", "target", "before → after", title=f"{events.total:,} event(s) in all")
    for e in events.rows:
        table.add_row(timestamp(e.at), e.actor, e.action, e.target, f"{_shown(e.before)} → {_shown(e.after)}")
    console.print(table)
