"""Model prices, token estimates and what a call cost; the default models are named here only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from execbrief.config import ModelPrice
from execbrief.models import Usage

DEFAULT_MODEL = "claude-sonnet-5-5"
# The smallest, cheapest model: what llm.verify asks unless llm.verify_model says otherwise.
SMALL_MODEL = "claude-haiku-5-5"

# The prompt cache's time-to-live: 5 minutes for live calls, 1 hour for a batch, whose
# requests may run long after one another.
CacheTtl = Literal["5m", "1h"]
BATCH_CACHE_TTL: CacheTtl = "1h"

CHARS_PER_TOKEN = 4

CACHE_WRITE_RATIO = 1.25  # a 5-minute cache write
CACHE_WRITE_1H_RATIO = 2.0  # a 1-hour cache write
CACHE_READ_RATIO = 0.1
BATCH_DISCOUNT = 0.5


def _price(input: float, output: float, *, read_ratio: float = CACHE_READ_RATIO) -> ModelPrice:
    return ModelPrice(
        input=input,
        output=output,
        cache_write=round(input * CACHE_WRITE_RATIO, 6),
        cache_read=round(input * read_ratio, 6),
        cache_write_1h=round(input * CACHE_WRITE_1H_RATIO, 6),
    )


# USD per million tokens, Anthropic list prices as of 2026-11: 5-minute cache writes at
# 1.25x input, 1-hour cache writes at 2x input.
# Sonnet 5.5 and Opus 5.5 read the cache at 0.05x input, not the usual 0.1x.
PRICES: dict[str, ModelPrice] = {
    "claude-fable-5-1": _price(10.0, 50.0, read_ratio=0.025),
    "claude-mythos-5-1": _price(10.0, 50.0, read_ratio=0.025),
    "claude-fable-5": _price(10.0, 50.0),
    "claude-mythos-5": _price(10.0, 50.0),
    "claude-opus-5-5": _price(4.0, 20.0, read_ratio=0.05),
    "claude-opus-5": _price(5.0, 25.0),
    "claude-opus-4-8": _price(5.0, 25.0),
    "claude-opus-4-7": _price(5.0, 25.0),
    "claude-opus-4-6": _price(5.0, 25.0),
    "claude-opus-4-5": _price(5.0, 25.0),
    "claude-sonnet-5-5": _price(2.0, 10.0, read_ratio=0.05),
    "claude-sonnet-5": _price(2.0, 10.0),
    "claude-sonnet-4-6": _price(3.0, 15.0),
    "claude-sonnet-4-5": _price(3.0, 15.0),
    # Haiku 5.5's price for prompts up to 100k tokens; longer prompts cost 5x.
    "claude-haiku-5-5": _price(0.10, 0.50),
    "claude-haiku-4-5": _price(1.0, 5.0),
}

# Bedrock and Vertex spell the same model `us.anthropic.claude-x-v1:0` or `claude-x@2025...`;
# dated ids such as `claude-haiku-4-5-20251001` price like their alias.
_DECORATIONS = re.compile(
    r"^(?:(?:us|eu|apac|global|jp|au)\.)?(?:anthropic[./])?|(?:-\d{8})?(?:-v\d+(?::\d+)?)?(?:@\d+)?$"
)


def canonical_model(model: str) -> str:
    """The price-table name of a model id as any provider spells it."""
    return _DECORATIONS.sub("", model.strip().lower())


def price_for(model: str, overrides: Mapping[str, ModelPrice] | None = None) -> ModelPrice | None:
    """The price of a model: config overrides first (exact, then canonical name), then the table."""
    overrides = overrides or {}
    name = canonical_model(model)
    return overrides.get(model) or overrides.get(name) or PRICES.get(name)


def cost_usd(
    model: str,
    usage: Usage,
    overrides: Mapping[str, ModelPrice] | None = None,
    *,
    batch: bool = False,
    cache_ttl: CacheTtl = "5m",
) -> float:
    """What a call with this usage cost; 0.0 for a model with no known price (e.g. local).

    Cache writes are priced at the time-to-live the request asked for.
    """
    price = price_for(model, overrides)
    if price is None:
        return 0.0
    write = price.cache_write
    if cache_ttl == "1h":
        write = (
            price.cache_write_1h
            if price.cache_write_1h is not None
            else price.input * CACHE_WRITE_1H_RATIO
        )
    total = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_input_tokens * write
        + usage.cache_read_input_tokens * price.cache_read
    ) / 1_000_000
    return round(total * (BATCH_DISCOUNT if batch else 1.0), 6)


def estimate_tokens(*texts: str) -> int:
    """A provider-neutral token estimate (four characters a token) where no counter exists."""
    return sum(len(text) for text in texts) // CHARS_PER_TOKEN
