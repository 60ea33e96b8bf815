"""providers.md §3.7 + security.md "Bad input": the Cursor usage CSV parser, pure."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from abacus.domain.modelnames import MODEL_DEFAULT
from abacus.providers.cursor import epoch_ms, parse_usage_events
from abacus.providers.cursor_csv import REQUIRED_COLUMNS, CsvImportError, csv_organization_id, parse_cursor_csv
from abacus.settings import CursorSettings, ProviderKey, Settings

ORG = "cursor:core"
HEADER = ",".join(f'"{c}"' for c in REQUIRED_COLUMNS)  # Cursor quotes every header cell


def line(
    date="2025-11-20T18:23:45.123Z",
    user="ana@example.com",
    kind="Included in Business",
    model="claude-4.5-sonnet-thinking",
    max_mode="No",
    cache_write="100",
    input_="1000",
    cache_read="5000",
    output="200",
    total="6300",
    cost="0.12",
):
    return ",".join([date, user, kind, model, max_mode, cache_write, input_, cache_read, output, total, cost])


def csv_bytes(*lines, header=HEADER, newline="\n", bom=False):
    text = newline.join([header, *lines]) + newline
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def parse(data):
    return parse_cursor_csv(data, organization_id=ORG)


def test_a_row_becomes_a_usage_row_with_the_api_dedupe_key():
    result = parse(csv_bytes(line()))
    assert result.errors == []
    [row] = result.rows
    moment = datetime(2025, 11, 20, 18, 23, 45, 123000, tzinfo=UTC)
    assert row.date == date(2025, 11, 20)
    assert row.timestamp_ms == epoch_ms(moment) == 1763663025123
    assert (row.identity, row.tool, row.raw_model, row.model) == (
        "cursor:ana@example.com",
        "cursor",
        "claude-4.5-sonnet-thinking",
        "sonnet-4.5",
    )
    tokens = (row.cache_write_tokens, row.input_tokens, row.cache_read_tokens, row.output_tokens)
    assert tokens == (100, 1000, 5000, 200)
    assert row.cost == Decimal("0.12")
    assert (row.organization_id, row.tool_record_id, row.customer_type) == (ORG, None, None)


def test_the_same_event_from_the_api_has_the_same_dedupe_key():
    [csv_row] = parse(csv_bytes(line(model="auto"))).rows
    api_event = {
        "timestamp": "1763663025123",
        "userEmail": "ana@example.com",
        "model": "default",
        "tokenUsage": {
            "inputTokens": 1000,
            "outputTokens": 200,
            "cacheWriteTokens": 100,
            "cacheReadTokens": 5000,
            "totalCents": 12,
        },
    }
    [api_row], _ = parse_usage_events([api_event], organization_id=ORG)
    assert csv_row.dedupe_key == api_row.dedupe_key
    assert csv_row == api_row


@pytest.mark.parametrize(
    ("cost", "dollars"),
    [
        ("0.12", Decimal("0.12")),
        ("$0.12", Decimal("0.12")),
        ("$ 3", Decimal(3)),
        ("Included", Decimal(0)),
        ("included", Decimal(0)),
        ("-", Decimal(0)),
        ("", Decimal(0)),
        ("12", Decimal(12)),
        (".5", Decimal("0.5")),
    ],
)
def test_cost_accepts_dollars_with_or_without_sign_and_free_words(cost, dollars):
    [row] = parse(csv_bytes(line(cost=cost))).rows
    assert row.cost == dollars


def test_bom_crlf_quoted_commas_and_doubled_quotes():
    quoted_model = '"claude-4-sonnet (T), ""beta"""'
    data = csv_bytes(line(kind='"Usage-based, Max"', model=quoted_model), newline="\r\n", bom=True)
    result = parse(data)
    assert result.errors == []
    [row] = result.rows
    assert row.raw_model == 'claude-4-sonnet (T), "beta"'


def test_header_order_is_free_and_extra_columns_are_ignored():
    columns = [*reversed(REQUIRED_COLUMNS), "Comment"]
    values = dict(zip(REQUIRED_COLUMNS, line().split(","), strict=True))
    row_line = ",".join([*(values[c] for c in reversed(REQUIRED_COLUMNS)), "anything, at all".replace(",", ";")])
    result = parse(csv_bytes(row_line, header=",".join(columns)))
    assert result.errors == []
    assert result.rows[0].input_tokens == 1000


def test_a_multi_line_quoted_field_keeps_line_numbers_of_later_rows_right():
    data = csv_bytes(line(kind='"Included\nin Business"'), line(date="nope"))
    assert parse(data).errors == ['line 4: column "Date": "nope" is not an ISO 8601 timestamp']


def test_zero_token_rows_are_skipped_and_counted():
    zero = line(cache_write="0", input_="0", cache_read="0", output="0", total="0")
    result = parse(csv_bytes(line(), zero, zero))
    assert (len(result.rows), result.skipped_zero) == (1, 2)


