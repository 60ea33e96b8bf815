"""Token list prices (data/pricing.toml) and the cost of a token mix, in exact decimals (docs/providers.md §1.2)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from abacus.domain.modelnames import normalize_model_name

PRICING_RESOURCE = ("abacus.data", "pricing.toml")
_PER_TOKEN = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrice]
    fallback: ModelPrice

    def price_for(self, model: str) -> ModelPrice:
        """The price of a normalised model; a raw id is normalised first; anything unknown gets the fallback."""
        if model in self.models:
            return self.models[model]
        return self.models.get(normalize_model_name(model), self.fallback)


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def parse_price_table(text: str) -> PriceTable:
    """Build a price table from the TOML text of `pricing.toml`."""
    data = tomllib.loads(text, parse_float=Decimal)
    write_multiplier = _decimal(data["cache_write_multiplier"])
    read_multiplier = _decimal(data["cache_read_multiplier"])

    def entry(raw: dict[str, object]) -> ModelPrice:
        input_price = _decimal(raw["input"])
        return ModelPrice(
            input=input_price,
            output=_decimal(raw["output"]),
            cache_write=_decimal(raw.get("cache_write", input_price * write_multiplier)),
            cache_read=_decimal(raw.get("cache_read", input_price * read_multiplier)),
        )

    return PriceTable(
        models={name: entry(raw) for name, raw in data.get("models", {}).items()},
        fallback=entry(data["fallback"]),
    )


@cache
def price_table() -> PriceTable:
    """The bundled price table, read once."""
    package, name = PRICING_RESOURCE
    return parse_price_table(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def price_for(model: str) -> ModelPrice:
    """Price per million tokens of a (normalised) model; unknown models get the fallback (3 / 15)."""
    return price_table().price_for(model)


def price_tokens(
    model: str,
    input: int,
    cache_write: int,
    cache_read: int,
    output: int,
) -> Decimal:
    """Exact USD list cost of a token mix (unrounded Decimal)."""
    price = price_for(model)
    total = (
        input * price.input + cache_write * price.cache_write + cache_read * price.cache_read + output * price.output
    )
    return total / _PER_TOKEN
