"""The openai provider against an OpenAI-compatible chat completions endpoint (respx)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx  # httpx2 at run time: tests/httpx2_alias.py aliases it first
import pytest
import respx

from execbrief.config import LlmConfig, ModelPrice
from execbrief.errors import ConfigError, ProviderError
from execbrief.llm.base import BriefResult, Repair
from execbrief.llm.openai_compat import SCHEMA_NOTE, OpenAICompatProvider
from execbrief.llm.retry import RetryPolicy
from execbrief.llm.schema import report_schema
from execbrief.models import Usage
from tests.test_llm_anthropic import EVIDENCE, SYSTEM, make_request, report_json

BASE = "http://localhost:11434/v1"
MODEL = "qwen3:32b"


def chunk(content: str | None = None, usage: dict[str, Any] | None = None) -> str:
    payload: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "model": MODEL}
    payload["choices"] = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    if usage is not None:
        payload["usage"] = usage
    return f"data: {json.dumps(payload)}\n\n"


def streamed(text: str, usage: dict[str, Any] | None = None) -> httpx.Response:
    half = len(text) // 2
    body = chunk(text[:half]) + chunk(text[half:]) + chunk(usage=usage) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def sent(route: respx.Route, call: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[call].request.content)
    return body


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def config() -> LlmConfig:
    return LlmConfig(provider="openai", base_url=BASE, model=MODEL)


@pytest.fixture
def provider(config: LlmConfig, waits: list[float]) -> OpenAICompatProvider:
    return OpenAICompatProvider(config, retry=RetryPolicy(max_attempts=3, sleep=waits.append))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def test_answer_streams_with_json_schema_output_and_usage(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    usage: dict[str, Any] = {
        "prompt_tokens": 6000,
        "completion_tokens": 800,
        "prompt_tokens_details": {"cached_tokens": 5000},
    }
    route = api.post("/chat/completions").mock(return_value=streamed(report_json(), usage))
    first_bytes: list[int] = []

    result = provider.generate(make_request(), lambda: first_bytes.append(1))

    assert result == BriefResult(
        text=report_json(),
        model=MODEL,
        usage=Usage(input_tokens=1000, output_tokens=800, cache_read_input_tokens=5000),
        attempts=1,
    )
    assert first_bytes == [1]
    body = sent(route)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "report", "strict": True, "schema": report_schema()},
    }
    assert (body["model"], body["stream"], "temperature" in body) == (MODEL, True, False)


def test_shared_prefix_comes_first_and_persona_text_last(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    route = api.post("/chat/completions").mock(return_value=streamed(report_json()))

    provider.generate(make_request("cto"))
    provider.generate(make_request("cfo"))

    cto, cfo = sent(route, 0)["messages"], sent(route, 1)["messages"]
    assert cto[0] == cfo[0] == {"role": "system", "content": SYSTEM}
    assert cto[1]["content"].startswith(EVIDENCE + "\n\n")
    assert cfo[1]["content"].startswith(EVIDENCE + "\n\n")
    assert cto[1]["content"].endswith(
        "persona: cto\nWrite the CTO brief.\n- `agenda` (Agenda): thirty days."
    )


def test_server_without_json_schema_is_asked_in_json_mode_from_then_on(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    refusal = httpx.Response(
        400, json={"error": {"message": "response_format type json_schema is not supported"}}
    )
    route = api.post("/chat/completions").mock(
        side_effect=[refusal, streamed(report_json()), streamed(report_json())]
    )

    first = provider.generate(make_request())
    provider.generate(make_request())

    assert first.attempts == 2
    assert [sent(route, n)["response_format"]["type"] for n in range(3)] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert sent(route, 1)["messages"][1]["content"].endswith(
        SCHEMA_NOTE + json.dumps(report_schema())
    )


def test_unavailable_server_is_retried(
    provider: OpenAICompatProvider, api: respx.MockRouter, waits: list[float]
) -> None:
    api.post("/chat/completions").mock(
        side_effect=[httpx.Response(503, headers={"retry-after": "2"}), streamed(report_json())]
    )

    assert provider.generate(make_request()).attempts == 2
    assert waits == [2.0]


def test_failure_beyond_the_cap_names_status_and_attempts(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    api.post("/chat/completions").mock(
        return_value=httpx.Response(500, json={"error": {"message": "model crashed"}})
    )

    with pytest.raises(ProviderError, match=r"after 3 attempt.*HTTP 500: model crashed") as caught:
        provider.generate(make_request())

    assert (caught.value.provider, caught.value.attempts) == ("openai", 3)


def test_error_inside_the_stream_is_retried(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    broken = httpx.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content='data: {"error": {"message": "out of memory"}}\n\n',
    )
    api.post("/chat/completions").mock(side_effect=[broken, streamed(report_json())])

    assert provider.generate(make_request()).attempts == 2


def test_repair_adds_the_answer_and_the_errors_as_turns(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    route = api.post("/chat/completions").mock(return_value=streamed(report_json()))
    repair = Repair(answer="not json", errors="Invalid JSON: expected value at line 1")

    provider.generate(make_request(repair=repair))

    assert sent(route)["messages"][2:] == [
        {"role": "assistant", "content": "not json"},
        {"role": "user", "content": repair.errors},
    ]


def test_answer_without_json_is_returned_as_text(
    provider: OpenAICompatProvider, api: respx.MockRouter
) -> None:
    api.post("/chat/completions").mock(return_value=streamed("Sorry, no."))

    assert provider.generate(make_request()).text == "Sorry, no."


def test_api_key_from_the_environment_is_sent(
    monkeypatch: pytest.MonkeyPatch, config: LlmConfig, api: respx.MockRouter
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "local-key")
    route = api.post("/chat/completions").mock(return_value=streamed(report_json()))

    OpenAICompatProvider(config).generate(make_request())

    assert route.calls[-1].request.headers["authorization"] == "Bearer local-key"


def test_configured_price_gives_a_local_model_a_cost(api: respx.MockRouter) -> None:
    price = ModelPrice(input=1, output=1, cache_write=1, cache_read=1)
    config = LlmConfig(provider="openai", base_url=BASE, model=MODEL, prices={MODEL: price})
    api.post("/chat/completions").mock(
        return_value=streamed(
            report_json(), {"prompt_tokens": 500_000, "completion_tokens": 500_000}
        )
    )

    assert OpenAICompatProvider(config).generate(make_request()).cost_usd == 1.0


def test_token_count_is_an_estimate_of_the_whole_prompt(provider: OpenAICompatProvider) -> None:
    counted = provider.count_tokens(make_request())

    assert counted >= (len(SYSTEM) + len(EVIDENCE) + len(json.dumps(report_schema()))) // 4


def test_missing_base_url_or_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)

    with pytest.raises(ConfigError, match="base URL"):
        OpenAICompatProvider(LlmConfig(provider="openai", model=MODEL))
    with pytest.raises(ConfigError, match="model name"):
        OpenAICompatProvider(LlmConfig(provider="openai", base_url=BASE))
