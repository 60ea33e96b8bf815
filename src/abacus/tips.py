"""Tips and guides: the content behind `/tips`, `/tips/<slug>` and the tip bar.

The words live as package data in `abacus.content.tips` (one Markdown file per guide with a TOML front
matter block, plus `tips.toml` for the tip bar); this module only parses, validates and renders them.
Everything here is pure apart from reading those files, and parsed content is cached for the process.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import markupsafe
import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

CONTENT_PACKAGE = "abacus.content.tips"
TIPS_FILE = "tips.toml"
FRONT_MATTER_FENCE = "+++"
KNOWN_TOOLS = ("Claude Code", "Cursor")
MAX_TIP_LENGTH = 160
EXTERNAL_LINK_REL = "noopener noreferrer"


@dataclass(frozen=True, slots=True)
class Category:
    key: str
    title: str
    subtitle: str


CATEGORIES: tuple[Category, ...] = (
    Category("getting-started", "Getting Started", "fundamentals"),
    Category("power-features", "Power Features", "advanced capabilities"),
    Category("scaling-up", "Scaling Up", "larger projects and teams"),
)
_CATEGORY_POSITION = {category.key: position for position, category in enumerate(CATEGORIES)}


@dataclass(frozen=True, slots=True)
class Guide:
    slug: str
    title: str
    description: str
    category: str
    order: int
    tools: tuple[str, ...]
    icon: str
    docs_url: str | None
    body_markdown: str


@dataclass(frozen=True, slots=True)
class Tip:
    id: str
    text: str
    guide_slug: str | None = None
    url: str | None = None

    @property
    def href(self) -> str:
        """Where "Learn more →" goes: the guide page, or the external URL."""
        if self.guide_slug is not None:
            return f"/tips/{self.guide_slug}"
        assert self.url is not None  # guaranteed by load_tips()
        return self.url

    @property
    def is_external(self) -> bool:
        return self.guide_slug is None


# 24×24 stroke icons (drawn for Abacus), one `d` attribute each; render with icon_svg().
ICONS: dict[str, str] = {
    # three stacked sheets: what sits in the context window
    "layers": "M12 3 2.5 8 12 13l9.5-5L12 3Z M2.5 12.5 12 17.5l9.5-5 M2.5 17 12 22l9.5-5",
    # a chip with pins: choosing the model
    "chip": "M7 5h10a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2Z M10 10h4v4h-4Z "
    "M9 2v3 M15 2v3 M9 19v3 M15 19v3 M2 9h3 M2 15h3 M19 9h3 M19 15h3",
    # a branch leaving the main line
    "git-branch": "M6 3v12 M4 17a2 2 0 1 0 4 0a2 2 0 1 0-4 0 M16 6a2 2 0 1 0 4 0a2 2 0 1 0-4 0 M18 8c0 5-6 4-10.5 7.5",
    # a clipboard with a two-item plan
    "clipboard": "M9 4H7a2 2 0 0 0-2 2v13a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2h-2 "
    "M9 3h6v3H9Z M9 11h6 M9 15h4",
    # one lead box handing work to two helpers
    "hierarchy": "M9 3h6v5H9Z M3 16h6v5H3Z M15 16h6v5h-6Z M12 8v4 M6 16v-4h12v4",
    # a terminal prompt: slash commands and skills
    "terminal": "M4 4h16a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1Z M7 9l3 3-3 3 M12 15h5",
    # a plug: connecting outside tools
    "plug": "M9 2v5 M15 2v5 M6 7h12v4a6 6 0 0 1-12 0V7Z M12 17v5",
    # four corners pulled inwards: shrinking a conversation
    "compress": "M4 9h5V4 M20 9h-5V4 M4 15h5v5 M20 15h-5v5 M3 3l6 6 M21 3l-6 6 M3 21l6-6 M21 21l-6-6",
    # three lanes running side by side
    "parallel": "M3 5h16 M17 3l2 2-2 2 M3 12h16 M17 10l2 2-2 2 M3 19h16 M17 17l2 2-2 2",
    # three sliders: project settings
    "sliders": "M4 6h9 M17 6h3 M15 4v4 M4 12h3 M11 12h9 M9 10v4 M4 18h11 M19 18h1 M17 16v4",
}

_ICON_TEMPLATE = markupsafe.Markup(
    '<svg class="icon" viewBox="0 0 24 24" width="24" height="24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">'
    '<path d="{path}"/></svg>'
)


def icon_svg(name: str) -> markupsafe.Markup:
    """Return the inline `<svg>` for an icon name (presentation attributes only, no `style=`)."""
    return _ICON_TEMPLATE.format(path=ICONS[name])


# --- guides -------------------------------------------------------------------------------------------

_GUIDE_KEYS = frozenset({"title", "description", "category", "order", "tools", "icon", "docs_url"})
_REQUIRED_GUIDE_KEYS = _GUIDE_KEYS - {"docs_url"}


def split_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    """Split a `+++`-fenced TOML front matter block from the Markdown body; ValueError if malformed."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        raise ValueError(f"{source}: must start with a {FRONT_MATTER_FENCE} front matter block")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == FRONT_MATTER_FENCE:
            try:
                meta = tomllib.loads("".join(lines[1:index]))
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{source}: invalid front matter: {error}") from error
            return meta, "".join(lines[index + 1 :]).strip() + "\n"
    raise ValueError(f"{source}: front matter block is never closed")


