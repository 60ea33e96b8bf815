"""Served workers compile every template before their first request (templating.compile_all_templates)."""

from __future__ import annotations

from litestar.contrib.jinja import JinjaTemplateEngine

from abacus.app import PROJECT_ROOT
from abacus.web import templating


def test_every_template_is_compiled_and_kept() -> None:
    engine = JinjaTemplateEngine(directory=PROJECT_ROOT / "templates")
    templating.configure_environment(engine)
    on_disk = {
        path.relative_to(PROJECT_ROOT / "templates").as_posix() for path in (PROJECT_ROOT / "templates").rglob("*.html")
    }

    compiled = templating.compile_all_templates(engine)

    assert compiled == len(on_disk) > 0
    cache = engine.engine.cache
    assert cache is not None
    cached = {name for (_, name) in list(cache)}  # keys are (weakref to the loader, name)
    assert cached == on_disk
