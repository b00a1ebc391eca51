"""The `anthropic` provider: the official SDK, streamed, with native JSON-schema output.

Every persona's request shares one prefix, byte for byte, in the order the prompt cache
reads it: the output schema, the system text, then the evidence block, which ends in the
cache breakpoint. What differs per persona (its instructions, a repair turn) comes after
it, so one cache write serves every persona.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import anthropic
import httpx2
from anthropic.types import (
    CacheControlEphemeralParam,
    Message,
    MessageParam,
    OutputConfigParam,
    TextBlockParam,
    ToolChoiceToolParam,
    ToolParam,
)
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from execbrief.config import LlmConfig
from execbrief.errors import ConfigError
from execbrief.llm.base import CONNECT_TIMEOUT, BriefRequest, BriefResult, FirstByte, Question
from execbrief.llm.pricing import DEFAULT_MODEL, SMALL_MODEL, CacheTtl, cost_usd
from execbrief.llm.retry import Failure, RetryPolicy, short_body, status_failure, transport_failure
from execbrief.llm.schema import report_schema
from execbrief.models import Usage

REPORT_TOOL = "submit_report"
ANSWER_TOOL = "submit_answer"

# Models from before native structured output; on them a forced tool carries the schema.
# Current models refuse forced tool use, so this list only ever shrinks.
_LEGACY_MODELS = re.compile(r"claude-(?:instant|2|3)[-.]|claude-(?:sonnet|opus)-4-(?:0|\d{8})")

# A stream that fails after it began reports its error as an event inside an HTTP 200;
# its type says what the status would have been.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class TruncatedStream(Exception):
    """A stream that closed before `message_stop`: half an answer, not an answer."""


def uses_native_schema(model: str) -> bool:
    """Whether the model takes `output_config.format`; older ones need a forced tool."""
    return _LEGACY_MODELS.search(model) is None


@dataclass(frozen=True)
class MessageShape:
    """One persona's Messages API request, shared by streaming, batch and token counting."""

    model: str
    max_tokens: int
    system: list[TextBlockParam]
    messages: list[MessageParam]
    output_config: OutputConfigParam | None
    tools: list[ToolParam] | None
    tool_choice: ToolChoiceToolParam | None

    def create_params(self) -> MessageCreateParamsNonStreaming:
        """The request's parameters for a plain call and a batch entry."""
        params: MessageCreateParamsNonStreaming = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "system": self.system,
            "messages": self.messages,
        }
        if self.output_config is not None:
            params["output_config"] = self.output_config
        if self.tools is not None and self.tool_choice is not None:
            params["tools"] = self.tools
            params["tool_choice"] = self.tool_choice
        return params


def shape_request(request: BriefRequest, model: str, cache_ttl: CacheTtl = "5m") -> MessageShape:
    """The request for one persona: cached prefix (system, schema, evidence), then the rest.

    The breakpoint asks for the 5-minute cache (the API's default, so no `ttl` is sent)
    or, for a batch, the 1-hour one.
    """
    marker: CacheControlEphemeralParam = {"type": "ephemeral"}
    if cache_ttl == "1h":
        marker["ttl"] = "1h"
    content: list[TextBlockParam] = [
        {"type": "text", "text": request.evidence, "cache_control": marker},
        {"type": "text", "text": request.instructions},
    ]
    messages: list[MessageParam] = [{"role": "user", "content": content}]
    if request.repair is not None:
        messages.append({"role": "assistant", "content": request.repair.answer or "(empty)"})
        messages.append({"role": "user", "content": request.repair.errors})
    system: list[TextBlockParam] = [{"type": "text", "text": request.system}]
    if uses_native_schema(model):
        return MessageShape(
            model=model,
            max_tokens=request.max_tokens,
            system=system,
            messages=messages,
            output_config={"format": {"type": "json_schema", "schema": report_schema()}},
            tools=None,
            tool_choice=None,
        )
    tool: ToolParam = {
        "name": REPORT_TOOL,
        "description": "Submit the finished brief as a report.",
        "input_schema": {"type": "object", **report_schema()},
    }
    return MessageShape(
        model=model,
        max_tokens=request.max_tokens,
        system=system,
        messages=messages,
        output_config=None,
        tools=[tool],
        tool_choice={"type": "tool", "name": REPORT_TOOL},
    )


def shape_question(question: Question) -> MessageShape:
    """A one-off question: its schema as native output (a forced tool on older models)."""
    system: list[TextBlockParam] = [{"type": "text", "text": question.system}]
    messages: list[MessageParam] = [{"role": "user", "content": question.prompt}]
    if uses_native_schema(question.model):
        return MessageShape(
            model=question.model,
            max_tokens=question.max_tokens,
            system=system,
            messages=messages,
            output_config={"format": {"type": "json_schema", "schema": question.answer_schema}},
            tools=None,
            tool_choice=None,
        )
    tool: ToolParam = {
        "name": ANSWER_TOOL,
        "description": f"Submit the {question.schema_name.replace('_', ' ')}.",
        "input_schema": {"type": "object", **question.answer_schema},
    }
    return MessageShape(
        model=question.model,
        max_tokens=question.max_tokens,
        system=system,
        messages=messages,
        output_config=None,
        tools=[tool],
        tool_choice={"type": "tool", "name": ANSWER_TOOL},
    )


