"""Tips and guides content (pages.md §9): titles, categories, tip-bar links and safe rendering."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser

import pytest

from abacus.tips import (
    CATEGORIES,
    ICONS,
    Guide,
    Tip,
    get_guide,
    guides_by_category,
    icon_svg,
    load_guides,
    load_tips,
    parse_guide,
    parse_tips,
    random_tip,
    render_guide_html,
)

CLAUDE = ("Claude Code",)
BOTH = ("Claude Code", "Cursor")

# slug, title, category, tools — straight from the guides table of pages.md §9
GUIDE_TABLE = [
    ("subagents", "Subagents", "power-features", CLAUDE),
    ("compaction", "Context Compaction", "scaling-up", CLAUDE),
    ("skills", "Skills & Slash Commands", "power-features", CLAUDE),
    ("plan-mode", "Plan Mode", "power-features", BOTH),
    ("model-selection", "Model Selection", "getting-started", BOTH),
    ("context-management", "Context Management", "getting-started", BOTH),
    ("git-workflow", "Git Workflow", "getting-started", BOTH),
    ("multi-agent", "Multi-Agent Workflows", "scaling-up", CLAUDE),
    ("project-config", "Project Configuration", "scaling-up", BOTH),
    ("mcp", "MCP Servers", "power-features", BOTH),
]

# category key, title, subtitle, guides in order — the category table of pages.md §9
CATEGORY_TABLE = [
    ("getting-started", "Getting Started", "fundamentals", ["context-management", "model-selection", "git-workflow"]),
    ("power-features", "Power Features", "advanced capabilities", ["plan-mode", "subagents", "skills", "mcp"]),
    ("scaling-up", "Scaling Up", "larger projects and teams", ["compaction", "multi-agent", "project-config"]),
]

TIP_IDS = [
    "subagents-intro", "subagents-explore", "compact-when", "compact-vs-clear", "skills-intro", "slash-commands",
    "plan-mode-intro", "plan-mode-safety", "model-selection", "thinking-models", "fresh-context", "scoped-prompts",
    "commit-before", "multi-agent", "project-conventions", "mcp-intro", "mcp-sentry",
]  # fmt: skip

SLUGS = [slug for slug, *_ in GUIDE_TABLE]


class _TagCollector(HTMLParser):
    """Collects (tag, attrs) for every start tag of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


def _synthetic_guide(body: str) -> Guide:
    return Guide(
        slug="synthetic",
        title="Synthetic",
        description="A guide made up for the test.",
        category="scaling-up",
        order=99,
        tools=("Cursor",),
        icon="plug",
        docs_url=None,
        body_markdown=body,
    )


# --- guides -------------------------------------------------------------------------------------------


def test_exactly_the_ten_guides_ship() -> None:
    assert sorted(load_guides()) == sorted(SLUGS)


@pytest.mark.parametrize(("slug", "title", "category", "tools"), GUIDE_TABLE)
def test_guide_metadata_matches_spec(slug: str, title: str, category: str, tools: tuple[str, ...]) -> None:
    guide = get_guide(slug)
    assert guide is not None
    assert (guide.slug, guide.title, guide.category, guide.tools) == (slug, title, category, tools)
    assert guide.description and "\n" not in guide.description
    assert guide.icon in ICONS
    assert guide.docs_url is not None
    assert guide.docs_url.startswith(("https://docs.anthropic.com/en/docs/claude-code/", "https://docs.cursor.com/"))


@pytest.mark.parametrize("slug", SLUGS)
def test_guide_body_is_a_real_guide(slug: str) -> None:
    body = load_guides()[slug].body_markdown
    assert 400 <= len(body.split()) <= 900
    assert "## " in body
    assert "<" not in re.sub(r"```.*?```|`[^`]*`", "", body, flags=re.DOTALL)  # no raw HTML outside code


@pytest.mark.parametrize(("key", "title", "subtitle", "slugs"), CATEGORY_TABLE)
def test_categories_hold_their_guides_in_order(key: str, title: str, subtitle: str, slugs: list[str]) -> None:
    sections = {category.key: (category, guides) for category, guides in guides_by_category()}
    category, guides = sections[key]
    assert (category.title, category.subtitle) == (title, subtitle)
    assert [guide.slug for guide in guides] == slugs


