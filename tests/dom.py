"""Reading HTML in tests through a parser (lxml + CSS selectors) instead of slicing strings.

    doc = dom.parse(page)                                 # a whole page or an htmx fragment
    card = dom.one(doc, "div.card.stat", has_text="Total Commits")
    dom.text(card.cssselect(".stat-value")[0])            # "1,234" (entities decoded, whitespace collapsed)
    [dom.text(td) for td in dom.select(doc, "#repo-table tbody td.num")]

Every function takes either markup (parsed on the spot) or an element already parsed.
"""

from __future__ import annotations

import lxml.html
from lxml.html import HtmlElement

Node = str | HtmlElement


def parse(markup: str) -> HtmlElement:
    """The document as an element tree (a fragment is wrapped in <html><body>, so selectors work the same)."""
    return lxml.html.document_fromstring(markup)


def _root(node: Node) -> HtmlElement:
    return parse(node) if isinstance(node, str) else node


def text(node: Node) -> str:
    """The text content with entities decoded and every run of whitespace collapsed to one space."""
    return " ".join(_root(node).text_content().split())


def select(node: Node, css: str, *, has_text: str | None = None) -> list[HtmlElement]:
    """Every element matching the CSS selector, in document order; `has_text` keeps those whose text contains it."""
    found = _root(node).cssselect(css)
    if has_text is not None:
        found = [element for element in found if has_text in text(element)]
    return found


def one(node: Node, css: str, *, has_text: str | None = None) -> HtmlElement:
    """The single element matching the selector (and `has_text`); fails naming how many there were."""
    found = select(node, css, has_text=has_text)
    where = f"{css!r}" + (f" containing {has_text!r}" if has_text is not None else "")
    assert len(found) == 1, f"expected exactly one element {where}, found {len(found)}"
    return found[0]


def first(node: Node, css: str, *, has_text: str | None = None) -> HtmlElement:
    """The first element matching the selector (and `has_text`); fails when there is none."""
    found = select(node, css, has_text=has_text)
    assert found, f"no element {css!r}" + (f" containing {has_text!r}" if has_text is not None else "")
    return found[0]


def texts(node: Node, css: str) -> list[str]:
    """`text()` of every element matching the selector."""
    return [text(element) for element in select(node, css)]


def attr(node: Node, css: str, name: str) -> str | None:
    """Attribute `name` of the single element matching the selector (None when the element lacks it)."""
    return one(node, css).get(name)


def markup(node: HtmlElement) -> str:
    """The element serialised back to HTML (its own markup only, not the text after it)."""
    return lxml.html.tostring(node, encoding="unicode", with_tail=False)
