"""providers.md §1 and §3.3: Cursor usage events → usage rows (one per event), and window maths."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from abacus.domain.modelnames import MODEL_DEFAULT
from abacus.providers.cursor import (
    assign_same_millisecond_ordinals,
    epoch_ms,
    hour_floor,
    organization_id,
    parse_usage_events,
    split_windows,
    stored_raw_model,
)
from abacus.records import ProviderError

ORG = "cursor:core"
TS = 1736942400000  # 2025-01-15T12:00:00Z


def event(ts=TS, email="ana@example.com", model="claude-4.5-sonnet", i=1000, o=500, cw=0, cr=12000, cents=5.2, **extra):
    usage = {"inputTokens": i, "outputTokens": o}
    if cw is not None:
        usage["cacheWriteTokens"] = cw
    if cr is not None:
        usage["cacheReadTokens"] = cr
    if cents is not None:
        usage["totalCents"] = cents
    data = {
        "timestamp": str(ts),
        "model": model,
        "kind": "USAGE_EVENT_KIND_USAGE_BASED",
        "maxMode": False,
        "requestsCosts": 1,
        "tokenUsage": usage,
        **extra,
    }
    if email is not None:
        data["userEmail"] = email
    return data


def parse(*events):
    return parse_usage_events(list(events), organization_id=ORG)


def test_the_public_docs_example_becomes_one_row():
    [row], skipped = parse(event())
    assert skipped == 0
    assert row.date == date(2025, 1, 15)
    assert row.identity == "cursor:ana@example.com"
    assert (row.tool, row.raw_model, row.model) == ("cursor", "claude-4.5-sonnet", "sonnet-4.5")
    assert (row.input_tokens, row.cache_write_tokens, row.cache_read_tokens, row.output_tokens) == (1000, 0, 12000, 500)
    assert row.cost == Decimal("0.052")
    assert (row.timestamp_ms, row.tool_record_id, row.organization_id, row.customer_type) == (TS, None, ORG, None)


@pytest.mark.parametrize(
    ("model", "raw", "normalised"),
    [
        ("default", "auto", MODEL_DEFAULT),
        ("Default", "auto", MODEL_DEFAULT),
        ("auto", "auto", MODEL_DEFAULT),
        ("claude-4.5-sonnet-thinking", "claude-4.5-sonnet-thinking", "sonnet-4.5"),
        ("claude-4-sonnet (T)", "claude-4-sonnet (T)", "sonnet-4"),
        ("gpt-5", "gpt-5", "gpt-5"),
        (None, None, MODEL_DEFAULT),
    ],
)
def test_models_default_is_rewritten_to_auto_and_normalised(model, raw, normalised):
    [row], _ = parse(event(model=model))
    assert (row.raw_model, row.model) == (raw, normalised)
    assert stored_raw_model(model) == raw


@pytest.mark.parametrize(
    ("cents", "cost"),
    [(5.2, Decimal("0.052")), (450, Decimal("4.50")), (None, Decimal(0)), (0, Decimal(0)), (0.01, Decimal("0.0001"))],
)
def test_cost_is_total_cents_divided_by_100_and_0_when_absent(cents, cost):
    [row], _ = parse(event(cents=cents))
    assert row.cost == cost


def test_emails_are_lower_cased_and_a_missing_email_is_the_unknown_identity():
    rows, _ = parse(event(email="Ana@Example.COM"), event(ts=TS + 1, email=None), event(ts=TS + 2, email=""))
    assert [r.identity for r in rows] == ["cursor:ana@example.com", "cursor:unknown", "cursor:unknown"]


def test_zero_token_events_are_skipped_and_counted():
    no_usage = event(ts=TS + 1)
    del no_usage["tokenUsage"]
    rows, skipped = parse(event(), event(ts=TS + 2, i=0, o=0, cw=None, cr=None, cents=None), no_usage)
    assert len(rows) == 1
    assert skipped == 2


def test_missing_cache_counts_are_zero():
    [row], _ = parse(event(cw=None, cr=None))
    assert (row.cache_write_tokens, row.cache_read_tokens) == (0, 0)


def test_date_is_the_utc_day_of_the_timestamp():
    last_ms_of_day = epoch_ms(datetime(2025, 1, 15, 23, 59, 59, 999000, tzinfo=UTC))
    rows, _ = parse(event(ts=last_ms_of_day), event(ts=last_ms_of_day + 1))
    assert [r.date for r in rows] == [date(2025, 1, 15), date(2025, 1, 16)]


def test_a_numeric_timestamp_is_accepted_too():
    data = event()
    data["timestamp"] = TS
    [row], _ = parse(data)
    assert row.timestamp_ms == TS


# ---- same millisecond (§3.3) --------------------------------------------------------------------------------


def test_events_sharing_user_model_and_millisecond_get_ordinals_in_token_order():
    rows, _ = parse(event(i=3000), event(i=1000), event(i=2000))
    assert [(r.input_tokens, r.tool_record_id) for r in rows] == [(3000, "3"), (1000, "1"), (2000, "2")]
    assert len({r.dedupe_key for r in rows}) == 3


def test_ordinal_ties_on_input_are_broken_by_the_other_counts_then_cost():
    rows, _ = parse(event(o=9, cents=1), event(o=5, cents=2), event(o=5, cents=1))
    assert [r.tool_record_id for r in rows] == ["3", "2", "1"]


def test_ordinals_do_not_depend_on_the_order_events_arrive_in():
    a, b = event(i=10), event(i=20)
    first, _ = parse(a, b)
    second, _ = parse(b, a)
    assert sorted((r.input_tokens, r.tool_record_id) for r in first) == sorted(
        (r.input_tokens, r.tool_record_id) for r in second
    )


@pytest.mark.parametrize(
    "other",
    [
        {"ts": TS + 1},  # another millisecond
        {"email": "bo@example.com"},  # another user
        {"model": "gpt-5"},  # another model
    ],
)
def test_a_unique_millisecond_keeps_a_null_ordinal(other):
    rows, _ = parse(event(), event(**other))
    assert [r.tool_record_id for r in rows] == [None, None]


def test_a_zero_token_twin_does_not_give_its_sibling_an_ordinal():
    rows, _ = parse(event(), event(i=0, o=0, cw=0, cr=0))
    assert [r.tool_record_id for r in rows] == [None]


def test_assign_ordinals_is_a_pure_function_over_rows():
    rows, _ = parse(event(i=2), event(i=1))
    again = assign_same_millisecond_ordinals([r._replace(tool_record_id=None) for r in rows])
    assert [r.tool_record_id for r in again] == ["2", "1"]


# ---- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {k: v for k, v in event().items() if k != "timestamp"},
            "usageEvents[0]: response is missing field 'timestamp'",
        ),
        ({**event(), "timestamp": "2025-01-15"}, "usageEvents[0].timestamp: '2025-01-15' is not epoch milliseconds"),
        ({**event(), "timestamp": None}, "usageEvents[0].timestamp: None is not epoch milliseconds"),
        ({**event(), "tokenUsage": [1, 2]}, "usageEvents[0].tokenUsage: is not an object"),
        (
            {**event(), "tokenUsage": {"inputTokens": "many"}},
            "usageEvents[0].tokenUsage.inputTokens: 'many' is not a token count",
        ),
        (
            {**event(), "tokenUsage": {"inputTokens": 5, "totalCents": [1]}},
            "usageEvents[0].tokenUsage.totalCents: [1] is not an amount in cents",
        ),
        ({**event(), "userEmail": 42}, "usageEvents[0].userEmail: 42 is not a string"),
        ({**event(), "model": "m" * 129}, "usageEvents[0].model: 'mmmm"),
        ("oops", "usageEvents[0]: is not an object"),
    ],
)
def test_malformed_events_raise_a_provider_error_naming_the_field(data, message):
    with pytest.raises(ProviderError) as caught:
        parse_usage_events([data], organization_id=ORG, where="cursor usage_events (key core)")
    assert message in str(caught.value)
    assert str(caught.value).startswith("cursor usage_events (key core): ")


# ---- labels and windows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "org"), [("core", "cursor:core"), ("default", "cursor:default")])
def test_organization_id_is_cursor_label_also_for_default(label, org):
    assert organization_id(label) == org


def test_windows_are_at_most_one_day_and_cover_the_range_exactly():
    start = datetime(2025, 1, 10, 7, tzinfo=UTC)
    end = datetime(2025, 1, 12, 9, tzinfo=UTC)
    windows = split_windows(start, end)
    assert windows == [
        (start, datetime(2025, 1, 11, 7, tzinfo=UTC)),
        (datetime(2025, 1, 11, 7, tzinfo=UTC), datetime(2025, 1, 12, 7, tzinfo=UTC)),
        (datetime(2025, 1, 12, 7, tzinfo=UTC), end),
    ]
    assert split_windows(end, end) == []


def test_hour_floor_and_epoch_ms():
    assert hour_floor(datetime(2025, 1, 15, 12, 59, 59, 999999, tzinfo=UTC)) == datetime(2025, 1, 15, 12, tzinfo=UTC)
    assert epoch_ms(datetime(2025, 1, 15, 12, tzinfo=UTC)) == TS