def test_categories_come_in_page_order() -> None:
    assert [category.key for category in CATEGORIES] == [key for key, *_ in CATEGORY_TABLE]
    assert [category.key for category, _ in guides_by_category()] == [key for key, *_ in CATEGORY_TABLE]
    assert list(load_guides()) == [slug for *_, slugs in CATEGORY_TABLE for slug in slugs]


@pytest.mark.parametrize("slug", ["", "nope", "Subagents", "../tips", "tips.toml", "__init__"])
def test_unknown_slug_has_no_guide(slug: str) -> None:
    assert get_guide(slug) is None


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("no front matter\n", "must start with"),
        ('+++\ntitle = "x"\n', "never closed"),
        ('+++\ntitle = "x\n+++\nbody\n', "invalid front matter"),
        ('+++\ntitle = "T"\n+++\nbody\n', "missing front matter keys"),
    ],
)
def test_malformed_guide_files_are_rejected(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_guide("broken", text)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("category", '"advanced"', "unknown category"),
        ("tools", '["Copilot"]', "tools must be"),
        ("tools", "[]", "tools must be"),
        ("icon", '"rocket"', "unknown icon"),
        ("docs_url", '"http://example.com"', "https URL"),
        ("order", '"1"', "order must be an integer"),
        ("colour", '"red"', "unknown front matter keys"),
    ],
)
def test_invalid_front_matter_values_are_rejected(field: str, value: str, error: str) -> None:
    meta = {
        "title": '"T"',
        "description": '"D"',
        "category": '"scaling-up"',
        "order": "1",
        "tools": '["Cursor"]',
        "icon": '"plug"',
    }
    meta[field] = value
    front_matter = "\n".join(f"{key} = {val}" for key, val in meta.items())
    with pytest.raises(ValueError, match=error):
        parse_guide("broken", f"+++\n{front_matter}\n+++\n## Body\n")


# --- tip bar ------------------------------------------------------------------------------------------


def test_the_seventeen_tips_ship_with_the_spec_ids_in_order() -> None:
    assert [tip.id for tip in load_tips()] == TIP_IDS


@pytest.mark.parametrize("tip_id", TIP_IDS)
def test_tip_links_to_a_guide_or_an_external_page(tip_id: str) -> None:
    tip = next(tip for tip in load_tips() if tip.id == tip_id)
    assert 0 < len(tip.text) <= 160
    assert "\n" not in tip.text
    if tip.guide_slug is not None:
        assert tip.url is None
        assert get_guide(tip.guide_slug) is not None
        assert tip.href == f"/tips/{tip.guide_slug}"
    else:
        assert tip.url is not None
        assert tip.href == tip.url
        assert tip.href.startswith(("https://", "http://"))


def test_every_guide_is_reachable_from_the_tip_bar() -> None:
    assert {tip.guide_slug for tip in load_tips()} - {None} == set(SLUGS)


