"""A link turned into a GET form (action + hidden fields), as the toggle chips use it to work without JS: submitting
the form must request exactly the link's URL."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from abacus.web.templating import form_fields, query


@pytest.mark.parametrize(
    ("href", "action", "fields"),
    [
        ("/commits", "/commits", []),
        ("/team?range=7d", "/team", [("range", "7d")]),
        (
            "/team?cols=email%2CtotalTokens&sort=totalCost",
            "/team",
            [("cols", "email,totalTokens"), ("sort", "totalCost")],
        ),
        ("/team?search=a+b%26c", "/team", [("search", "a b&c")]),
        ("/users/ada%40example.com?tab=raw", "/users/ada%40example.com", [("tab", "raw")]),
        ("/mappings?search=", "/mappings", [("search", "")]),
    ],
)
def test_form_fields_split_a_link(href: str, action: str, fields: list[tuple[str, str]]) -> None:
    assert form_fields(href) == (action, fields)


@pytest.mark.parametrize(
    "params",
    [{}, {"range": "7d"}, {"cols": "email,totalCost,split", "search": "ada lovelace", "page": 2}],
)
def test_submitting_the_form_requests_the_same_url(params: dict[str, object]) -> None:
    href = "/team" + query(params)
    action, fields = form_fields(href)
    # A browser submits a GET form as action + "?" + the fields form-encoded, in document order.
    submitted = action + ("?" + urlencode(fields) if fields else "")
    assert submitted == href
