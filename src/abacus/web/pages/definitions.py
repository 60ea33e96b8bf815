"""GET /definitions — what every figure means (the ⓘ links beside cards and column headers point here)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from abacus.web.definitions import DEFINITIONS
from abacus.web.rendering import render


@get("/definitions", name="definitions")
async def definitions_page(request: Request[Any, Any, Any]) -> Template:
    """One section per metric, anchored by its id (`/definitions#M-COST`)."""
    return render(request, "pages/definitions.html", {"nav": "definitions", "definitions": DEFINITIONS})
