"""The `abacus` command line: one module per command group, assembled here."""

from __future__ import annotations

import typer

from abacus.cli import (
    audit,
    bench,
    budgets,
    db,
    demo,
    github,
    imports,
    loadtest,
    mappings,
    reports,
    server,
    sync,
    teams,
)
from abacus.garbage_collection import collect_less_often

app = typer.Typer(help="Abacus — how your engineers use AI coding tools.", no_args_is_help=True, add_completion=False)
for commands in (server.app, demo.app, sync.app, reports.app, bench.app, loadtest.app):
    app.add_typer(commands)  # top-level commands
app.add_typer(db.app, name="db")
app.add_typer(mappings.app, name="mappings")
app.add_typer(github.app, name="github")
app.add_typer(imports.app, name="import")
app.add_typer(audit.app, name="audit")
app.add_typer(teams.app, name="teams")
app.add_typer(budgets.app, name="budgets")
app.add_typer(budgets.alerts_app, name="alerts")


def main() -> None:
    collect_less_often()
    app()


if __name__ == "__main__":
    main()
