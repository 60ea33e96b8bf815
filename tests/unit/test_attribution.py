"""providers.md §4.7 (attribution rules, every example row, tool names), §4.5 (merges, bots), §4.6 (emails)."""

import re

import pytest

from abacus.domain.attribution import (
    ATTRIBUTION_RULES,
    EXTRA_ATTRIBUTION_RULES,
    Attribution,
    attribute_commit,
    is_bot_author,
    is_merge_commit,
    is_work_email,
    noreply_user_id,
)
from abacus.domain.tools import (
    KNOWN_TOOLS,
    MODEL_PALETTE,
    UNKNOWN_TOOL_GREYS,
    ToolStyle,
    model_color,
    tool_color,
    tool_css_class,
    tool_name,
    tool_style,
)

CLAUDE = "Co-Authored-By: Claude <noreply@anthropic.com>"
OPUS_45 = "Co-Authored-By: Claude Opus 4.5 <noreply@anthropic.com>"
GENERATED = "🤖 Generated with [Claude Code](https://claude.com/claude-code)"


def co(tool, model=None):
    return Attribution(tool, model, "co_author")


def msg(tool):
    return Attribution(tool, None, "message_pattern")


def author(tool):
    return Attribution(tool, None, "author_field")


# (message, author name, author email, expected attributions in order) — the §4.7 examples table, row by row.
EXAMPLES = [
    pytest.param(f"Fix bug\n\n{CLAUDE}", "", "", [co("claude_code")], id="claude plain"),
    pytest.param(f"Fix bug\n\n{OPUS_45}", "", "", [co("claude_code", "opus-4.5")], id="claude opus 4.5"),
    pytest.param(
        "Fix\n\nCo-authored-by: Claude Sonnet 4.5 <noreply@anthropic.com>",
        "",
        "",
        [co("claude_code", "sonnet-4.5")],
        id="claude sonnet 4.5 lower-case trailer",
    ),
    pytest.param(
        "Fix\n\nCo-Authored-By: Claude Code <noreply@anthropic.com>", "", "", [co("claude_code")], id="claude code"
    ),
    pytest.param(
        "Fix\n\nCo-Authored-By: Claude Sonnet 4.5 (1M context) <noreply@anthropic.com>",
        "",
        "",
        [co("claude_code", "sonnet-4.5")],
        id="claude 1M context suffix stripped",
    ),
    pytest.param(
        f"Add x\n\n{GENERATED}\n\n{OPUS_45}", "", "", [co("claude_code", "opus-4.5")], id="generated + trailer"
    ),
    pytest.param(f"Add x\n\n{GENERATED}", "", "", [msg("claude_code")], id="generated only"),
    pytest.param("Written using Claude", "", "", [msg("claude_code")], id="written using claude"),
    pytest.param("Co-Authored-By: Claude <claude@users.noreply.github.com>", "", "", [], id="claude non-anthropic"),
    pytest.param("Co-Authored-By:Claude <noreply@anthropic.com>", "", "", [], id="claude no space"),
    pytest.param("Co-authored-by: Codex <codex@openai.com>", "", "", [co("codex")], id="codex trailer"),
    pytest.param("Codex assisted refactor", "", "", [msg("codex")], id="codex assisted"),
    pytest.param(
        "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
        "",
        "",
        [co("github_copilot")],
        id="copilot trailer",
    ),
    pytest.param(
        "Co-authored-by: GitHub Copilot <copilot@github.com>", "", "", [co("github_copilot")], id="github copilot"
    ),
    pytest.param("Accepted Copilot suggestion", "", "", [msg("github_copilot")], id="accepted copilot suggestion"),
    pytest.param("Co-authored-by: Cursor Agent <cursoragent@cursor.com>", "", "", [co("cursor")], id="cursor agent"),
    pytest.param("Fix cursor completion popup", "", "", [msg("cursor")], id="cursor false positive"),
    pytest.param("Co-authored-by: Windsurf <windsurf@codeium.com>", "", "", [co("windsurf")], id="windsurf"),
    pytest.param("Co-authored-by: Codeium <bot@codeium.com>", "", "", [co("windsurf")], id="codeium"),
    pytest.param(
        "Initial plan",
        "copilot-swe-agent[bot]",
        "198982749+Copilot@users.noreply.github.com",
        [author("github_copilot")],
        id="copilot swe agent author",
    ),
    pytest.param(
        f"{CLAUDE}\nCo-authored-by: Cursor <cursoragent@cursor.com>",
        "",
        "",
        [co("claude_code"), co("cursor")],
        id="claude and cursor",
    ),
    pytest.param("Co-authored-by: aider (gpt-4o) <aider@aider.chat>", "", "", [], id="aider not recognised"),
    pytest.param(
        "Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
        "",
        "",
        [],
        id="devin not recognised",
    ),
    pytest.param("Co-authored-by: Gemini <gemini@google.com>", "", "", [], id="gemini not recognised"),
    pytest.param("Merge pull request #12 from x/y", "", "", [], id="merge message"),
]


