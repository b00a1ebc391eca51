"""The bedrock provider: the anthropic request, signed for Bedrock, answered over respx in
AWS event-stream framing as bedrock-runtime sends it."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx  # httpx2 at run time: tests/httpx2_alias.py aliases it first
import pytest
import respx

from execbrief.config import LlmConfig
from execbrief.errors import ConfigError, ProviderError
from execbrief.llm.bedrock import BedrockProvider, default_bedrock_model
from execbrief.llm.pricing import DEFAULT_MODEL, cost_usd
from execbrief.llm.retry import RetryPolicy
from execbrief.llm.schema import report_schema
from execbrief.models import Usage
from tests.test_llm_anthropic import EVIDENCE, make_request, report_json

REGION = "eu-central-1"
RUNTIME = f"https://bedrock-runtime.{REGION}.amazonaws.com"
USAGE = {
    "input_tokens": 30,
    "output_tokens": 700,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 4800,
}


def _frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, its CRC, string headers, payload, CRC."""
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def chunk(event: dict[str, Any]) -> bytes:
    payload = {"bytes": base64.b64encode(json.dumps(event).encode()).decode()}
    headers = {
        ":event-type": "chunk",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return _frame(headers, json.dumps(payload).encode())


def start_event() -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_bdrk_1",
        "type": "message",
        "role": "assistant",
        "model": DEFAULT_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": USAGE,
    }
    return {"type": "message_start", "message": message}


def streamed(*blocks: tuple[dict[str, Any], dict[str, Any]]) -> httpx.Response:
    """A Bedrock response stream: message_start, each (start block, delta), usage, stop."""
    events: list[dict[str, Any]] = [start_event()]
    for index, (opening, delta) in enumerate(blocks):
        events += [
            {"type": "content_block_start", "index": index, "content_block": opening},
            {"type": "content_block_delta", "index": index, "delta": delta},
            {"type": "content_block_stop", "index": index},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": USAGE,
        },
        {"type": "message_stop"},
    ]
    return httpx.Response(
        200,
        headers={"content-type": "application/vnd.amazon.eventstream"},
        content=b"".join(chunk(event) for event in events),
    )


def text_answer(text: str) -> httpx.Response:
    return streamed(({"type": "text", "text": ""}, {"type": "text_delta", "text": text}))


def sent(route: respx.Route, call: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls[call].request.content)
    return body


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def provider(waits: list[float]) -> BedrockProvider:
    config = LlmConfig(provider="bedrock", region=REGION)
    return BedrockProvider(config, retry=RetryPolicy(max_attempts=3, sleep=waits.append))


@pytest.fixture
def runtime() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=RUNTIME, assert_all_called=False) as router:
        yield router


def stream_path(model: str) -> str:
    return f"/model/{model}/invoke-with-response-stream"


def test_brief_streams_from_the_default_inference_profile_signed_for_aws(
    provider: BedrockProvider, runtime: respx.MockRouter
) -> None:
    model = default_bedrock_model()
    route = runtime.post(stream_path(model)).mock(return_value=text_answer(report_json()))
    first_bytes: list[int] = []

    result = provider.generate(make_request(), lambda: first_bytes.append(1))

    usage = Usage(input_tokens=30, output_tokens=700, cache_read_input_tokens=4800)
    assert (result.text, result.model, result.usage) == (report_json(), model, usage)
    assert result.cost_usd == cost_usd(DEFAULT_MODEL, usage) > 0
    assert first_bytes == [1]
    request = route.calls[-1].request
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert f"/{REGION}/bedrock/aws4_request" in request.headers["authorization"]


def test_request_keeps_the_anthropic_shape_with_schema_and_cache_breakpoint(
    provider: BedrockProvider, runtime: respx.MockRouter
) -> None:
    route = runtime.post(stream_path(default_bedrock_model())).mock(
        return_value=text_answer(report_json())
    )

    provider.generate(make_request())

    body = sent(route)
    assert "model" not in body and "stream" not in body
    assert body["anthropic_version"]
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": report_schema()}}
    assert body["messages"][0]["content"][0] == {
        "type": "text",
        "text": EVIDENCE,
        "cache_control": {"type": "ephemeral"},
    }
    assert "temperature" not in body


def test_older_model_gets_the_schema_as_a_forced_tool(
    provider: BedrockProvider, runtime: respx.MockRouter
) -> None:
    model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    answer = json.loads(report_json())
    route = runtime.post(stream_path(model)).mock(
        return_value=streamed(
            (
                {"type": "tool_use", "id": "toolu_1", "name": "submit_report", "input": {}},
                {"type": "input_json_delta", "partial_json": json.dumps(answer)},
            )
        )
    )

    result = provider.generate(make_request(model=model))

    body = sent(route)
    assert body["tool_choice"] == {"type": "tool", "name": "submit_report"}
    assert body["tools"][0]["name"] == "submit_report"
    assert "output_config" not in body
    assert json.loads(result.text) == answer


def test_throttling_is_retried(
    provider: BedrockProvider, runtime: respx.MockRouter, waits: list[float]
) -> None:
    throttled = httpx.Response(429, json={"message": "Too many requests, please wait."})
    runtime.post(stream_path(default_bedrock_model())).mock(
        side_effect=[throttled, text_answer(report_json())]
    )

    assert provider.generate(make_request()).attempts == 2
    assert len(waits) == 1


def test_access_denied_fails_at_once_with_a_hint(
    provider: BedrockProvider, runtime: respx.MockRouter
) -> None:
    runtime.post(stream_path(default_bedrock_model())).mock(
        return_value=httpx.Response(403, json={"message": "not authorized to invoke this model"})
    )

    with pytest.raises(ProviderError, match="HTTP 403") as caught:
        provider.generate(make_request())

    assert (caught.value.provider, caught.value.attempts) == ("bedrock", 1)
    assert caught.value.hint is not None


def test_region_comes_from_config_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")

    from_env = BedrockProvider(LlmConfig(provider="bedrock")).client
    configured = BedrockProvider(LlmConfig(provider="bedrock", region=REGION)).client

    assert isinstance(from_env, anthropic.AnthropicBedrock)
    assert isinstance(configured, anthropic.AnthropicBedrock)
    assert (from_env.aws_region, configured.aws_region) == ("ap-southeast-2", REGION)


def test_missing_region_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

    with pytest.raises(ConfigError, match="needs an AWS region"):
        BedrockProvider(LlmConfig(provider="bedrock"))


def test_token_count_is_an_estimate(provider: BedrockProvider) -> None:
    assert provider.count_tokens(make_request()) >= len(EVIDENCE) // 4