def test_empty_token_cells_count_as_zero():
    [row] = parse(csv_bytes(line(cache_write="", cache_read=""))).rows
    assert (row.cache_write_tokens, row.cache_read_tokens) == (0, 0)


def test_a_naive_timestamp_is_utc_and_users_are_lower_cased():
    [row] = parse(csv_bytes(line(date="2025-11-20T23:30:00", user="Ana@Example.com"))).rows
    assert row.timestamp_ms == epoch_ms(datetime(2025, 11, 20, 23, 30, tzinfo=UTC))
    assert row.identity == "cursor:ana@example.com"


def test_an_offset_timestamp_is_converted_to_the_utc_day():
    [row] = parse(csv_bytes(line(date="2025-11-20T23:30:00-05:00"))).rows
    assert row.date == date(2025, 11, 21)


def test_default_model_is_rewritten_like_the_api_and_empty_is_default():
    rows = parse(csv_bytes(line(model="default"), line(model="", date="2025-11-20T18:23:46Z"))).rows
    assert [(r.raw_model, r.model) for r in rows] == [("auto", MODEL_DEFAULT), (None, MODEL_DEFAULT)]


def test_same_millisecond_rows_get_the_api_ordinals():
    result = parse(csv_bytes(line(input_="2000"), line(input_="1000")))
    assert [(r.input_tokens, r.tool_record_id) for r in result.rows] == [(2000, "2"), (1000, "1")]


def test_a_file_with_three_bad_rows_reports_all_three_with_line_and_column():
    data = csv_bytes(
        line(),
        line(date="2025-13-01T10:00"),
        line(),
        line(input_="12.5"),
        line(user="not-an-email", cost="cheap"),
    )
    result = parse(data)
    assert result.rows == []
    assert result.errors == [
        'line 3: column "Date": "2025-13-01T10:00" is not an ISO 8601 timestamp',
        'line 5: column "Input (w/o Cache Write)": "12.5" is not a whole number of tokens',
        'line 6: column "User": "not-an-email" is not an email address',
        'line 6: column "Cost": "cheap" is not a dollar amount (e.g. "0.12", "$0.12", "Included", "-")',
    ]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"output": "-5"}, 'column "Output Tokens": "-5" is not a whole number of tokens'),
        ({"cache_read": "1,000"}, None),  # an unquoted comma splits the field → a field-count error
        ({"cost": "$-1"}, 'column "Cost": "$-1" is not a dollar amount'),
        ({"cost": "NaN"}, 'column "Cost": "NaN" is not a dollar amount'),
        ({"date": ""}, 'column "Date": "" is not an ISO 8601 timestamp'),
        ({"user": ""}, 'column "User": "" is not an email address'),
        ({"user": "a" * 200 + "@example.com"}, 'column "User": "aaaa'),
        ({"model": "m" * 129}, 'column "Model": "mmmm'),
    ],
)
def test_bad_values_are_named(kwargs, error):
    errors = parse(csv_bytes(line(**kwargs))).errors
    assert len(errors) == 1
    if error is None:
        assert errors == [
            "line 2: expected 11 fields like the header, found 12: column 12 onwards has no header (an unquoted comma?)"
        ]
    else:
        assert errors[0].startswith(f"line 2: {error}")


def test_missing_required_headers_are_all_named():
    header = ",".join(c for c in REQUIRED_COLUMNS if c not in ("User", "Cost"))
    assert parse(csv_bytes(header=header)).errors == ['line 1: missing column(s) "User", "Cost"']


def test_a_duplicated_required_header_is_refused():
    assert parse(csv_bytes(header=HEADER + ',"Cost"')).errors == ['line 1: column(s) appear more than once: "Cost"']


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "line 1: the file is empty"),
        (b"\xef\xbb\xbf\r\n", "line 1: the file is empty"),
        (b"\xff\xfeD\x00a\x00", "line 1: byte 1 of the line (offset 0) is not UTF-8 text"),
        (b"Date,User\nok,\xe9t\xe9\n", "line 2: byte 4 of the line (offset 13) is not UTF-8 text"),
    ],
)
def test_empty_and_non_utf8_files(data, error):
    assert parse(data).errors[0].startswith(error)


def test_malformed_quoting_is_reported_with_its_line():
    errors = parse(csv_bytes(line(), line(kind='"Included" in Business'))).errors
    assert len(errors) == 1
    assert errors[0].startswith('line 3: column "Kind": malformed CSV (')


def test_only_the_first_50_errors_are_listed_and_all_are_counted():
    result = parse(csv_bytes(*[line(date="bad")] * 200))
    assert (len(result.errors), result.error_count) == (50, 200)
    assert result.errors[0] == 'line 2: column "Date": "bad" is not an ISO 8601 timestamp'
    assert result.errors[49].startswith("line 51: ")
    assert CsvImportError(result.errors, result.error_count).summary == "200 problems; the first 50 are listed"
    assert CsvImportError(["one"]).summary == "1 problem"
    assert CsvImportError(["a", "b", "c"], 3).summary == "3 problems"


def test_blank_lines_are_ignored():
    result = parse(csv_bytes(line(), "", line(date="2025-11-20T18:23:46Z")))
    assert (len(result.rows), result.errors) == (2, [])


