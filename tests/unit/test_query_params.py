"""The value checks behind every query-string dependency (web/params.py): a typed value, the default, or a
BadParameter naming the parameter with the message the 400 page and JSON show."""

import pytest

from abacus.web.errors import BadParameter
from abacus.web.params import clean_text, column_keys, like_pattern, one_of, whole_number

LONG_NUMBER = "9" * 5000


@pytest.mark.parametrize(
    ("raw", "low", "high", "expected"),
    [
        (None, 1, 100, 7),
        ("", 1, 100, 7),
        ("1", 1, 100, 1),
        ("100", 1, 100, 100),
        ("007", 1, 100, 7),
        ("0", 0, 100, 0),
        ("000", 0, 100, 0),
        ("0" * 5000 + "5", 1, 100, 5),
    ],
)
def test_whole_number_accepts(raw, low, high, expected):
    assert whole_number("limit", raw, 7, low=low, high=high) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "0 is outside 1–100"),
        ("101", "101 is outside 1–100"),
        ("0101", "101 is outside 1–100"),
        ("-1", "'-1' is not a whole number"),
        ("x", "'x' is not a whole number"),
        ("1.5", "'1.5' is not a whole number"),
        (" 5", "' 5' is not a whole number"),
        ("²", "'²' is not a whole number"),  # str.isdigit() is True, int() refuses it
        ("١٢", "'١٢' is not a whole number"),  # Arabic-Indic digits: int() would accept them
        ("\x00", "'\\x00' is not a whole number"),
        (LONG_NUMBER, "99999999999999999999… is outside 1–100"),  # never converted (int() caps at 4,300 digits)
    ],
)
def test_whole_number_rejects(raw, message):
    with pytest.raises(BadParameter) as caught:
        whole_number("limit", raw, 7, low=1, high=100)
    assert (caught.value.param, caught.value.message) == ("limit", message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "desc"), ("", "desc"), ("asc", "asc"), ("desc", "desc")],
)
def test_one_of_accepts(value, expected):
    assert one_of("sort_dir", value, ("asc", "desc"), "desc") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("up", "'up' is not one of asc, desc"),
        ("ASC", "'ASC' is not one of asc, desc"),
        (" asc", "' asc' is not one of asc, desc"),
        ("\x00", "'\\x00' is not one of asc, desc"),
    ],
)
def test_one_of_rejects(value, message):
    with pytest.raises(BadParameter) as caught:
        one_of("sort_dir", value, ("asc", "desc"), "desc")
    assert (caught.value.param, caught.value.message) == ("sort_dir", message)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("   ", None), (" ada ", "ada"), ("x" * 100, "x" * 100), ("50%_off", "50%_off")],
)
def test_clean_text_accepts(value, expected):
    assert clean_text("search", value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 101, "longer than 100 characters"),
        ("a\x00b", "contains a NUL character"),  # PostgreSQL text cannot hold NUL: it must never reach a query
        ("\x00", "contains a NUL character"),
    ],
)
def test_clean_text_rejects(value, message):
    with pytest.raises(BadParameter) as caught:
        clean_text("search", value)
    assert (caught.value.param, caught.value.message) == ("search", message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ["a", "b"]), ("", ["a", "b"]), ("c", ["c"]), (" a , c ,", ["a", "c"])],
)
def test_column_keys_accepts(raw, expected):
    assert column_keys("cols", raw, ("a", "b", "c"), ("a", "b")) == expected


def test_column_keys_names_the_unknown_ones():
    with pytest.raises(BadParameter) as caught:
        column_keys("cols", "a,nope,zz", ("a", "b", "c"), ("a", "b"))
    assert (caught.value.param, caught.value.message) == ("cols", "unknown column(s) nope, zz")


@pytest.mark.parametrize(
    ("search", "pattern"),
    [(None, None), ("", None), ("ada", "%ada%"), ("50%", "%50\\%%"), ("a_b", "%a\\_b%"), ("c:\\x", "%c:\\\\x%")],
)
def test_like_pattern_escapes(search, pattern):
    assert like_pattern(search) == pattern
