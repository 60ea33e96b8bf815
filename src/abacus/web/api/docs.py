"""GET /api/docs — the OpenAPI document rendered as a server-side page (no third-party UI assets, CSP-safe)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from abacus.web.rendering import render

METHODS = ("get", "post", "put", "patch", "delete")


def _endpoints(schema: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            params = [
                {
                    "name": p.get("name"),
                    "in": p.get("in"),
                    "required": p.get("required", False),
                    "description": p.get("description") or "",
                    "type": (p.get("schema") or {}).get("type", ""),
                }
                for p in operation.get("parameters", [])
            ]
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary") or "",
                    "tags": operation.get("tags") or [],
                    "params": params,
                    "responses": sorted(operation.get("responses", {}).keys()),
                }
            )
    return out


@get("/api/docs", include_in_schema=False)
async def api_docs(request: Request[Any, Any, Any]) -> Template:
    schema = request.app.openapi_schema.to_schema()
    return render(request, "pages/api_docs.html", {"endpoints": _endpoints(schema), "info": schema.get("info", {})})
