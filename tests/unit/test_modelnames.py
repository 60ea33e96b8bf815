"""providers.md §1.1 (normalisation) and metrics.md §3 (display name), row by row."""

import pytest

from abacus.domain.modelnames import MODEL_DEFAULT, display_model_name, is_thinking_model, normalize_model_name

# Every row of the §1.1 example table (both columns), then the extra cases the steps imply.
NORMALISATION_TABLE = [
    ("claude-sonnet-4-5-20250929", "sonnet-4.5"),
    ("claude-opus-4-5-20251101", "opus-4.5"),
    ("claude-haiku-4-5-20251001", "haiku-4.5"),
    ("claude-opus-4-1-20250805", "opus-4.1"),
    ("claude-sonnet-4-20250514", "sonnet-4"),
    ("claude-opus-4-20250514", "opus-4"),
    ("claude-3-5-haiku-20241022", "haiku-3.5"),
    ("claude-3-5-sonnet-20241022", "sonnet-3.5"),
    ("claude-3-7-sonnet-20250219", "sonnet-3.7"),
    ("3-5-haiku-20241022", "haiku-3.5"),
    ("claude-sonnet-4-5-20250929[1m]", "sonnet-4.5"),
    ("claude-4-sonnet", "sonnet-4"),
    ("claude-4.5-sonnet", "sonnet-4.5"),
    ("claude-3-5-sonnet-20241022-thinking", "claude-3-5-sonnet-20241022-thinking"),
    ("claude-4.5-opus-high-thinking", "opus-4.5"),
    ("claude-4-sonnet-thinking", "sonnet-4"),
    ("claude-4.5-sonnet-thinking", "sonnet-4.5"),
    ("claude-4-sonnet (T)", "sonnet-4"),
    ("claude-3.5-sonnet (HT)", "sonnet-3.5"),
    ("claude-3.7-sonnet", "sonnet-3.7"),
    ("4-sonnet", "sonnet-4"),
    ("4.5-opus", "opus-4.5"),
    ("4", "sonnet-4"),
    ("3.7", "sonnet-3.7"),
    ("default", MODEL_DEFAULT),
    ("auto", MODEL_DEFAULT),
    ("Auto", MODEL_DEFAULT),
    ("unknown", MODEL_DEFAULT),
    ("gpt-5", "gpt-5"),
    ("GPT-5-Codex", "gpt-5-codex"),
    ("composer-1", "composer-1"),
    ("o3", "o3"),
    ("gemini-2.5-pro", "gemini-2.5-pro"),
    # (new) undated Claude ids
    ("claude-sonnet-4-5", "sonnet-4.5"),
    ("claude-opus-4-1", "opus-4.1"),
    ("claude-opus-4-6", "opus-4.6"),
    ("claude-sonnet-4", "sonnet-4"),
    # the steps themselves
    ("", ""),
    ("   ", MODEL_DEFAULT),
    ("  Claude-Sonnet-4-5-20250929  ", "sonnet-4.5"),
    ("claude-4-sonnet (Thinking)", "sonnet-4"),
    ("4.5-opus (T)", "opus-4.5"),
    ("3.7 [beta]", "sonnet-3.7"),
    ("claude-4-sonnet (T) (HT)", "claude-4-sonnet (t)"),
    ("some-new-model", "some-new-model"),
    ("(default)", MODEL_DEFAULT),
]


@pytest.mark.parametrize(
    ("raw", "expected"), NORMALISATION_TABLE, ids=[row[0] or "<empty>" for row in NORMALISATION_TABLE]
)
def test_normalize_model_name(raw, expected):
    assert normalize_model_name(raw) == expected


def test_none_is_treated_as_unknown():
    assert normalize_model_name(None) == MODEL_DEFAULT


SINGLE_SUFFIX_ROWS = [row for row in NORMALISATION_TABLE if row[0].count("(") <= 1]


@pytest.mark.parametrize(("raw", "_"), SINGLE_SUFFIX_ROWS, ids=[row[0] or "<empty>" for row in SINGLE_SUFFIX_ROWS])
def test_normalisation_is_idempotent(raw, _):
    once = normalize_model_name(raw)
    assert normalize_model_name(once) == once


@pytest.mark.parametrize(
    ("model", "display"),
    [
        ("sonnet-4.5", "Sonnet 4.5"),
        ("opus-4.1", "Opus 4.1"),
        ("haiku-3.5", "Haiku 3.5"),
        ("opus-4", "Opus 4"),
        ("claude-sonnet-4", "Sonnet 4"),
        ("claude-3-5-sonnet-20241022-thinking", "3-5-sonnet-20241022-thinking"),
        ("sonnet-4 (T)", "Sonnet 4 (Thinking)"),
        ("gpt-5 (T)", "gpt-5 (Thinking)"),
        ("(default)", "(default)"),
        ("gpt-5-codex", "gpt-5-codex"),
        ("composer-1", "composer-1"),
        ("", ""),
    ],
)
def test_display_model_name(model, display):
    assert display_model_name(model) == display


THINKING_TABLE = [
    ("claude-4-sonnet (T)", True),
    ("claude-3.5-sonnet (HT)", True),
    ("claude-4-sonnet-thinking", True),
    ("claude-4.5-opus-high-thinking", True),
    ("claude-3-5-sonnet-20241022-thinking", True),
    # any case, as the rollup's `~*` has always matched
    ("claude-4-sonnet (t)", True),
    ("claude-3.5-sonnet (Ht)", True),
    ("Claude-4-Sonnet-Thinking", True),
    ("CLAUDE-4.5-OPUS-HIGH-THINKING", True),
    ("claude-sonnet-4-5-20250929", False),
    ("claude-4-sonnet(T)", False),
    ("claude-4-sonnet (Thinking)", False),
    ("claude-4-sonnet (T) ", False),
    ("claude-4-sonnet-thinking\n", False),
    ("thinking-model", False),
    ("claude-4-sonnet-thinking-fast", False),
    ("", False),
    (None, False),
]
"""metrics.md §4 hasThinkingModels; tests/integration/test_thinking_rule.py runs the same rows through the SQL."""


@pytest.mark.parametrize(("raw", "thinking"), THINKING_TABLE, ids=[repr(row[0]) for row in THINKING_TABLE])
def test_is_thinking_model(raw, thinking):
    assert is_thinking_model(raw) is thinking
