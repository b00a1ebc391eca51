"""The spending ceiling: a run priced above llm.max_cost_usd is refused before any paid call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from execbrief.config import LlmConfig
from execbrief.errors import RefusedError
from execbrief.llm.base import BriefRequest
from execbrief.llm.ceiling import check_ceiling, price_run
from execbrief.llm.offline import OfflineProvider
from execbrief.llm.pricing import estimate_tokens
from execbrief.llm.schema import estimate_request_tokens
from tests.conftest import Cli
from tests.messages_api_server import MessagesApiServer, serving_anthropic
from tests.test_llm_anthropic import make_request


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with serving_anthropic(monkeypatch) as server:
        yield server


def _with_ceiling(workspace: Path, usd: float) -> None:
    config = workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace("concurrency: 8", f"concurrency: 8\n  max_cost_usd: {usd}")
    )


def test_a_run_above_the_ceiling_is_refused_before_any_paid_request(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    _with_ceiling(example_workspace, 0.05)

    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 2
    assert "would cost up to $" in result.err and "llm.max_cost_usd $0.05" in result.err
    assert "raise llm.max_cost_usd" in result.err
    assert api.messages() == []  # counted (a free endpoint), never asked
    assert {r.path for r in api.log} == {"/v1/messages/count_tokens"}


@pytest.mark.slow
def test_a_run_within_the_ceiling_goes_ahead(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    _with_ceiling(example_workspace, 50)

    result = cli("run", "--workspace", example_workspace, "--no-send", "--persona", "cfo")

    assert result.code == 0, result.err
    assert len(api.messages()) == 1


class Counted(OfflineProvider):
    """The offline provider, but counting (so billing) a fixed number of input tokens."""

    tokens = 10_000

    def count_tokens(self, request: BriefRequest) -> int | None:
        return self.tokens


def test_the_price_is_the_output_budget_plus_the_planned_cache() -> None:
    requests: list[BriefRequest] = [make_request(p) for p in ("ceo", "cfo", "cto")]
    llm = LlmConfig(provider="anthropic", model="claude-sonnet-5-5", max_tokens=8000)

    live = price_run(Counted(llm), requests, llm)
    batch = price_run(Counted(llm), requests, llm, batch=True)

    assert live.output_tokens == sum(r.max_tokens for r in requests)
    assert live.input_tokens == 30_000
    # output alone: 3 x 8,000 tokens at $10 a million; input at most the cache-write price
    assert 0.24 < live.cost_usd < 0.24 + 30_000 * 2.5 / 1e6
    assert batch.cost_usd < live.cost_usd


def test_a_batch_is_priced_as_if_every_request_wrote_its_prefix_for_an_hour() -> None:
    # One persona, 100,000 tokens in. At $2 a million input, a 1-hour cache write costs 2x:
    # priced without cache (0.5 x $0.20 = $0.10 of input), the ceiling would let through a
    # request whose prefix can cost up to twice that.
    llm = LlmConfig(provider="anthropic", model="claude-sonnet-5-5")
    counted = Counted(llm)
    counted.tokens = 100_000
    request = make_request("cfo")

    price = price_run(counted, [request], llm, batch=True)

    prefix = min(
        100_000, 100_000 * estimate_tokens(request.evidence) // estimate_request_tokens(request)
    )
    output = request.max_tokens * 10.0
    worst = ((100_000 - prefix) * 2.0 + prefix * 4.0 + output) / 1e6 * 0.5
    assert prefix > 0
    assert price.cost_usd == pytest.approx(worst, abs=1e-4)
    uncached = (100_000 * 2.0 + output) / 1e6 * 0.5
    assert price.cost_usd > uncached
    ceiling = llm.model_copy(update={"max_cost_usd": round(uncached + 0.001, 4)})
    with pytest.raises(RefusedError, match="would cost"):
        check_ceiling(counted, [request], ceiling, batch=True)


def test_a_provider_that_counts_nothing_costs_nothing_under_any_ceiling() -> None:
    llm = LlmConfig(max_cost_usd=0.0001)
    paid = Counted(llm)
    paid.tokens = 1_000_000

    assert check_ceiling(OfflineProvider(llm), [make_request()], llm) is not None
    with pytest.raises(RefusedError, match="would cost"):
        check_ceiling(paid, [make_request()], llm)