@pytest.mark.parametrize(("message", "name", "email", "expected"), EXAMPLES)
def test_reference_examples(message, name, email, expected):
    assert attribute_commit(message, name, email) == expected


# One message per numbered pattern, proving each rule exists, fires alone and carries its source.
PATTERNS = [
    pytest.param(1, "Co-Authored-By:   Claude Haiku 4.5 <x@anthropic.com>", ("claude_code", "haiku-4.5", "co_author")),
    pytest.param(2, "Generated with [Claude Code]", ("claude_code", None, "message_pattern")),
    pytest.param(3, "assisted by Claude", ("claude_code", None, "message_pattern")),
    pytest.param(4, "Co-Authored-By: Codex CLI <x@y>", ("codex", None, "co_author")),
    pytest.param(5, "created with codex", ("codex", None, "message_pattern")),
    pytest.param(6, "Codex helped here", ("codex", None, "message_pattern")),
    pytest.param(7, "Co-Authored-By: GitHub Copilot <x@y>", ("github_copilot", None, "co_author")),
    pytest.param(8, "Co-Authored-By: Copilot <x@y>", ("github_copilot", None, "co_author")),
    pytest.param(9, "written using GitHub Copilot", ("github_copilot", None, "message_pattern")),
    pytest.param(10, "Copilot generated tests", ("github_copilot", None, "message_pattern")),
    pytest.param(11, "Accepted GitHub Copilot suggestion", ("github_copilot", None, "message_pattern")),
    pytest.param(12, "Co-Authored-By: Cursor <x@y>", ("cursor", None, "co_author")),
    pytest.param(13, "generated by Cursor", ("cursor", None, "message_pattern")),
    pytest.param(14, "Cursor AI assisted change", ("cursor", None, "message_pattern")),
    pytest.param(15, "Co-Authored-By: Windsurf <x@y>", ("windsurf", None, "co_author")),
    pytest.param(16, "Co-Authored-By: Codeium <x@y>", ("windsurf", None, "co_author")),
    pytest.param(17, "written with Codeium", ("windsurf", None, "message_pattern")),
    pytest.param(18, "Windsurf AI generated", ("windsurf", None, "message_pattern")),
]


@pytest.mark.parametrize(("number", "message", "expected"), PATTERNS, ids=[f"pattern {p.values[0]}" for p in PATTERNS])
def test_each_numbered_pattern(number, message, expected):
    [found] = attribute_commit(message)
    assert (found.tool, found.model, found.source) == expected
    assert found.confidence == "detected"
    assert ATTRIBUTION_RULES[number - 1].regex.search(message)


def test_rule_table_is_the_reference_table():
    assert len(ATTRIBUTION_RULES) == 19
    assert [rule.tool for rule in ATTRIBUTION_RULES] == (
        ["claude_code"] * 3 + ["codex"] * 3 + ["github_copilot"] * 5 + ["cursor"] * 3 + ["windsurf"] * 4
    ) + ["github_copilot"]
    assert ATTRIBUTION_RULES[-1].subject == "author"


