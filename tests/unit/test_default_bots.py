"""docs/schema.md §3.1: which identities are bots without anyone saying so."""

import pytest

from abacus.domain.identities import is_default_bot


@pytest.mark.parametrize(
    ("source", "login", "email", "bot"),
    [
        ("github", "dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", True),
        ("github", "Renovate[BOT]", None, True),
        ("github", None, "2740337+renovate[bot]@users.noreply.github.com", True),
        ("github", "helper", " 41898282+github-actions[bot]@Users.NoReply.GitHub.com ", True),
        ("github", "lin", "12+lin@users.noreply.github.com", False),  # a person's noreply address
        ("github", "botany", "bot@example.com", False),
        ("github", None, None, False),
        ("cursor", "dependabot[bot]", "x[bot]@users.noreply.github.com", False),  # only GitHub has the rule
        ("claude_code", "ci-bot", None, False),
    ],
)
def test_default_bot_rule(source, login, email, bot):
    assert is_default_bot(source, login, email) is bot
