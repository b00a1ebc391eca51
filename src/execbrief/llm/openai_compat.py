"""The `openai` provider: any OpenAI-compatible /v1/chat/completions (Ollama, vLLM, llama.cpp).

Output is constrained with `response_format: json_schema`; a server that refuses it is
asked once more in JSON mode with the schema in the message, and stays in JSON mode.
Messages keep the shared prefix first (system, then evidence) so servers that cache
prompt prefixes reuse it across personas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Literal

import httpx2

from execbrief.config import LlmConfig
from execbrief.errors import ConfigError, ProviderError
from execbrief.llm.base import CONNECT_TIMEOUT, BriefRequest, BriefResult, FirstByte, Question
from execbrief.llm.pricing import cost_usd
from execbrief.llm.retry import Failure, RetryPolicy, short_body, status_failure, transport_failure
from execbrief.llm.schema import estimate_request_tokens, report_schema
from execbrief.models import Usage

JsonMode = Literal["json_schema", "json_object"]

# Words in a 4xx body that say the server does not take a JSON-schema response_format.
_SCHEMA_REFUSALS = ("response_format", "json_schema", "schema")

SCHEMA_NOTE = "Answer with one JSON object that matches this JSON schema:\n"


class StreamError(Exception):
    """An error inside a stream that had begun: reported by the server, or a cut-off."""


def _error_detail(response: httpx2.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return short_body(response.text or response.reason_phrase)
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and "message" in error:
        return short_body(error["message"])
    return short_body(error or payload)


def classify(exc: BaseException) -> Failure | None:
    """What an HTTP error from an OpenAI-compatible server means to the retry policy."""
    if isinstance(exc, httpx2.HTTPStatusError):
        response = exc.response
        return status_failure(response.status_code, _error_detail(response), response.headers)
    if isinstance(exc, StreamError):
        return Failure(status=None, retryable=True, detail=short_body(exc))
    return transport_failure(exc)


def _usage(reported: dict[str, Any] | None) -> Usage:
    if not reported:
        return Usage()
    details = reported.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    return Usage(
        input_tokens=int(reported.get("prompt_tokens") or 0) - cached,
        output_tokens=int(reported.get("completion_tokens") or 0),
        cache_read_input_tokens=cached,
    )


class OpenAICompatProvider:
    """A local or hosted model behind the OpenAI chat completions API."""

    name = "openai"

    def __init__(self, config: LlmConfig, *, retry: RetryPolicy | None = None) -> None:
        base_url = config.base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ConfigError(
                "the openai provider needs a base URL",
                field="llm.base_url",
                hint="e.g. http://localhost:11434/v1 (Ollama) or http://localhost:8000/v1 (vLLM).",
            )
        if not config.model:
            raise ConfigError(
                "the openai provider needs a model name",
                field="llm.model",
                hint="The name the server knows the model by, e.g. qwen3:32b for Ollama.",
            )
        self.config = config
        self.model = config.model
        self.retry = retry or RetryPolicy.from_config(config)
        self.mode: JsonMode = "json_schema"
        headers = {}
        if api_key := os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {api_key}"
        self.client = httpx2.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx2.Timeout(config.timeout_seconds, connect=CONNECT_TIMEOUT),
        )

    def body(self, request: BriefRequest, mode: JsonMode) -> dict[str, Any]:
        """The chat completions request for one persona in the given JSON mode."""
        user = f"{request.evidence}\n\n{request.instructions}"
        response_format: dict[str, Any] = {"type": "json_object"}
        if mode == "json_schema":
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": "report", "strict": True, "schema": report_schema()},
            }
        else:
            user = f"{user}\n\n{SCHEMA_NOTE}{json.dumps(report_schema())}"
        messages: list[dict[str, str]] = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": user},
        ]
        if request.repair is not None:
            messages.append({"role": "assistant", "content": request.repair.answer})
            messages.append({"role": "user", "content": request.repair.errors})
        return {
            "model": request.model or self.model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "response_format": response_format,
            "stream": True,
            "stream_options": {"include_usage": True},
        }

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        """Stream one persona's brief, falling back to JSON mode if the schema is refused."""
        pending = on_first_byte

        def first_byte() -> None:
            nonlocal pending
            if pending is not None:
                first, pending = pending, None
                first()

        text, usage, attempts = self._complete(lambda mode: self.body(request, mode), first_byte)
        model = request.model or self.model
        return BriefResult(
            text=text,
            model=model,
            usage=usage,
            attempts=attempts,
            cost_usd=cost_usd(model, usage, self.config.prices),
        )

    def _complete(
        self, body: Callable[[JsonMode], dict[str, Any]], first_byte: FirstByte
    ) -> tuple[str, Usage, int]:
        """(text, usage, attempts) of one streamed request, in JSON mode if the server
        refuses a schema."""
        mode = self.mode
        try:
            done = self.retry.call(
                self.name, lambda: self._stream(body(mode), first_byte), classify
            )
            attempts = done.attempts
        except ProviderError as exc:
            if mode != "json_schema" or not _refuses_schema(exc):
                raise
            self.mode = "json_object"
            done = self.retry.call(
                self.name, lambda: self._stream(body("json_object"), first_byte), classify
            )
            attempts = exc.attempts + done.attempts
        text, usage = done.value
        return text, usage, attempts

    def small_model(self) -> str | None:
        """The configured model: a compatible server's models are its own, none known smaller."""
        return self.model

    def ask(self, question: Question) -> BriefResult:
        def body(mode: JsonMode) -> dict[str, Any]:
            prompt = question.prompt
            response_format: dict[str, Any] = {"type": "json_object"}
            if mode == "json_schema":
                response_format = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": question.schema_name,
                        "strict": True,
                        "schema": question.answer_schema,
                    },
                }
            else:
                prompt = f"{prompt}\n\n{SCHEMA_NOTE}{json.dumps(question.answer_schema)}"
            return {
                "model": question.model,
                "max_tokens": question.max_tokens,
                "messages": [
                    {"role": "system", "content": question.system},
                    {"role": "user", "content": prompt},
                ],
                "response_format": response_format,
                "stream": True,
                "stream_options": {"include_usage": True},
            }

        text, usage, attempts = self._complete(body, lambda: None)
        return BriefResult(
            text=text,
            model=question.model,
            usage=usage,
            attempts=attempts,
            cost_usd=cost_usd(question.model, usage, self.config.prices),
        )

    def _stream(self, body: dict[str, Any], first_byte: FirstByte) -> tuple[str, Usage]:
        parts: list[str] = []
        reported: dict[str, Any] | None = None
        done = False
        with self.client.stream("POST", "chat/completions", json=body) as response:
            if response.is_error:
                response.read()
                response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    done = True
                    break
                chunk = json.loads(payload)
                first_byte()
                if "error" in chunk:
                    raise StreamError(str(chunk["error"]))
                reported = chunk.get("usage") or reported
                for choice in chunk.get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
        if not done:
            # half an answer is a dropped connection, not an answer: retried, never parsed
            raise StreamError("the stream ended before [DONE]")
        return "".join(parts), _usage(reported)

    def count_tokens(self, request: BriefRequest) -> int:
        """An estimate: the chat completions API has no token counting endpoint."""
        return estimate_request_tokens(request)


def _refuses_schema(exc: ProviderError) -> bool:
    if exc.status not in (400, 422, 501):
        return False
    message = exc.message.lower()
    return any(word in message for word in _SCHEMA_REFUSALS)