def parse_guide(slug: str, text: str) -> Guide:
    """Build a Guide from one `<slug>.md` file's text, rejecting unknown or missing fields."""
    source = f"{slug}.md"
    meta, body = split_front_matter(text, source)
    if unknown := meta.keys() - _GUIDE_KEYS:
        raise ValueError(f"{source}: unknown front matter keys {sorted(unknown)}")
    if missing := _REQUIRED_GUIDE_KEYS - meta.keys():
        raise ValueError(f"{source}: missing front matter keys {sorted(missing)}")
    if meta["category"] not in _CATEGORY_POSITION:
        raise ValueError(f"{source}: unknown category {meta['category']!r}")
    if not isinstance(meta["order"], int) or isinstance(meta["order"], bool):
        raise ValueError(f"{source}: order must be an integer")
    tools = tuple(meta["tools"])
    if not tools or any(tool not in KNOWN_TOOLS for tool in tools):
        raise ValueError(f"{source}: tools must be a non-empty subset of {KNOWN_TOOLS}")
    if meta["icon"] not in ICONS:
        raise ValueError(f"{source}: unknown icon {meta['icon']!r}")
    docs_url = meta.get("docs_url")
    if docs_url is not None and not docs_url.startswith("https://"):
        raise ValueError(f"{source}: docs_url must be an https URL")
    return Guide(
        slug=slug,
        title=str(meta["title"]),
        description=str(meta["description"]),
        category=meta["category"],
        order=meta["order"],
        tools=tools,
        icon=meta["icon"],
        docs_url=docs_url,
        body_markdown=body,
    )


@cache
def _guides_in_display_order() -> tuple[Guide, ...]:
    guides = [
        parse_guide(entry.name.removesuffix(".md"), entry.read_text(encoding="utf-8"))
        for entry in resources.files(CONTENT_PACKAGE).iterdir()
        if entry.name.endswith(".md") and entry.is_file()
    ]
    return tuple(sorted(guides, key=lambda guide: (_CATEGORY_POSITION[guide.category], guide.order)))


def load_guides() -> dict[str, Guide]:
    """Return every guide by slug, in display order (category, then order). Files are parsed once."""
    return {guide.slug: guide for guide in _guides_in_display_order()}


def guides_by_category() -> list[tuple[Category, list[Guide]]]:
    """Return each category of CATEGORIES, in order, with its guides in display order."""
    guides = _guides_in_display_order()
    return [(category, [guide for guide in guides if guide.category == category.key]) for category in CATEGORIES]


def get_guide(slug: str) -> Guide | None:
    """Return the guide for a slug, or None when there is no such guide."""
    return load_guides().get(slug)


# --- tip bar ------------------------------------------------------------------------------------------


def parse_tips(data: Mapping[str, Any], guide_slugs: frozenset[str]) -> tuple[Tip, ...]:
    """Build the tip list from parsed `tips.toml`, checking ids, lengths and link targets."""
    tips: list[Tip] = []
    seen: set[str] = set()
    for entry in data.get("tips", []):
        tip_id = entry["id"]
        if tip_id in seen:
            raise ValueError(f"{TIPS_FILE}: duplicate tip id {tip_id!r}")
        seen.add(tip_id)
        text = entry["text"].strip()
        if not text or len(text) > MAX_TIP_LENGTH:
            raise ValueError(f"{TIPS_FILE}: tip {tip_id!r} text must be 1–{MAX_TIP_LENGTH} characters")
        guide_slug, url = entry.get("guide"), entry.get("url")
        if (guide_slug is None) == (url is None):
            raise ValueError(f"{TIPS_FILE}: tip {tip_id!r} needs exactly one of guide or url")
        if guide_slug is not None and guide_slug not in guide_slugs:
            raise ValueError(f"{TIPS_FILE}: tip {tip_id!r} points at unknown guide {guide_slug!r}")
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(f"{TIPS_FILE}: tip {tip_id!r} url must be http(s)")
        tips.append(Tip(id=tip_id, text=text, guide_slug=guide_slug, url=url))
    return tuple(tips)


@cache
def load_tips() -> tuple[Tip, ...]:
    """Return the tip-bar tips in file order. Parsed once; every guide link is checked against the guides."""
    raw = resources.files(CONTENT_PACKAGE).joinpath(TIPS_FILE).read_text(encoding="utf-8")
    return parse_tips(tomllib.loads(raw), frozenset(load_guides()))


def random_tip(rng: random.Random | None = None) -> Tip:
    """Pick one tip uniformly; pass a seeded Random for a repeatable choice."""
    return (rng or random).choice(load_tips())


# --- rendering ----------------------------------------------------------------------------------------

_ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6",
    "p", "br", "hr", "blockquote",
    "ul", "ol", "li",
    "strong", "em", "del", "s",
    "code", "pre", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
# `target` and `rel` are pinned to the only values render_guide_html writes; anything else is dropped.
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
_PINNED_ATTRIBUTE_VALUES = {"a": {"target": {"_blank"}, "rel": {EXTERNAL_LINK_REL}}}


def _is_external(href: str) -> bool:
    return href.lower().startswith(("http://", "https://"))


def _render_link_open(renderer: RendererHTML, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[idx]
    if _is_external(str(token.attrGet("href") or "")):
        token.attrSet("target", "_blank")
        token.attrSet("rel", EXTERNAL_LINK_REL)
    return renderer.renderToken(tokens, idx, options, env)


@cache
def _markdown() -> MarkdownIt:
    # html=False: raw HTML in a guide is shown as text, never passed through.
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.add_render_rule("link_open", _render_link_open)
    return parser


@cache
def _cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ALLOWED_ATTRIBUTES,
        tag_attribute_values=_PINNED_ATTRIBUTE_VALUES,
        link_rel=None,
        url_schemes={"http", "https", "mailto"},
    )


@lru_cache(maxsize=64)
def render_guide_html(guide: Guide) -> markupsafe.Markup:
    """Render a guide body to sanitised HTML: no raw HTML, no styles, external links open in a new tab."""
    html = _markdown().render(guide.body_markdown)
    return markupsafe.Markup(_cleaner().clean(html))
