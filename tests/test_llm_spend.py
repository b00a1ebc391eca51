"""What a persona's generation cost is never lost: failed answers count in the manifest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from execbrief import pipeline
from execbrief.config import LlmConfig, load_workspace
from execbrief.errors import ProviderError
from execbrief.generate import (
    GenerationContext,
    fit_to_budget,
    generate_reports,
    prompt_environment,
)
from execbrief.llm.base import BriefRequest, BriefResult, FirstByte, Question
from execbrief.models import Manifest, PersonaStatus, Usage
from tests.conftest import Cli
from tests.messages_api_server import AnswerContext, MessagesApiServer, serving_anthropic


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with serving_anthropic(monkeypatch) as server:
        yield server


def _manifest(workspace: Path) -> Manifest:
    latest = workspace.parent.parent / "outputs" / "latest" / "manifest.json"
    return Manifest.model_validate_json(latest.read_bytes())


def _not_a_report(ctx: AnswerContext) -> str:
    return '{"subject": "a brief without its findings"}'


@pytest.mark.slow
def test_two_paid_invalid_answers_are_counted_in_the_manifest_and_the_summary(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    api.answer = _not_a_report

    result = cli("run", "--workspace", example_workspace, "--no-send", "--persona", "cfo")

    assert result.code == 1
    [outcome] = _manifest(example_workspace).personas.values()
    assert outcome.status is PersonaStatus.FAILED
    assert "after one re-ask" in (outcome.error or "")
    calls = api.messages()
    assert len(calls) == 2
    billed_in = sum(
        c.usage["input_tokens"]
        + c.usage["cache_creation_input_tokens"]
        + c.usage["cache_read_input_tokens"]
        for c in calls
    )
    billed_out = sum(c.usage["output_tokens"] for c in calls)
    assert outcome.attempts == 2
    assert outcome.usage.total == billed_in + billed_out
    assert outcome.usage.output_tokens == billed_out
    assert outcome.cost_usd > 0
    assert f"{outcome.usage.total:,}" in result.out
    assert f"${outcome.cost_usd:.2f}" in result.out


class PaidThenDown:
    """A first answer that is paid for but invalid; the re-ask then fails."""

    name = "paid"

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        if request.repair is not None:
            raise ProviderError("HTTP 500 after 2 attempts", provider="paid", attempts=2)
        if on_first_byte:
            on_first_byte()
        return BriefResult(text="not json", model="paid", usage=PAID, attempts=1, cost_usd=0.25)

    def count_tokens(self, request: BriefRequest) -> int | None:
        return None

    def small_model(self) -> str | None:
        return None

    def ask(self, question: Question) -> BriefResult:
        raise AssertionError("no second opinion is asked for here")


PAID = Usage(input_tokens=1000, output_tokens=200)


def test_a_provider_error_on_the_re_ask_keeps_the_first_paid_answer(
    example_workspace: Path,
) -> None:
    workspace = load_workspace(example_workspace)
    run, bundle = pipeline.collect(workspace)
    personas = pipeline.personas_for(workspace, ["cfo"])
    requests = fit_to_budget(prompt_environment(None), bundle, personas, LlmConfig(), {})

    [outcome] = generate_reports(
        GenerationContext(
            run=run, bundle=bundle, provider=PaidThenDown(), provider_name="paid", concurrency=1
        ),
        requests,
    )

    assert outcome.status is PersonaStatus.FAILED
    assert (outcome.usage, outcome.cost_usd, outcome.attempts) == (PAID, 0.25, 3)
    assert run.read_manifest().personas["cfo"] == outcome
