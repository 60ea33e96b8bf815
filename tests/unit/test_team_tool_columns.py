"""The one rule for the Team table's per-tool columns (`TeamTools.tool_columns`), shared by /team and
/api/v1/users/pivot: tools with mapped usage in the range first (tokens desc), then other known tools a chosen
column or the sort key asks for; Claude Code and Cursor have their own columns and are never listed."""

import pytest

from abacus.queries.team import TeamTools

TOOLS = TeamTools(
    known=("aider", "claude_code", "codex", "cursor", "github_copilot", "windsurf"),
    present=("cursor", "windsurf", "claude_code", "codex"),  # tokens desc
)


@pytest.mark.parametrize(
    ("keys", "columns"),
    [
        (set(), ("windsurf", "codex")),
        ({"email", "totalTokens"}, ("windsurf", "codex")),
        ({"tool_aider"}, ("windsurf", "codex", "aider")),
        ({"tool_github_copilot", "tool_aider"}, ("windsurf", "codex", "aider", "github_copilot")),
        ({"tool_codex"}, ("windsurf", "codex")),  # already shown: not twice
        ({"tool_claude_code", "claudeCodeTokens"}, ("windsurf", "codex")),  # dedicated columns stay fixed
        ({"tool_gemini"}, ("windsurf", "codex")),  # unknown tools never get a column
    ],
)
def test_tool_columns(keys, columns):
    assert TOOLS.tool_columns(keys) == columns


def test_no_usage_in_range_shows_only_what_is_asked_for():
    quiet = TeamTools(known=("claude_code", "codex", "windsurf"), present=())
    assert quiet.tool_columns(set()) == ()
    assert quiet.tool_columns({"tool_windsurf"}) == ("windsurf",)
