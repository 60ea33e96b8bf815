"""providers.md §1.2: list prices per million tokens by normalised model, cache multipliers 1.25 / 0.1."""

from decimal import Decimal

import pytest

from abacus.domain.pricing import parse_price_table, price_for, price_table, price_tokens

D = Decimal


@pytest.mark.parametrize(
    ("model", "input_price", "output_price"),
    [
        ("opus-4.5", D("5"), D("25")),
        ("opus-4.1", D("15"), D("75")),
        ("opus-4", D("15"), D("75")),
        ("sonnet-4.5", D("3"), D("15")),
        ("sonnet-4", D("3"), D("15")),
        ("sonnet-3.7", D("3"), D("15")),
        ("sonnet-3.5", D("3"), D("15")),
        ("haiku-4.5", D("1"), D("5")),
        ("haiku-3.5", D("0.8"), D("4")),
        ("gpt-5", D("1.25"), D("10")),
        ("gpt-5-codex", D("1.25"), D("10")),
        ("composer-1", D("1.25"), D("10")),
        ("gemini-2.5-pro", D("1.25"), D("10")),
        ("o3", D("2"), D("8")),
        ("(default)", D("3"), D("15")),
        ("some-future-model", D("3"), D("15")),
    ],
)
def test_list_prices(model, input_price, output_price):
    price = price_for(model)
    assert (price.input, price.output) == (input_price, output_price)
    assert price.cache_write == input_price * D("1.25")
    assert price.cache_read == input_price * D("0.1")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("claude-opus-4-5-20251101", "opus-4.5"), ("claude-3-5-haiku-20241022", "haiku-3.5"), ("Auto", "(default)")],
)
def test_raw_ids_are_priced_as_their_normalised_model(raw, normalised):
    assert price_for(raw) == price_for(normalised)


@pytest.mark.parametrize(
    ("model", "tokens", "usd"),
    [
        ("sonnet-4.5", (1_000_000, 0, 0, 0), D("3")),
        ("sonnet-4.5", (0, 1_000_000, 0, 0), D("3.75")),
        ("sonnet-4.5", (0, 0, 1_000_000, 0), D("0.3")),
        ("sonnet-4.5", (0, 0, 0, 1_000_000), D("15")),
        ("opus-4.5", (1_000_000, 1_000_000, 1_000_000, 1_000_000), D("36.75")),
        ("haiku-3.5", (10, 20, 300, 5), D("0.000072")),
        ("gpt-5", (0, 0, 0, 0), D("0")),
        ("unknown-model", (2_000_000, 0, 0, 1_000_000), D("21")),
    ],
)
def test_price_tokens(model, tokens, usd):
    input_tokens, cache_write, cache_read, output = tokens
    cost = price_tokens(model, input_tokens, cache_write, cache_read, output)
    assert isinstance(cost, Decimal)
    assert cost == usd


def test_price_tokens_is_exact_for_tiny_amounts():
    # 1 token of Haiku 3.5 input is $0.0000008 exactly, not a float approximation.
    assert price_tokens("haiku-3.5", 1, 0, 0, 0) == D("0.0000008")


def test_bundled_table_prices_are_decimals():
    table = price_table()
    assert table.models
    for price in [*table.models.values(), table.fallback]:
        assert all(isinstance(v, Decimal) for v in (price.input, price.output, price.cache_write, price.cache_read))


def test_a_model_may_override_its_cache_prices():
    table = parse_price_table(
        """
        cache_write_multiplier = 1.25
        cache_read_multiplier = 0.1
        [fallback]
        input = 3
        output = 15
        [models."odd-1"]
        input = 2
        output = 4
        cache_read = 0.05
        """
    )
    price = table.price_for("odd-1")
    assert (price.cache_write, price.cache_read) == (D("2.5"), D("0.05"))
    assert table.price_for("other") == table.fallback