@pytest.mark.parametrize(
    ("trailer", "model"),
    [
        ("Co-Authored-By: Claude <noreply@anthropic.com>", None),
        ("Co-Authored-By: Claude   <noreply@anthropic.com>", None),
        ("Co-Authored-By: Claude Code <noreply@anthropic.com>", None),
        ("Co-Authored-By: Claude CODE <noreply@anthropic.com>", None),
        ("Co-Authored-By: Claude Opus  4.5 <noreply@anthropic.com>", "opus-4.5"),
        ("Co-Authored-By: Claude Sonnet 4.5 (1M context) <noreply@anthropic.com>", "sonnet-4.5"),
        ("Co-Authored-By: Claude Code (beta) <noreply@anthropic.com>", None),
        ("Co-Authored-By: Claude 3.7 Sonnet <noreply@anthropic.com>", "3.7-sonnet"),
    ],
)
def test_pattern_1_model_extraction(trailer, model):
    assert attribute_commit(trailer)[0].model == model


def test_only_the_first_matching_pattern_of_a_tool_counts():
    message = f"{GENERATED}\n\nWritten using Claude\n\n{OPUS_45}"
    assert attribute_commit(message) == [co("claude_code", "opus-4.5")]


def test_tools_are_recorded_in_table_order_not_message_order():
    message = "Co-authored-by: Windsurf <w@codeium.com>\nCo-authored-by: Codex <codex@openai.com>\n" + CLAUDE
    assert [a.tool for a in attribute_commit(message)] == ["claude_code", "codex", "windsurf"]


def test_message_tool_is_primary_over_author_pattern():
    found = attribute_commit("Accepted Copilot suggestion\n\n" + CLAUDE, "copilot-swe-agent[bot]", "")
    assert found == [co("claude_code"), msg("github_copilot")]


def test_author_pattern_reads_the_email_too():
    assert attribute_commit("Initial plan", "Copilot", "copilot-swe-agent[bot]@users.noreply.github.com") == [
        author("github_copilot")
    ]


# --- suggested new patterns (off by default) -----------------------------------------------------------------

EXTRA_EXAMPLES = [
    pytest.param("Co-authored-by: aider (gpt-4o) <aider@aider.chat>", "", "", [co("aider")], id="aider trailer"),
    pytest.param("Refactor", "Jane Doe (aider)", "jane@example.com", [author("aider")], id="aider author name"),
    pytest.param(
        "Co-Authored-By: Devin <158243242+devin-ai-integration[bot]@users.noreply.github.com>",
        "",
        "",
        [co("devin")],
        id="devin trailer",
    ),
    pytest.param(
        "Add feature",
        "devin-ai-integration[bot]",
        "158243242+devin-ai-integration[bot]@users.noreply.github.com",
        [author("devin")],
        id="devin author",
    ),
    pytest.param("Co-authored-by: Gemini <gemini@google.com>", "", "", [co("gemini")], id="gemini trailer"),
    pytest.param("Co-authored-by: Jules <jules@google.com>", "", "", [co("gemini")], id="jules trailer"),
    pytest.param(
        f"{CLAUDE}\nCo-authored-by: Gemini <gemini@google.com>",
        "",
        "",
        [co("claude_code"), co("gemini")],
        id="reference tool stays primary",
    ),
]


@pytest.mark.parametrize(("message", "name", "email", "expected"), EXTRA_EXAMPLES)
def test_extra_patterns_when_enabled(message, name, email, expected):
    assert attribute_commit(message, name, email, extra_patterns=True) == expected


@pytest.mark.parametrize(("message", "name", "email", "expected"), EXTRA_EXAMPLES)
def test_extra_patterns_are_off_by_default(message, name, email, expected):
    reference_only = [a for a in expected if a.tool not in {"aider", "devin", "gemini"}]
    assert attribute_commit(message, name, email) == reference_only


def test_extra_table_only_names_new_tools():
    assert {rule.tool for rule in EXTRA_ATTRIBUTION_RULES} == {"aider", "devin", "gemini"}


@pytest.mark.parametrize(
    "message",
    [
        "Co-Authored-By: " + " " * 50_000 + "x",
        "Co-Authored-By: Claude" + " x" * 50_000,
        "Generated with " * 20_000,
    ],
    ids=["long whitespace", "long claude trailer", "repeated prefix"],
)
def test_long_hostile_messages_finish(message):
    assert attribute_commit(message, extra_patterns=True) == []


