"""The SQL of one page, captured and explained: the app is served in this process for one request to the page, a
`before_cursor_execute` listener on every engine records the statements that request sends (with their bound
parameters), and each is run again under EXPLAIN (ANALYZE, BUFFERS) on the bench's own engine.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from abacus.bench.web import ThreadServer, app_environment, free_port, quiet_logs, sign_in


class StatementLog:
    """Statements (text, positional parameters) every engine of this process sends while it is installed."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self.lock = threading.Lock()

    def __call__(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and not executemany:
            with self.lock:
                self.statements.append((statement, tuple(parameters or ())))

    def __enter__(self) -> StatementLog:
        event.listen(Engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self)


def capture(database_url: str, redis_url: str, issuer: str, admin: str, path: str) -> list[tuple[str, tuple[Any, ...]]]:
    """The SELECT statements one signed-in request to `path` runs, served by an in-process copy of the app."""
    from abacus.app import create_app
    from abacus.settings import load_settings

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    environment = app_environment(database_url, redis_url, issuer, base_url, admin)
    # the page's own SQL, not a hit of the page cache the timed run filled
    settings = load_settings({**environment, "ABACUS_PAGE_CACHE_SECONDS": "0"})
    app = create_app(settings)
    quiet_logs()
    with ThreadServer(app, port):
        client = sign_in(base_url, admin)
        client.get(path)  # warm: the first request also reads things a page does not need every time
        with StatementLog() as log:
            client.get(path)
        client.close()
    return log.statements


async def explain(engine: AsyncEngine, statements: list[tuple[str, tuple[Any, ...]]]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement, with its parameters bound, as one text."""
    parts = []
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # asyncpg: the statements use its $n placeholders
        for number, (statement, params) in enumerate(statements, 1):
            rows = await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *params)
            plan = "\n".join(row[0] for row in rows)
            parts.append(f"-- statement {number}\n{statement.strip()}\n-- parameters: {params!r}\n{plan}")
    return "\n\n".join(parts)
