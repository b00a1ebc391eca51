"""Each provider's side of the second opinion: `ask` (one question, a schema'd answer) and
`small_model` (llm.verify_model's default)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx  # httpx2 at run time: tests/httpx2_alias.py aliases it first
import pytest
import respx

from execbrief.config import LlmConfig
from execbrief.errors import ProviderError
from execbrief.llm.anthropic_api import AnthropicProvider
from execbrief.llm.base import Question
from execbrief.llm.bedrock import BedrockProvider
from execbrief.llm.offline import OfflineProvider
from execbrief.llm.openai_compat import SCHEMA_NOTE, OpenAICompatProvider
from execbrief.llm.pricing import SMALL_MODEL, cost_usd
from execbrief.llm.retry import RetryPolicy
from execbrief.llm.schema import verify_schema
from execbrief.models import Usage
from tests.messages_api_server import Fault, MessagesApiServer
from tests.test_llm_openai import BASE, MODEL, sent, streamed

ANSWER = '{"unsupported": []}'


def _question(model: str = SMALL_MODEL) -> Question:
    return Question(
        model=model,
        system="Check the claims.",
        prompt="<facts>\n</facts>\n<claims>\n</claims>",
        answer_schema=verify_schema(),
        schema_name="verify_answer",
        max_tokens=500,
    )


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with MessagesApiServer(answer=lambda ctx: ANSWER) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        yield api


def test_anthropic_asks_its_smallest_model_with_the_schema_as_native_output(
    server: MessagesApiServer,
) -> None:
    provider = AnthropicProvider(LlmConfig(provider="anthropic"))

    result = provider.ask(_question(provider.small_model() or ""))

    [call] = server.messages()
    body = call.body or {}
    assert body["model"] == SMALL_MODEL == "claude-haiku-5-5"
    assert body["output_config"]["format"]["schema"] == verify_schema()
    assert "stream" not in body or body["stream"] is False
    assert result.text == ANSWER
    usage = Usage.model_validate(call.usage)
    assert (result.usage, result.cost_usd) == (usage, cost_usd(SMALL_MODEL, usage))


def test_an_older_model_gets_the_answer_schema_as_a_forced_tool(
    server: MessagesApiServer,
) -> None:
    provider = AnthropicProvider(LlmConfig(provider="anthropic"))

    result = provider.ask(_question("claude-3-5-haiku-20241022"))

    body = server.messages()[0].body or {}
    assert "output_config" not in body
    assert body["tool_choice"] == {"type": "tool", "name": "submit_answer"}
    assert body["tools"][0]["input_schema"]["properties"] == verify_schema()["properties"]
    assert json.loads(result.text) == json.loads(ANSWER)


def test_anthropic_ask_goes_through_the_retry_policy(server: MessagesApiServer) -> None:
    waits: list[float] = []
    provider = AnthropicProvider(
        LlmConfig(provider="anthropic"), retry=RetryPolicy(max_attempts=2, sleep=waits.append)
    )
    server.inject(Fault(529), Fault(529))

    with pytest.raises(ProviderError, match="after 2 attempt") as caught:
        provider.ask(_question())

    assert caught.value.status == 529
    assert len(waits) == 1


def test_bedrock_and_offline_name_their_smallest_model() -> None:
    bedrock = BedrockProvider(LlmConfig(provider="bedrock", region="us-west-2"))

    assert bedrock.small_model() == f"global.anthropic.{SMALL_MODEL}"
    assert OfflineProvider(LlmConfig()).small_model() is None
    with pytest.raises(ProviderError, match="no model to ask"):
        OfflineProvider(LlmConfig()).ask(_question())


@pytest.fixture
def openai() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def test_openai_asks_with_a_json_schema_then_json_mode_if_refused(
    openai: respx.MockRouter,
) -> None:
    provider = OpenAICompatProvider(
        LlmConfig(provider="openai", base_url=BASE, model=MODEL),
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None),
    )
    refusal = httpx.Response(
        400, json={"error": {"message": "response_format type json_schema is not supported"}}
    )
    usage = {"prompt_tokens": 300, "completion_tokens": 20}
    route = openai.post("/chat/completions").mock(side_effect=[refusal, streamed(ANSWER, usage)])

    result = provider.ask(_question(provider.small_model() or ""))

    first, second = sent(route, 0), sent(route, 1)
    assert provider.small_model() == MODEL
    assert first["response_format"]["json_schema"]["name"] == "verify_answer"
    assert first["response_format"]["json_schema"]["schema"] == verify_schema()
    assert second["response_format"] == {"type": "json_object"}
    assert second["messages"][1]["content"].endswith(SCHEMA_NOTE + json.dumps(verify_schema()))
    assert (result.text, result.attempts) == (ANSWER, 2)
    assert result.usage == Usage(input_tokens=300, output_tokens=20)
