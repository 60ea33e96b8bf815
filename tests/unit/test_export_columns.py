"""Per-tool CSV columns (docs/pages.md §12): names and which tools get one."""

from __future__ import annotations

import pytest

from abacus.web.csv_download import tool_column
from abacus.web.exports.commits import commit_tools
from abacus.web.exports.team import team_columns


@pytest.mark.parametrize(
    ("tool", "suffix", "column"),
    [
        ("claude_code", "commits", "claude_code_commits"),
        ("cursor", "tokens", "cursor_tokens"),
        ("github_copilot", "commits", "copilot_commits"),
        ("codex", "commits", "codex_commits"),
        ("windsurf", "tokens", "windsurf_tokens"),
        ("Open-Code", "commits", "open_code_commits"),
        ("a b,c", "tokens", "a_b_c_tokens"),
    ],
)
def test_tool_column(tool, suffix, column):
    assert tool_column(tool, suffix) == column


@pytest.mark.parametrize(
    ("present", "tools"),
    [
        ([], ["claude_code", "cursor", "github_copilot"]),
        (["cursor"], ["claude_code", "cursor", "github_copilot"]),
        (["windsurf", "claude_code", "codex"], ["claude_code", "cursor", "github_copilot", "codex", "windsurf"]),
        (["zed", "aider", "codex"], ["claude_code", "cursor", "github_copilot", "codex", "aider", "zed"]),
    ],
)
def test_commit_tools_keep_the_three_and_add_every_tool_present(present, tools):
    assert commit_tools(present) == tools


def test_team_columns_put_other_tools_after_cursor():
    columns = team_columns(("codex", "windsurf"))
    assert columns[:7] == (
        "email", "total_tokens", "total_cost", "claude_code_tokens", "cursor_tokens", "codex_tokens", "windsurf_tokens",
    )  # fmt: skip
    assert columns[7:11] == ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
