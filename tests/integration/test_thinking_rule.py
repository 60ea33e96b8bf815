"""The thinking-model rule has one definition (`THINKING_SUFFIX`): PostgreSQL's rollup refresh and Python agree on
every row of the unit table, case-insensitively."""

import pytest

from abacus.domain.modelnames import is_thinking_model
from abacus.rollups import THINKING
from tests.integration.pages_support import sql_value
from tests.unit.test_modelnames import THINKING_TABLE

ROWS = [row for row in THINKING_TABLE if row[0] is not None]


@pytest.mark.parametrize(("raw", "thinking"), ROWS, ids=[repr(row[0]) for row in ROWS])
def test_sql_rollup_rule_matches_python(database_url, raw, thinking):
    in_sql = sql_value(database_url, f"SELECT {THINKING} FROM (SELECT CAST(:raw AS text) AS raw_model) r", raw=raw)
    assert in_sql is thinking
    assert is_thinking_model(raw) is thinking
