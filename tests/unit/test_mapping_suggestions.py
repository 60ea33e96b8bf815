import pytest

from abacus.queries.mappings import people_index, suggest_for_github, suggest_for_key_name

KNOWN = [
    "niklaus.wirth@example.com",
    "katherine.johnson@example.com",
    "lynn.conway@example.com",
    "ada@example.com",
    "ken.thompson@example.com",
    "ken.iverson@example.com",
]


@pytest.mark.parametrize(
    ("login", "email", "expected"),
    [
        ("nwirth", "niklaus.wirth.dev@gmail.com", "niklaus.wirth@example.com"),
        ("katherinejohnson", "57612025+katherinejohnson@users.noreply.github.com", "katherine.johnson@example.com"),
        ("lynnconway", None, "lynn.conway@example.com"),
        ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", None),
        ("ada-l", None, None),  # local parts shorter than 5 characters are too ambiguous
        ("someone", "lynn.conway.personal.x@gmail.com", None),  # suffix longer than 4 characters
    ],
)
def test_github_author_suggestions(login, email, expected):
    assert suggest_for_github(login, email, people_index(KNOWN)) == expected


@pytest.mark.parametrize(
    ("key_name", "expected"),
    [
        ("ada-laptop", "ada@example.com"),
        ("lynn_ci", "lynn.conway@example.com"),
        ("ken-laptop", None),
        ("ci-pipeline", None),
        ("x", None),
    ],
)
def test_api_key_name_suggestions(key_name, expected):
    assert suggest_for_key_name(key_name, KNOWN) == expected
