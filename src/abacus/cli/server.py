"""`abacus serve` and `abacus worker`: the production processes."""

from __future__ import annotations

import typer

from abacus.cli.common import runtime_or_exit
from abacus.runtime import default_web_workers

app = typer.Typer()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(0, help="Worker processes (0 = 2 × CPU cores, at most 8)."),
    migrate: bool = typer.Option(True, help="Apply pending migrations before starting."),
) -> None:
    """Run the web app under uvicorn (production ASGI server, several worker processes)."""
    import uvicorn

    from abacus import migrate as migrations

    runtime = runtime_or_exit(web=True)  # each uvicorn worker resolves the same settings and servers again
    count = workers or default_web_workers()
    try:
        if migrate:
            migrations.upgrade(runtime.settings.database.url or "")
        uvicorn.run(
            "abacus.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=count,
            log_level="warning",
            proxy_headers=True,
            access_log=False,
        )
    finally:
        runtime.stop()


@app.command()
def worker() -> None:
    """Run the arq worker (cron syncs, backfills, webhook follow-ups)."""
    runtime = runtime_or_exit()
    from arq.worker import run_worker

    from abacus.worker.settings import worker_settings

    try:
        run_worker(worker_settings(runtime.settings))
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
