"""Fixtures of the people tests (Team page, user page, users API): every raw usage row and commit of the seed,
read once per module with people_truth's plain SELECTs.

Use in a test module with `from tests.integration.people_fixtures import *  # noqa: F403` (fixtures are found by
name), next to pages_fixtures.
"""

from __future__ import annotations

import pytest

from tests.integration.people_truth import CommitRec, Rec, load_commits, load_records

__all__ = ["commits", "records"]


@pytest.fixture(scope="module")
def records(seeded_module: None, database_url: str) -> list[Rec]:
    return load_records(database_url)


@pytest.fixture(scope="module")
def commits(seeded_module: None, database_url: str) -> list[CommitRec]:
    return load_commits(database_url)