# --- merges, bots, author emails ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parents", "merge"), [([], False), (["a"], False), (["a", "b"], True), (["a", "b", "c"], True)]
)
def test_is_merge_commit(parents, merge):
    assert is_merge_commit(parents) is merge


@pytest.mark.parametrize(
    ("login", "author_type", "bot"),
    [
        ("dependabot[bot]", None, True),
        ("copilot-swe-agent[bot]", "Bot", True),
        ("renovate", "Bot", True),
        ("Renovate[BOT]", "User", True),
        ("octocat", "User", False),
        ("bot-lover", None, False),
        (None, None, False),
    ],
)
def test_is_bot_author(login, author_type, bot):
    assert is_bot_author(login, author_type) is bot


@pytest.mark.parametrize(
    ("email", "user_id"),
    [
        ("12345+octocat@users.noreply.github.com", 12345),
        ("175728472+Copilot@USERS.NOREPLY.GITHUB.COM", 175728472),
        ("octocat@users.noreply.github.com", None),
        ("12345+octocat@example.com", None),
        ("+octocat@users.noreply.github.com", None),
        ("12345+@users.noreply.github.com", None),
        ("", None),
        (None, None),
    ],
)
def test_noreply_user_id(email, user_id):
    assert noreply_user_id(email) == user_id


@pytest.mark.parametrize(
    ("email", "domains", "work"),
    [
        ("jane@acme.com", [], True),
        ("jane@gmail.com", [], True),
        ("12345+jane@users.noreply.github.com", [], False),
        ("noreply@acme.com", [], False),
        ("jane.noreply@acme.com", ["acme.com"], False),
        ("jane@acme.com", ["acme.com"], True),
        ("Jane@ACME.com", ["Acme.COM"], True),
        ("jane@acme.com", ["other.io", "acme.com"], True),
        ("jane@sub.acme.com", ["acme.com"], False),
        ("jane@notacme.com", ["acme.com"], False),
        ("jane@gmail.com", ["acme.com"], False),
        ("", [], False),
        (None, ["acme.com"], False),
    ],
)
def test_is_work_email(email, domains, work):
    assert is_work_email(email, domains) is work


# --- tool keys, names and colours (§4.7: "any other tool string renders title-cased") ----------------------------


@pytest.mark.parametrize(
    ("tool", "name"),
    [
        ("claude_code", "Claude Code"),
        ("cursor", "Cursor"),
        ("github_copilot", "Copilot"),
        ("codex", "Codex"),
        ("windsurf", "Windsurf"),
        ("aider", "Aider"),
        ("open_code", "Open Code"),
        ("o3tool", "O3tool"),
    ],
)
def test_tool_name(tool, name):
    assert tool_name(tool) == name


@pytest.mark.parametrize(
    ("tool", "css_class"),
    [("claude_code", "tool-claude_code"), ("github_copilot", "tool-github_copilot"), ("Odd Tool!", "tool-odd-tool-")],
)
def test_tool_css_class(tool, css_class):
    assert tool_css_class(tool) == css_class


def test_known_tools_have_distinct_colours():
    colours = [tool_color(tool) for tool in KNOWN_TOOLS]
    assert len(set(colours)) == len(KNOWN_TOOLS)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours)
    assert tool_color("claude_code") == "#f59e0b"  # amber


@pytest.mark.parametrize("tool", ["aider", "devin", "gemini", "x"])
def test_unknown_tools_get_a_stable_grey(tool):
    assert tool_color(tool) == tool_color(tool)
    assert tool_color(tool) in UNKNOWN_TOOL_GREYS
    assert tool_style(tool) == ToolStyle(tool, tool_name(tool), tool_css_class(tool), tool_color(tool))


def test_model_palette_by_rank():
    assert [model_color(rank) for rank in range(6)] == [
        "#ec4899",  # pink
        "#84cc16",  # lime
        "#ef4444",  # red
        "#d946ef",  # fuchsia
        "#2563eb",  # blue
        "#fda4af",  # light rose
    ]
    assert model_color(len(MODEL_PALETTE)) == model_color(0)
