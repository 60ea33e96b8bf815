"""GET /tips and /tips/{slug} — the guides."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Template

from abacus.tips import get_guide, guides_by_category, icon_svg, render_guide_html
from abacus.web.rendering import render


@get("/tips", name="tips")
async def tips_index(request: Request[Any, Any, Any]) -> Template:
    return render(request, "pages/tips.html", {"nav": "tips", "categories": guides_by_category(), "icon": icon_svg})


@get("/tips/{slug:str}", name="tip_guide")
async def tip_guide(request: Request[Any, Any, Any], slug: str) -> Template:
    guide = get_guide(slug)
    if guide is None:
        raise NotFoundException("Guide not found")
    return render(
        request,
        "pages/tip_guide.html",
        {"nav": "tips", "guide": guide, "body": render_guide_html(guide), "icon": icon_svg},
    )
