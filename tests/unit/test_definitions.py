"""The definitions behind the ⓘ links (web/definitions.py): every id a template links to exists, every metric id is
one of docs/metrics.md, and every entry says its unit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from abacus.web.definitions import BY_ID, DEFINITIONS, definition
from abacus.web.pages.team import COLUMN_INFO

ROOT = Path(__file__).resolve().parents[2]
METRIC_HEADINGS = set(re.findall(r"^#{3,4} (M-[A-Z0-9-]+)", (ROOT / "docs" / "metrics.md").read_text(), re.M))
TEMPLATE_KEYS = {
    key
    for path in (ROOT / "templates").rglob("*.html")
    for key in re.findall(r"""(?:defs\.info\(|info=)["']([^"']+)["']""", path.read_text())
}


def test_ids_are_unique():
    assert len(BY_ID) == len(DEFINITIONS)


@pytest.mark.parametrize("entry", DEFINITIONS, ids=lambda d: d.id)
def test_each_entry_names_a_documented_metric_and_its_unit(entry):
    if entry.id.startswith("M-"):
        assert entry.id in METRIC_HEADINGS
    else:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", entry.id)
    assert entry.name and entry.unit and entry.text.endswith(".")


def test_every_link_in_the_templates_and_team_headers_has_a_definition():
    assert {"M-TOKENS", "M-COST", "M-USERS", "M-AVG-DAY", "M-AI-COMMITS", "records"} <= TEMPLATE_KEYS
    for key in TEMPLATE_KEYS | set(COLUMN_INFO.values()):
        assert definition(key).id == key


def test_an_unknown_id_fails_loudly():
    with pytest.raises(KeyError):
        definition("M-NOPE")
