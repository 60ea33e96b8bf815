"""providers.md §2.3: Claude Code analytics records → usage rows, and API key name → creator email."""

from datetime import date
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from abacus.domain.modelnames import MODEL_DEFAULT
from abacus.providers.anthropic import build_key_name_emails, parse_usage_records
from abacus.records import ProviderError

ORG = "5f1c2a9e-0000-4000-8000-000000000001"


def record(actor, *breakdown, day="2025-01-15T00:00:00Z", org=ORG, customer_type="api"):
    return {
        "date": day,
        "actor": actor,
        "organization_id": org,
        "customer_type": customer_type,
        "terminal_type": "vscode",
        "core_metrics": {"num_sessions": 1},
        "model_breakdown": list(breakdown),
    }


def entry(model, i=0, o=0, cr=0, cw=0, cents=0):
    return {
        "model": model,
        "tokens": {"input": i, "output": o, "cache_read": cr, "cache_creation": cw},
        "estimated_cost": {"currency": "USD", "amount": cents},
    }


def user(email):
    return {"type": "user_actor", "email_address": email}


def api(name):
    return {"type": "api_actor", "api_key_name": name}


SONNET = "claude-sonnet-4-20250514"


def test_the_public_docs_example_becomes_one_row():
    [row] = parse_usage_records([record(user("ana@example.com"), entry(SONNET, 1000, 200, 500, 100, 450))])
    assert row.date == date(2025, 1, 15)
    assert row.identity == "claude_code:ana@example.com"
    assert (row.tool, row.model, row.raw_model) == ("claude_code", "sonnet-4", SONNET)
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (1000, 200, 500, 100)
    assert row.cost == Decimal("4.50")
    assert (row.organization_id, row.customer_type) == (ORG, "api")
    assert (row.tool_record_id, row.timestamp_ms) == (None, None)


def test_two_api_keys_of_one_creator_are_two_identities_and_one_key_aggregates_its_records():
    # §2.3 example: two api_actor records for one day and model; with identities they stay per key name, and the
    # creator's email is resolved at store time. Two records of the SAME key aggregate into one row.
    records = [
        record(api("production-key"), entry(SONNET, 1000, 200, 500, 100, 150)),
        record(api("production-key"), entry(SONNET, 2000, 400, 300, 200, 250)),
    ]
    [row] = parse_usage_records(records)
    assert row.identity == "claude_code:production-key"
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens) == (3000, 600, 800, 300)
    assert row.cost == Decimal("4.00")


def test_records_of_different_keys_and_actors_stay_separate_rows():
    records = [
        record(api("production-key"), entry(SONNET, 1000, 200, 500, 100, 150)),
        record(api("development-key"), entry(SONNET, 2000, 400, 300, 200, 250)),
        record(user("ana@example.com"), entry(SONNET, 1, 1, 1, 1, 1)),
    ]
    identities = sorted(r.identity for r in parse_usage_records(records))
    assert identities == ["claude_code:ana@example.com", "claude_code:development-key", "claude_code:production-key"]


@pytest.mark.parametrize(
    ("cents", "dollars"),
    [
        (450, Decimal("4.50")),
        (1, Decimal("0.01")),
        (0, Decimal(0)),
        (12.34, Decimal("0.1234")),
        (0.1, Decimal("0.001")),
        (None, Decimal(0)),
    ],
)
def test_cost_is_cents_divided_by_100_exactly(cents, dollars):
    data = entry(SONNET, 1, 1, 1, 1)
    data["estimated_cost"]["amount"] = cents
    [row] = parse_usage_records([record(user("a@x.io"), data)])
    assert row.cost == dollars


def test_different_models_stay_separate_rows():
    rows = parse_usage_records([record(user("a@x.io"), entry("claude-opus-4-20250514", 1), entry(SONNET, 2))])
    assert sorted(r.model for r in rows) == ["opus-4", "sonnet-4"]


@pytest.mark.parametrize("empty", ["", None])
def test_an_empty_model_is_stored_with_raw_model_null_and_model_default(empty):
    data = entry(SONNET, 5)
    data["model"] = empty
    [row] = parse_usage_records([record(user("a@x.io"), data)])
    assert (row.raw_model, row.model) == (None, MODEL_DEFAULT)


def test_zero_token_entries_are_kept():
    [row] = parse_usage_records([record(user("a@x.io"), entry(SONNET))])
    assert (row.input_tokens, row.output_tokens, row.cost) == (0, 0, Decimal(0))


def test_an_empty_model_breakdown_yields_nothing():
    assert parse_usage_records([record(user("a@x.io"))]) == []


@pytest.mark.parametrize(
    ("actor", "identity"),
    [
        (user("Ana@Example.COM"), "claude_code:ana@example.com"),
        (api("CI-Pipeline"), "claude_code:ci-pipeline"),
        (api("  spaced-name "), "claude_code:spaced-name"),
    ],
)
def test_identities_are_lower_cased(actor, identity):
    [row] = parse_usage_records([record(actor, entry(SONNET, 1))])
    assert row.identity == identity


def test_emails_differing_only_in_case_aggregate_into_one_row():
    records = [record(user("Ana@x.io"), entry(SONNET, 1, cents=100)), record(user("ana@x.io"), entry(SONNET, 2))]
    [row] = parse_usage_records(records)
    assert (row.identity, row.input_tokens, row.cost) == ("claude_code:ana@x.io", 3, Decimal(1))


def test_customer_type_comes_from_the_first_record_of_the_group():
    records = [
        record(user("a@x.io"), entry(SONNET, 1), customer_type="subscription"),
        record(user("a@x.io"), entry(SONNET, 1), customer_type="api"),
    ]
    [row] = parse_usage_records(records)
    assert row.customer_type == "subscription"