@pytest.mark.parametrize(
    ("keys", "label", "expected"),
    [
        ((), None, "cursor:default"),
        ((ProviderKey("core", "k"),), None, "cursor:core"),
        ((), "lab", "cursor:lab"),
        ((ProviderKey("core", "k"), ProviderKey("mobile", "k2")), "mobile", "cursor:mobile"),
        ((ProviderKey("core", "k"), ProviderKey("mobile", "k2")), " core ", "cursor:core"),
    ],
)
def test_the_organization_defaults_to_the_only_configured_team(keys, label, expected):
    assert csv_organization_id(Settings(cursor=CursorSettings(keys=keys)), label) == expected


TWO_TEAMS = Settings(cursor=CursorSettings(keys=(ProviderKey("core", "k"), ProviderKey("mobile", "k2"))))


@pytest.mark.parametrize(
    ("label", "error"),
    [
        (None, "2 Cursor teams are configured (core, mobile): say which one the file belongs to"),
        ("", "2 Cursor teams are configured (core, mobile)"),
        ("  ", "2 Cursor teams are configured (core, mobile)"),
        ("lab", 'team "lab" is not a configured Cursor team (configured: core, mobile)'),
        ("co\x00re", 'team "co\\x00re" is not a configured Cursor team'),
    ],
)
def test_with_several_teams_the_team_is_required_and_must_be_one_of_them(label, error):
    with pytest.raises(CsvImportError) as caught:
        csv_organization_id(TWO_TEAMS, label)
    assert caught.value.errors[0].startswith(error)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user": "ana\x00@example.com"}, 'line 2: column "User": contains a NUL byte'),
        ({"model": "gpt-5\x00"}, 'line 2: column "Model": contains a NUL byte'),
        ({"kind": "Usage\x00"}, 'line 2: column "Kind": contains a NUL byte'),
        ({"date": "\x002025-11-20T18:23:45Z"}, 'line 2: column "Date": contains a NUL byte'),
        ({"input_": "1\x000"}, 'line 2: column "Input (w/o Cache Write)": contains a NUL byte'),
        ({"cost": "\x07"}, 'line 2: column "Cost": contains the control character U+0007'),
        ({"model": '"gpt\n5"'}, 'line 2: column "Model": contains the control character U+000A'),
        ({"model": "gpt\x85"}, 'line 2: column "Model": contains the control character U+0085'),
        ({"date": "0001-01-01T00:00:00+01:00"}, 'line 2: column "Date": "0001-01-01T00:00:00+01:00" is not an ISO'),
        ({"date": "1999-12-31T23:59:59Z"}, 'line 2: column "Date": "1999-12-31T23:59:59Z" is outside the years'),
        ({"output": "1" + "0" * 12}, None),
        (
            {"output": "1" + "0" * 12 + "1"},
            'line 2: column "Output Tokens": "10000000000001" is more than 1,000,000,000,000 tokens',
        ),
        ({"output": "9" * 5000}, 'line 2: column "Output Tokens": "99999'),
        ({"cost": "100000.01"}, 'line 2: column "Cost": "100000.01" is more than $100,000'),
        ({"cost": "1" * 5000}, 'line 2: column "Cost": "1111'),
    ],
)
def test_control_characters_and_out_of_range_values_are_named_with_line_and_column(kwargs, error):
    result = parse(csv_bytes(line(**kwargs)))
    if error is None:
        assert result.errors == [] and len(result.rows) == 1
        return
    assert len(result.errors) == 1, result.errors
    assert result.errors[0].startswith(error)
    assert "\x00" not in result.errors[0], "a NUL byte is never echoed back"


def test_a_tab_in_an_ignored_column_is_accepted():
    assert parse(csv_bytes(line(kind="Included\tin Business"))).errors == []


def test_the_size_guard_refuses_a_file_before_reading_it(monkeypatch):
    from abacus.providers import cursor_csv

    monkeypatch.setattr(cursor_csv, "MAX_FILE_BYTES", 1000)
    result = parse(csv_bytes(*[line()] * 20))
    assert result.rows == []
    assert result.errors[0].startswith("line 1: the file is ")
    assert "the limit is 1,000 bytes" in result.errors[0]


@pytest.mark.parametrize("organization", ["core", "cursor:", "cursor:has space", "cursor:" + "x" * 60])
def test_an_invalid_team_is_refused_before_reading_the_file(organization):
    [error] = parse_cursor_csv(csv_bytes(line()), organization_id=organization).errors
    assert error.startswith("team ")


def test_a_short_row_names_the_first_missing_column():
    short = ",".join(line().split(",")[:9])
    assert parse(csv_bytes(short)).errors == [
        'line 2: expected 11 fields like the header, found 9: column "Total Tokens" onwards is missing'
    ]


def test_an_unterminated_quote_names_its_column():
    [error] = parse(csv_bytes(line(model='"gpt-5'))).errors
    assert error.startswith('line 2: column "Model": malformed CSV (')