def answer_text(message: Message, tool: str = REPORT_TOOL) -> str:
    """The JSON the model produced: the forced tool's input, else its text blocks."""
    for block in message.content:
        if block.type == "tool_use" and block.name == tool:
            return json.dumps(block.input)
    return "".join(block.text for block in message.content if block.type == "text")


def usage_of(message: Message) -> Usage:
    usage = message.usage
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
    )


def classify(
    exc: BaseException, error_statuses: Mapping[str, int] = ERROR_TYPE_STATUS
) -> Failure | None:
    """What an SDK error means to the retry policy; `error_statuses` maps in-stream error
    types to the status they stand for."""
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status < 400:
            status = error_statuses.get(str(exc.type or "").lower(), 500)
        detail = exc.api_message or short_body(exc.body if exc.body is not None else exc)
        return status_failure(status, detail, exc.response.headers)
    if isinstance(exc, TruncatedStream):
        return Failure(status=None, retryable=True, detail=str(exc))
    if isinstance(exc, anthropic.APITimeoutError):
        return Failure(status=None, retryable=True, detail="request timed out")
    if isinstance(exc, anthropic.APIConnectionError):
        return Failure(status=None, retryable=True, detail=f"connection failed: {exc.message}")
    if isinstance(exc, anthropic.AnthropicError):
        return Failure(status=None, retryable=False, detail=short_body(exc))
    return transport_failure(exc)


class AnthropicProvider:
    """Claude through the Anthropic API (or whatever ANTHROPIC_BASE_URL points at)."""

    name = "anthropic"
    error_statuses: Mapping[str, int] = ERROR_TYPE_STATUS

    def __init__(self, config: LlmConfig, *, retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.model = config.model or self.default_model()
        self.retry = retry or RetryPolicy.from_config(config)
        self.client = self.connect()

    def default_model(self) -> str:
        return DEFAULT_MODEL

    def small_model(self) -> str | None:
        return SMALL_MODEL

    def connect(self) -> anthropic.Anthropic | anthropic.AnthropicBedrock:
        # The SDK's own retries are off so they do not stack with llm/retry.py's.
        hint = "Set ANTHROPIC_API_KEY, or use provider: offline."
        try:
            client = anthropic.Anthropic(max_retries=0, timeout=self._timeout())
        except anthropic.CredentialsError as exc:
            raise ConfigError(
                f"no Anthropic credentials found: {exc}", field="llm.provider", hint=hint
            ) from exc
        if client.api_key is None and client.auth_token is None and client.credentials is None:
            raise ConfigError("no Anthropic credentials found", field="llm.provider", hint=hint)
        return client

    def classify(self, exc: BaseException) -> Failure | None:
        return classify(exc, self.error_statuses)

    def _timeout(self) -> httpx2.Timeout:
        return httpx2.Timeout(self.config.timeout_seconds, connect=CONNECT_TIMEOUT)

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        """Stream one persona's brief; `on_first_byte` fires once, at the first event."""
        shape = shape_request(request, request.model or self.model)
        pending = on_first_byte

        def stream_once() -> Message:
            nonlocal pending
            with self.client.messages.stream(
                model=shape.model,
                max_tokens=shape.max_tokens,
                system=shape.system,
                messages=shape.messages,
                output_config=shape.output_config or anthropic.omit,
                tools=shape.tools or anthropic.omit,
                tool_choice=shape.tool_choice or anthropic.omit,
            ) as stream:
                stopped = False
                for event in stream:
                    if pending is not None:
                        first, pending = pending, None
                        first()
                    stopped = stopped or event.type == "message_stop"
                if not stopped:
                    raise TruncatedStream("the stream ended before message_stop")
                return stream.get_final_message()

        done = self.retry.call(self.name, stream_once, self.classify)
        usage = usage_of(done.value)
        return BriefResult(
            text=answer_text(done.value),
            model=shape.model,
            usage=usage,
            attempts=done.attempts,
            cost_usd=cost_usd(shape.model, usage, self.config.prices),
        )

    def count_tokens(self, request: BriefRequest) -> int:
        """Input tokens of the request as the API counts them (system, schema, messages)."""
        shape = shape_request(request, request.model or self.model)

        def count() -> int:
            counted = self.client.messages.count_tokens(
                model=shape.model,
                system=shape.system,
                messages=shape.messages,
                output_config=shape.output_config or anthropic.omit,
                tools=shape.tools or anthropic.omit,
                tool_choice=shape.tool_choice or anthropic.omit,
            )
            return counted.input_tokens

        return self.retry.call(self.name, count, self.classify).value

    def ask(self, question: Question) -> BriefResult:
        """One question, not streamed: its answer is short (question.max_tokens)."""
        shape = shape_question(question)

        def create() -> Message:
            return self.client.messages.create(**shape.create_params())

        done = self.retry.call(self.name, create, self.classify)
        usage = usage_of(done.value)
        return BriefResult(
            text=answer_text(done.value, ANSWER_TOOL),
            model=shape.model,
            usage=usage,
            attempts=done.attempts,
            cost_usd=cost_usd(shape.model, usage, self.config.prices),
        )