@pytest.mark.parametrize(
    ("tip", "href"),
    [
        (Tip(id="a", text="t", guide_slug="mcp"), "/tips/mcp"),
        (
            Tip(id="b", text="t", url="https://docs.sentry.io/product/sentry-mcp/"),
            "https://docs.sentry.io/product/sentry-mcp/",
        ),
    ],
)
def test_tip_href(tip: Tip, href: str) -> None:
    assert tip.href == href


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"id": "x", "text": "t"}, "exactly one of guide or url"),
        ({"id": "x", "text": "t", "guide": "mcp", "url": "https://example.com"}, "exactly one of guide or url"),
        ({"id": "x", "text": "t", "guide": "no-such-guide"}, "unknown guide"),
        ({"id": "x", "text": "t", "url": "javascript:alert(1)"}, "url must be http"),
        ({"id": "x", "text": "t" * 161, "guide": "mcp"}, "text must be"),
        ({"id": "x", "text": "   ", "guide": "mcp"}, "text must be"),
    ],
)
def test_invalid_tips_are_rejected(entry: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_tips({"tips": [entry]}, frozenset({"mcp"}))


def test_duplicate_tip_ids_are_rejected() -> None:
    entry = {"id": "x", "text": "t", "guide": "mcp"}
    with pytest.raises(ValueError, match="duplicate tip id"):
        parse_tips({"tips": [entry, entry]}, frozenset({"mcp"}))


def test_random_tip_is_one_of_the_tips_and_repeatable_with_a_seed() -> None:
    assert random_tip() in load_tips()
    assert random_tip(random.Random(42)) == random_tip(random.Random(42))
    seen = {random_tip(random.Random(seed)).id for seed in range(200)}
    assert len(seen) > 1


# --- rendering ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_rendered_guide_is_safe(slug: str) -> None:
    html = str(render_guide_html(load_guides()[slug]))
    assert "<h2>" in html
    assert "<script" not in html
    assert "style=" not in html
    for tag, attrs in _tags(html):
        assert not any(name.startswith("on") or name == "style" for name in attrs), (tag, attrs)
        if tag == "a":
            href = attrs.get("href") or ""
            if href.startswith(("http://", "https://")):
                assert attrs.get("target") == "_blank"
                assert attrs.get("rel") == "noopener noreferrer"
            else:
                assert "target" not in attrs


def test_some_guides_do_link_out() -> None:
    # Keeps the external-link check above from passing vacuously.
    external = [
        attrs
        for guide in load_guides().values()
        for tag, attrs in _tags(str(render_guide_html(guide)))
        if tag == "a" and (attrs.get("href") or "").startswith("https://")
    ]
    assert external


def test_raw_html_in_markdown_is_escaped_not_rendered() -> None:
    guide = _synthetic_guide(
        "## Heading\n\n"
        "<script>alert(1)</script>\n\n"
        '<div style="color:red" onclick="x()">boxed</div>\n\n'
        'Inline <img src="x" onerror="alert(1)"> image and <b>bold</b>.\n'
    )
    html = str(render_guide_html(guide))
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert [tag for tag, _ in _tags(html)] == ["h2", "p", "p", "p"]
    assert all(not attrs for _, attrs in _tags(html))


@pytest.mark.parametrize(
    ("markdown", "expected_links"),
    [
        ("[docs](https://example.com/a)", [("https://example.com/a", "_blank", "noopener noreferrer")]),
        ("<http://example.com/b>", [("http://example.com/b", "_blank", "noopener noreferrer")]),
        ("[guide](/tips/mcp)", [("/tips/mcp", None, None)]),
        ("[mail](mailto:team@example.com)", [("mailto:team@example.com", None, None)]),
        ("[bad](javascript:alert(1))", []),
        ("[bad](data:text/html;base64,PHNjcmlwdD4=)", []),
    ],
)
def test_links_are_marked_external_or_dropped(
    markdown: str, expected_links: list[tuple[str, str | None, str | None]]
) -> None:
    html = str(render_guide_html(_synthetic_guide(markdown + "\n")))
    links = [(attrs.get("href"), attrs.get("target"), attrs.get("rel")) for tag, attrs in _tags(html) if tag == "a"]
    assert links == expected_links


def test_tables_render_without_inline_alignment_styles() -> None:
    html = str(render_guide_html(_synthetic_guide("| a | b |\n|--:|:-:|\n| 1 | 2 |\n")))
    assert "<table>" in html
    assert "<td>1</td>" in html
    assert "style=" not in html


def test_code_blocks_keep_their_text_escaped() -> None:
    html = str(render_guide_html(_synthetic_guide("```html\n<script>x()</script>\n```\n")))
    assert "<pre><code>&lt;script&gt;x()&lt;/script&gt;\n</code></pre>" in html


# --- icons --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ICONS))
def test_icons_are_plain_path_data(name: str) -> None:
    assert re.fullmatch(r"[MmLlHhVvCcSsQqTtAaZz0-9.,\s-]+", ICONS[name])
    svg = str(icon_svg(name))
    assert svg.startswith("<svg") and 'viewBox="0 0 24 24"' in svg
    assert "style=" not in svg
    assert f'd="{ICONS[name]}"' in svg
