"""Issue 11's acceptance at the phone size (390×844) and between the phone and the desktop: the checks live in
test_accessibility_browser.py; this module of its own lets another test worker run them beside the desktop ones."""

from __future__ import annotations

from typing import Any

from tests.browser.test_accessibility_browser import (  # noqa: F401 (the module's signed-in context)
    every_page_passes_axe_and_fits_the_screen,
    pages_to_check,
    sideways_overflow,
    signed_in,
)


def test_every_page_passes_axe_and_fits_the_phone(signed_in: Any, demo_app: Any) -> None:  # noqa: F811
    every_page_passes_axe_and_fits_the_screen(signed_in, demo_app.url, "phone")


def test_no_page_is_wider_than_a_tablet_or_a_small_laptop(signed_in: Any, demo_app: Any) -> None:  # noqa: F811
    """Between the phone and the desktop sizes the header wraps; nothing may widen the page there either."""
    page = signed_in
    paths = pages_to_check(page, demo_app.url)
    failures = []
    for width, height in ((768, 1024), (1024, 768)):
        page.set_viewport_size({"width": width, "height": height})
        for path in paths:
            page.goto(demo_app.url + path)
            if (overflow := sideways_overflow(page)) > 0:
                failures.append(f"{path}: the page is {overflow}px wider than a {width}px screen")
    assert not failures, "\n".join(failures)
