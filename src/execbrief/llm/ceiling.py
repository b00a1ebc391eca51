"""The spending ceiling: a run priced before its first paid call, refused above llm.max_cost_usd.

Input is what the provider's counting endpoint says (an estimate where it has none),
priced as the run is planned: the first persona writes the shared prefix to the cache,
the others read it. A batch's requests run in no set order and its cache hits are best
effort, so each of them is priced as writing its prefix at the 1-hour rate it asks for,
then the batch discount: the most a batch can cost, not the likely. Output is
priced at each persona's full max_tokens, the most it may write. A re-ask is not priced:
it happens only after an invalid answer. With llm.verify, each persona's second opinion
is priced on top at its model's price, without cache: its input estimated from
the persona's facts in view and the report it may write, its output at its full budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from execbrief.config import LlmConfig
from execbrief.errors import ExecbriefError, RefusedError
from execbrief.llm.base import BriefRequest, Provider
from execbrief.llm.pricing import (
    BATCH_CACHE_TTL,
    DEFAULT_MODEL,
    CacheTtl,
    cost_usd,
    estimate_tokens,
)
from execbrief.llm.schema import estimate_request_tokens
from execbrief.models import Usage


@dataclass(frozen=True)
class RunPrice:
    """What a run would cost at most, by the plan above."""

    cost_usd: float
    input_tokens: int
    output_tokens: int
    priced: bool  # False when no request's model has a known price


@dataclass(frozen=True)
class VerifyPlan:
    """The second opinion each persona's brief gets (llm.verify), as the ceiling prices it."""

    model: str
    input_tokens: Callable[[BriefRequest], int]
    output_tokens: int


def _input_tokens(provider: Provider, request: BriefRequest) -> int | None:
    """Counted input tokens; the estimate when counting fails; None for a provider that
    counts nothing because it bills nothing (offline)."""
    try:
        return provider.count_tokens(request)
    except ExecbriefError:
        return estimate_request_tokens(request)  # the calls themselves may still succeed


def price_run(
    provider: Provider,
    requests: list[BriefRequest],
    llm: LlmConfig,
    *,
    batch: bool = False,
    verify: VerifyPlan | None = None,
) -> RunPrice:
    """Price every persona's request with its output budget, and its second opinion."""
    total, inputs, outputs, priced = 0.0, 0, 0, False
    for index, request in enumerate(requests):
        tokens = _input_tokens(provider, request)
        if tokens is None:
            continue
        model = request.model or llm.model or DEFAULT_MODEL
        # the shared prefix's share of this request, as the estimate splits it
        estimated = max(estimate_request_tokens(request), 1)
        prefix = min(tokens, tokens * estimate_tokens(request.evidence) // estimated)
        if batch or index == 0:
            usage = Usage(
                input_tokens=tokens - prefix,
                cache_creation_input_tokens=prefix,
                output_tokens=request.max_tokens,
            )
        else:
            usage = Usage(
                input_tokens=tokens - prefix,
                cache_read_input_tokens=prefix,
                output_tokens=request.max_tokens,
            )
        ttl: CacheTtl = BATCH_CACHE_TTL if batch else "5m"
        cost = cost_usd(model, usage, llm.prices, batch=batch, cache_ttl=ttl)
        inputs += tokens
        outputs += request.max_tokens
        if verify is not None:
            # live, never batched: it asks about the answer once it is in
            asked = Usage(
                input_tokens=verify.input_tokens(request), output_tokens=verify.output_tokens
            )
            cost += cost_usd(verify.model, asked, llm.prices)
            inputs += asked.input_tokens
            outputs += asked.output_tokens
        priced = priced or cost > 0
        total += cost
    return RunPrice(round(total, 4), inputs, outputs, priced)


def check_ceiling(
    provider: Provider,
    requests: list[BriefRequest],
    llm: LlmConfig,
    *,
    batch: bool = False,
    verify: VerifyPlan | None = None,
) -> RunPrice | None:
    """RefusedError when the run would cost more than llm.max_cost_usd; None without one."""
    if llm.max_cost_usd is None or not requests:
        return None
    price = price_run(provider, requests, llm, batch=batch, verify=verify)
    if price.cost_usd > llm.max_cost_usd:
        second = f", a second opinion by {verify.model} included" if verify else ""
        raise RefusedError(
            f"this generate would cost up to ${price.cost_usd:.2f} ({len(requests)} personas: "
            f"{price.input_tokens:,} input tokens, up to {price.output_tokens:,} output tokens"
            f"{second}), above llm.max_cost_usd ${llm.max_cost_usd:.2f}; nothing was sent to "
            "the model",
            hint="raise llm.max_cost_usd, lower llm.max_tokens or llm.evidence_budget_tokens, "
            "generate fewer personas (--persona), or use --batch (half the price)"
            + (", or turn off llm.verify" if verify else ""),
        )
    return price