def test_days_and_organizations_split_groups():
    records = [
        record(user("a@x.io"), entry(SONNET, 1), day="2025-01-15T00:00:00Z"),
        record(user("a@x.io"), entry(SONNET, 1), day="2025-01-16T00:00:00Z"),
        record(user("a@x.io"), entry(SONNET, 1), org="other-org"),
    ]
    assert sorted((r.date.isoformat(), r.organization_id) for r in parse_usage_records(records)) == [
        ("2025-01-15", ORG),
        ("2025-01-15", "other-org"),
        ("2025-01-16", ORG),
    ]


def test_missing_token_fields_count_as_zero():
    [row] = parse_usage_records([record(user("a@x.io"), {"model": SONNET, "tokens": {"input": 7}})])
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.cost) == (
        7,
        0,
        0,
        0,
        Decimal(0),
    )


def _without(data, *path):
    node = data
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: _without(r, "date"), "data[0]: response is missing field 'date'"),
        (lambda r: _without(r, "actor"), "data[0]: response is missing field 'actor'"),
        (lambda r: _without(r, "model_breakdown"), "data[0]: response is missing field 'model_breakdown'"),
        (lambda r: _without(r, "actor", "email_address"), "missing field 'actor.email_address'"),
        (lambda r: {**r, "date": "15/01/2025"}, "data[0].date: '15/01/2025' is not an RFC 3339 date"),
        (lambda r: {**r, "actor": {"type": "robot"}}, "data[0].actor.type: unknown actor type 'robot'"),
        (lambda r: {**r, "model_breakdown": {"model": "x"}}, "data[0].model_breakdown: is not a list"),
        (
            lambda r: {**r, "model_breakdown": [entry(SONNET, "12")]},
            "data[0].model_breakdown[0].tokens.input: '12' is not a token count",
        ),
        (
            lambda r: {**r, "model_breakdown": [entry(SONNET, 1.5)]},
            "data[0].model_breakdown[0].tokens.input: 1.5 is not a token count",
        ),
        (
            lambda r: {**r, "model_breakdown": [entry(SONNET, -1)]},
            "data[0].model_breakdown[0].tokens.input: -1 is not a token count",
        ),
        (
            lambda r: {**r, "model_breakdown": [entry(SONNET, cents="lots")]},
            "data[0].model_breakdown[0].estimated_cost.amount: 'lots' is not an amount in cents",
        ),
        (lambda r: "not an object", "data[0]: is not an object"),
        (lambda r: {**r, "organization_id": 42}, "data[0].organization_id: 42 is not a string"),
        (lambda r: {**r, "model_breakdown": [entry("m" * 129, 1)]}, "data[0].model_breakdown[0].model: 'mmmm"),
        (lambda r: {**r, "actor": api("k" * 201)}, "data[0].actor.api_key_name: 'kkkk"),
    ],
)
def test_malformed_records_raise_a_provider_error_naming_the_field(mutate, message):
    bad = mutate(record(user("a@x.io"), entry(SONNET, 1)))
    with pytest.raises(ProviderError) as caught:
        parse_usage_records([bad], where="anthropic usage_report (key acme)")
    assert message in str(caught.value)
    assert str(caught.value).startswith("anthropic usage_report (key acme): ")


def test_api_actor_without_key_name_names_the_field():
    with pytest.raises(ProviderError, match=r"missing field 'actor\.api_key_name'"):
        parse_usage_records([record({"type": "api_actor"}, entry(SONNET, 1))])


# ---- API key name → creator email ---------------------------------------------------------------------------

USERS = [
    {"id": "user_ana", "email": "Ana@Example.com"},
    {"id": "user_bo", "email": "bo@example.com"},
    {"id": "user_cy", "email": "cy@example.com"},
]


def key(name, creator, status):
    return {
        "id": f"apikey_{name}_{status}",
        "name": name,
        "created_by": {"id": creator, "type": "user"},
        "status": status,
    }


def test_each_key_name_maps_to_its_creators_lower_cased_email():
    names, orphans = build_key_name_emails(USERS, {"active": [key("Ana-Laptop", "user_ana", "active")]})
    assert names == {"ana-laptop": "ana@example.com"}
    assert orphans == []


def test_active_beats_inactive_beats_archived_on_a_name_clash_and_the_clash_is_logged():
    keys = {
        "active": [key("ci", "user_cy", "active")],
        "archived": [key("ci", "user_ana", "archived")],
        "inactive": [key("ci", "user_bo", "inactive"), key("paused", "user_bo", "inactive")],
    }
    with capture_logs() as logs:
        names, _ = build_key_name_emails(USERS, keys)
    assert names == {"ci": "cy@example.com", "paused": "bo@example.com"}
    clashes = [e for e in logs if e["event"] == "anthropic api key name clash"]
    assert [(e["replaced"], e["kept"]) for e in clashes] == [
        ("ana@example.com", "bo@example.com"),
        ("bo@example.com", "cy@example.com"),
    ]


def test_a_creator_missing_from_the_users_list_leaves_the_name_unmapped():
    names, orphans = build_key_name_emails(USERS, {"active": [key("orphan-script", "user_gone", "active")]})
    assert names == {}
    assert orphans == ["orphan-script"]


def test_an_orphan_name_also_held_by_a_known_creator_is_mapped():
    keys = {"archived": [key("ci", "user_gone", "archived")], "active": [key("ci", "user_bo", "active")]}
    names, orphans = build_key_name_emails(USERS, keys)
    assert names == {"ci": "bo@example.com"}
    assert orphans == []
