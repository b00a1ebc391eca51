"""A stream that closes before its end marker is a retryable transport failure, not an answer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx  # httpx2 at run time: tests/httpx2_alias.py aliases it first
import pytest
import respx

from execbrief.config import LlmConfig
from execbrief.errors import ProviderError
from execbrief.llm.anthropic_api import AnthropicProvider
from execbrief.llm.openai_compat import OpenAICompatProvider
from execbrief.llm.retry import RetryPolicy
from execbrief.models import Report
from tests.messages_api_server import Fault, MessagesApiServer
from tests.test_llm_anthropic import make_request, report_json
from tests.test_llm_openai import BASE, MODEL, chunk, streamed


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with MessagesApiServer() as local:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", local.base_url)
        yield local


def _anthropic(max_attempts: int = 3) -> AnthropicProvider:
    policy = RetryPolicy(max_attempts=max_attempts, sleep=lambda _: None)
    return AnthropicProvider(LlmConfig(provider="anthropic"), retry=policy)


def test_a_stream_cut_before_message_stop_is_retried_not_parsed(
    server: MessagesApiServer,
) -> None:
    server.inject(Fault(200, truncate=True))

    result = _anthropic().generate(make_request())

    assert result.attempts == 2
    assert Report.model_validate_json(result.text).subject == "cto brief"
    assert len(server.messages()) == 2


def test_a_stream_that_keeps_being_cut_fails_as_a_provider_error(
    server: MessagesApiServer,
) -> None:
    server.inject(Fault(200, truncate=True), Fault(200, truncate=True))

    with pytest.raises(ProviderError, match="ended before message_stop") as raised:
        _anthropic(max_attempts=2).generate(make_request())

    assert raised.value.attempts == 2


def test_an_openai_stream_without_done_is_retried() -> None:
    text = report_json()
    cut = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=chunk(text[:40])
    )
    provider = OpenAICompatProvider(
        LlmConfig(provider="openai", base_url=BASE, model=MODEL),
        retry=RetryPolicy(max_attempts=3, sleep=lambda _: None),
    )
    with respx.mock(base_url=BASE) as api:
        api.post("/chat/completions").mock(side_effect=[cut, streamed(text)])

        result = provider.generate(make_request())

    assert (result.text, result.attempts) == (text, 2)
