"""GET /healthz: "ok" plus database and Redis reachability, nothing else."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from sqlalchemy import text


@get("/healthz", opt={"public": True})
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    state = request.app.state
    checks = {"database": "ok", "redis": "ok"}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        checks["database"] = "unreachable"
    try:
        await state.redis.ping()
    except Exception:
        checks["redis"] = "unreachable"
    healthy = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)
