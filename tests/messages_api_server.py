"""A local stand-in for the Anthropic Messages API, for end-to-end tests and benchmarks.

Speaks `POST /v1/messages` (JSON or SSE streaming), `/v1/messages/count_tokens` and the
Message Batches endpoints on 127.0.0.1, one thread per connection. What makes it useful:

- latency: a response's first byte comes `ttfb` seconds after the request arrives, and
  its output tokens then stream at `tokens_per_second`, so L = ttfb + tokens / rate;
- prompt caching as the API does it: the prefix up to the last `cache_control` block
  (with the model, tools and output schema) is written by the first request that sends
  it, and read only by requests that *arrive* after a writer's response has begun;
  requests that arrive earlier pay for a write of their own;
- faults: a queue of statuses (429 with retry-after, 529, 500...) served in order to the
  next requests, before the response or as an error event inside a begun stream, or a
  stream cut off halfway (`Fault(200, truncate=True)`: no `message_stop`, then EOF);
- batches that end `batch_seconds` after they are submitted, or are held in progress
  until the test releases them (`hold_batches`, `release_batches`);
- answers from a function of the persona (default: a valid Report citing fact ids seen
  in the request), and a log of every request to assert on.

    with MessagesApiServer(ttfb=0.05, tokens_per_second=4000, output_tokens=400) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from execbrief.models import Finding, Recommendation, Report, ReportSection, Severity

CHARS_PER_TOKEN = 4

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Models from before native structured output: they still take a forced tool.
LEGACY_MODELS = re.compile(r"claude-(?:instant|2|3)[-.]|claude-(?:sonnet|opus)-4-(?:0|\d{8})")
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")

FACT_ID = re.compile(r"\bf_[0-9a-f]{12}\b")
SECTION_LINE = re.compile(r"^- `([a-z][a-z0-9_]*)`", re.MULTILINE)
PERSONA_ID = re.compile(r"\bpersona(?:[ _]id)?:\s*([a-z][a-z0-9_]*)", re.IGNORECASE)
PERSONA_TITLE = re.compile(r"Write the (.+?) brief")


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


@dataclass(frozen=True)
class Fault:
    """One injected failure, served to the next /v1/messages request."""

    status: int
    retry_after: float | None = None
    after_first_byte: bool = False
    message: str = "injected fault"
    truncate: bool = False  # begin the stream, send half the answer, close without message_stop

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.status, "api_error")

    def body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.error_type, "message": self.message}}


@dataclass(frozen=True)
class AnswerContext:
    """What an answer function may look at: who asks, for what, citing which facts."""

    persona: str
    model: str
    instructions: str
    fact_ids: list[str]
    section_ids: list[str]
    repair: bool


Answer = Callable[[AnswerContext], str]


def default_answer(ctx: AnswerContext) -> str:
    """A valid Report: one finding and one recommendation citing the first facts seen."""
    cited = ctx.fact_ids[:3]
    report = Report(
        subject=f"{ctx.persona} brief",
        summary="The evidence shows open risks that need an owner this month.",
        findings=[
            Finding(
                category="risk",
                severity=Severity.HIGH,
                title="Open risk in the evidence",
                description="The cited facts describe a risk that is not yet handled.",
                impact="It stays open until someone owns it.",
                evidence=cited,
            )
        ],
        kpis=[],
        recommendations=[
            Recommendation(
                action="Assign an owner to the cited risk.",
                owner="Owner",
                due_in_days=30,
                impact="The risk gets handled.",
                evidence=cited,
            )
        ],
        sections=[
            ReportSection(id=section, markdown="See the findings above.")
            for section in ctx.section_ids
        ],
    )
    return report.model_dump_json()


@dataclass
class LoggedRequest:
    """One request as the server saw it, with when it arrived and when its reply began."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    arrived: float
    status: int = 200
    first_byte: float | None = None
    finished: float | None = None
    persona: str | None = None
    cache: str | None = None  # "write", "read" or "none" (nothing cacheable)
    usage: dict[str, int] = field(default_factory=dict)
    fault: Fault | None = None


@dataclass
class _CacheEntry:
    ready_at: float | None = None  # when a writer's response began; None while none has


@dataclass(frozen=True)
class _Prompt:
    key: str | None
    prefix_tokens: int
    rest_tokens: int


@dataclass
class _Batch:
    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    ended_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)


def _strip_cache_control(segment: Any) -> Any:
    if isinstance(segment, dict):
        return {k: _strip_cache_control(v) for k, v in segment.items() if k != "cache_control"}
    if isinstance(segment, list):
        return [_strip_cache_control(v) for v in segment]
    return segment


def _segments(body: dict[str, Any]) -> list[tuple[Any, bool]]:
    """The request's blocks in cache order (tools, schema, system, messages), marked
    where a `cache_control` breakpoint sits."""
    segments: list[tuple[Any, bool]] = []
    for tool in body.get("tools") or []:
        segments.append((tool, "cache_control" in tool))
    schema = (body.get("output_config") or {}).get("format")
    if schema:
        segments.append((schema, False))
    system = body.get("system")
    if isinstance(system, str):
        segments.append((system, False))
    elif isinstance(system, list):
        segments.extend((block, "cache_control" in block) for block in system)
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks or []:
            segments.append(({"role": message.get("role"), **block}, "cache_control" in block))
    if body.get("cache_control") and segments:
        last, _ = segments[-1]
        segments[-1] = (last, True)
    return segments


def _measure(body: dict[str, Any]) -> _Prompt:
    segments = _segments(body)
    marks = [i for i, (_, marked) in enumerate(segments) if marked]
    cut = marks[-1] + 1 if marks else 0
    prefix = [_strip_cache_control(s) for s, _ in segments[:cut]]
    rest = [_strip_cache_control(s) for s, _ in segments[cut:]]
    prefix_text = json.dumps(prefix, sort_keys=True) if prefix else ""
    rest_tokens = sum(estimate_tokens(json.dumps(s, sort_keys=True)) for s in rest)
    if not prefix:
        return _Prompt(key=None, prefix_tokens=0, rest_tokens=rest_tokens)
    key = hashlib.sha256(f"{body.get('model')}\n{prefix_text}".encode()).hexdigest()
    prefix_tokens = sum(estimate_tokens(json.dumps(s, sort_keys=True)) for s in prefix)
    return _Prompt(key=key, prefix_tokens=prefix_tokens, rest_tokens=rest_tokens)


def _texts_after_breakpoint(body: dict[str, Any]) -> str:
    segments = _segments(body)
    marks = [i for i, (_, marked) in enumerate(segments) if marked]
    tail = segments[marks[-1] + 1 :] if marks else segments
    return "\n".join(str(s.get("text", "")) for s, _ in tail if isinstance(s, dict))


def _all_text(body: dict[str, Any]) -> str:
    return json.dumps(body.get("system")) + json.dumps(body.get("messages"))


def _persona_of(instructions: str) -> str:
    if found := PERSONA_ID.search(instructions):
        return found.group(1)
    if found := PERSONA_TITLE.search(instructions):
        return found.group(1)
    return "unknown"


def _dedup(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@contextmanager
def serving_anthropic(
    monkeypatch: pytest.MonkeyPatch, **options: Any
) -> Iterator[MessagesApiServer]:
    """A local Messages API with the Anthropic SDK's key and base URL pointed at it."""
    with MessagesApiServer(**options) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        yield server


class MessagesApiServer:
    """A threaded local Messages API with latency, cache semantics and fault injection."""

    def __init__(
        self,
        *,
        ttfb: float = 0.0,
        tokens_per_second: float = 0.0,
        output_tokens: int | None = None,
        answer: Answer = default_answer,
        min_cacheable_tokens: int = 1024,
        batch_seconds: float = 0.0,
        stream_chunks: int = 16,
    ) -> None:
        self.ttfb = ttfb
        self.tokens_per_second = tokens_per_second
        self.output_tokens = output_tokens
        self.answer = answer
        self.min_cacheable_tokens = min_cacheable_tokens
        self.batch_seconds = batch_seconds
        self.stream_chunks = stream_chunks
        self.batch_errors: dict[str, str] = {}
        self.log: list[LoggedRequest] = []
        self._faults: deque[Fault] = deque()
        self._cache: dict[str, _CacheEntry] = {}
        self.batches: dict[str, _Batch] = {}
        self._batch_gate = threading.Event()
        self._batch_gate.set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> MessagesApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        server = self

        class Handler(_Handler):
            api = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.request_queue_size = 128
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- test controls --------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Serve these faults, in order, to the next /v1/messages requests."""
        with self._lock:
            self._faults.extend(faults)

    def hold_batches(self) -> None:
        """Keep every batch, submitted or to come, in progress until `release_batches`."""
        self._batch_gate.clear()

    def release_batches(self, timeout: float = 10.0) -> None:
        """Let held batches run, and return once every batch has ended."""
        self._batch_gate.set()
        deadline = time.monotonic() + timeout
        while any(b.ended_at is None for b in self.batches.values()):
            if time.monotonic() > deadline:
                raise TimeoutError("a batch did not end")
            time.sleep(0.01)

    def messages(self) -> list[LoggedRequest]:
        """The logged /v1/messages calls, in arrival order."""
        with self._lock:
            return [r for r in self.log if r.path == "/v1/messages"]

    # --- the model ------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def admit(self, body: dict[str, Any], arrived: float) -> tuple[str, dict[str, int], str | None]:
        """Decide what the prompt costs, as of its arrival: (cache, usage, cache key)."""
        prompt = _measure(body)
        if prompt.key is None or prompt.prefix_tokens < self.min_cacheable_tokens:
            total = prompt.prefix_tokens + prompt.rest_tokens
            return "none", _usage(input_tokens=total), None
        with self._lock:
            entry = self._cache.setdefault(prompt.key, _CacheEntry())
            readable = entry.ready_at is not None and entry.ready_at <= arrived
        if readable:
            usage = _usage(input_tokens=prompt.rest_tokens, cache_read=prompt.prefix_tokens)
            return "read", usage, None
        usage = _usage(input_tokens=prompt.rest_tokens, cache_write=prompt.prefix_tokens)
        return "write", usage, prompt.key

    def began(self, key: str | None, at: float) -> None:
        """A writer's response began: its cache entry now serves later arrivals."""
        if key is None:
            return
        with self._lock:
            entry = self._cache[key]
            entry.ready_at = at if entry.ready_at is None else min(entry.ready_at, at)

    def compose(self, body: dict[str, Any]) -> tuple[AnswerContext, str]:
        instructions = _texts_after_breakpoint(body)
        ctx = AnswerContext(
            persona=_persona_of(instructions),
            model=str(body.get("model")),
            instructions=instructions,
            fact_ids=_dedup(FACT_ID.findall(instructions) + FACT_ID.findall(_all_text(body))),
            section_ids=_dedup(SECTION_LINE.findall(instructions)),
            repair=any(m.get("role") == "assistant" for m in body.get("messages") or []),
        )
        return ctx, self.answer(ctx)

    def generation_seconds(self, output_tokens: int) -> float:
        return output_tokens / self.tokens_per_second if self.tokens_per_second else 0.0

    def refusal(self, body: dict[str, Any]) -> str | None:
        """Why the API would refuse this request with a 400, if it would."""
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                return f"{key}: Field required"
        model = str(body["model"])
        legacy = LEGACY_MODELS.search(model) is not None
        for param in SAMPLING_PARAMS:
            if param in body and not legacy:
                return f"{param} is not supported on {model}"
        forced = (body.get("tool_choice") or {}).get("type") in ("tool", "any")
        if forced and not legacy:
            return f"forced tool use is not supported on {model}; use output_config.format"
        return None

    def run_batch(self, batch: _Batch) -> None:
        time.sleep(self.batch_seconds)
        self._batch_gate.wait()
        for entry in batch.requests:
            custom_id = entry["custom_id"]
            params = entry["params"]
            error = self.batch_errors.get(custom_id)
            if error is None:
                error = self.refusal(params) and "invalid_request_error"
            if error is not None:
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": error, "message": error}},
                }
            else:
                _cache, usage, key = self.admit(params, time.monotonic())
                self.began(key, time.monotonic())
                _ctx, text = self.compose(params)
                usage["output_tokens"] = self.output_tokens or estimate_tokens(text)
                message = _message(self.next_id("msg"), params, text, usage)
                result = {"type": "succeeded", "message": message}
            batch.results.append({"custom_id": custom_id, "result": result})
        batch.ended_at = datetime.now(UTC)

    def batch_json(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.ended_at is not None
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for line in batch.results:
                counts[line["result"]["type"]] += 1
        else:
            counts["processing"] = len(batch.requests)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + timedelta(days=1)).isoformat(),
            "ended_at": batch.ended_at.isoformat() if batch.ended_at else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": (
                f"{self.base_url}/v1/messages/batches/{batch.id}/results" if ended else None
            ),
        }


def _usage(*, input_tokens: int, cache_write: int = 0, cache_read: int = 0) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": 0,
    }


def _forced_tool(body: dict[str, Any]) -> str | None:
    choice = body.get("tool_choice") or {}
    return choice.get("name") if choice.get("type") == "tool" else None


def _content(body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    tool = _forced_tool(body)
    if tool is not None:
        try:
            return [
                {"type": "tool_use", "id": "toolu_local", "name": tool, "input": json.loads(text)}
            ]
        except ValueError:
            pass
    return [{"type": "text", "text": text}]


def _message(
    message_id: str, body: dict[str, Any], text: str, usage: dict[str, int]
) -> dict[str, Any]:
    tool = _forced_tool(body) is not None
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        "content": _content(body, text),
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }


def _delta(tool: bool, part: str) -> dict[str, Any]:
    if tool:
        return {"type": "input_json_delta", "partial_json": part}
    return {"type": "text_delta", "text": part}


def _chunks(text: str, count: int) -> Iterator[str]:
    size = max(1, math.ceil(len(text) / max(count, 1)))
    for start in range(0, len(text), size):
        yield text[start : start + size]


class _Handler(BaseHTTPRequestHandler):
    api: MessagesApiServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the record."""

    # --- plumbing -------------------------------------------------------------------

    def _read_json(self) -> dict[str, Any] | None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", self.api.next_id("req"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, entry: LoggedRequest, status: int, message: str) -> None:
        entry.status = status
        error = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
        self._send_json(status, {"type": "error", "error": error})
        entry.finished = time.monotonic()

    def _event(self, name: str, payload: dict[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def _entry(self, body: dict[str, Any] | None) -> LoggedRequest:
        entry = LoggedRequest(
            method=self.command,
            path=self.path.split("?")[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            arrived=time.monotonic(),
        )
        self.api.record(entry)
        return entry

    # --- routes ---------------------------------------------------------------------

    def do_POST(self) -> None:
        arrived = time.monotonic()
        body = self._read_json()
        entry = self._entry(body)
        entry.arrived = arrived
        if "x-api-key" not in entry.headers and "authorization" not in entry.headers:
            self._send_error(entry, 401, "x-api-key header is required")
        elif body is None:
            self._send_error(entry, 400, "the body is not a JSON object")
        elif entry.path == "/v1/messages":
            self._messages(entry, body)
        elif entry.path == "/v1/messages/count_tokens":
            prompt = _measure(body)
            self._send_json(200, {"input_tokens": prompt.prefix_tokens + prompt.rest_tokens})
        elif entry.path == "/v1/messages/batches":
            self._create_batch(entry, body)
        else:
            self._send_error(entry, 404, f"no route {entry.path}")

    def do_GET(self) -> None:
        entry = self._entry(None)
        parts = entry.path.strip("/").split("/")
        batch = None
        if len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"]:
            batch = self.api.batches.get(parts[3])
        if batch is None:
            self._send_error(entry, 404, f"no route {entry.path}")
        elif len(parts) == 4:
            self._send_json(200, self.api.batch_json(batch))
        elif len(parts) == 5 and parts[4] == "results" and batch.ended_at is not None:
            data = "".join(json.dumps(line) + "\n" for line in batch.results).encode()
            self.send_response(200)
            self.send_header("content-type", "application/binary")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._send_error(entry, 404, f"no route {entry.path}")

    def _create_batch(self, entry: LoggedRequest, body: dict[str, Any]) -> None:
        batch = _Batch(
            id=self.api.next_id("msgbatch"),
            requests=list(body.get("requests") or []),
            created_at=datetime.now(UTC),
        )
        self.api.batches[batch.id] = batch
        threading.Thread(target=self.api.run_batch, args=(batch,), daemon=True).start()
        self._send_json(200, self.api.batch_json(batch))

    def _messages(self, entry: LoggedRequest, body: dict[str, Any]) -> None:
        api = self.api
        refusal = api.refusal(body)
        if refusal is not None:
            self._send_error(entry, 400, refusal)
            return
        fault = api.next_fault()
        entry.fault = fault
        if fault is not None and not fault.after_first_byte and not fault.truncate:
            entry.status = fault.status
            headers = {}
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
            self._send_json(fault.status, fault.body(), headers)
            entry.finished = time.monotonic()
            return
        entry.cache, usage, key = api.admit(body, entry.arrived)
        ctx, text = api.compose(body)
        entry.persona = ctx.persona
        output_tokens = api.output_tokens or estimate_tokens(text)
        entry.usage = {**usage, "output_tokens": output_tokens}
        generation = api.generation_seconds(output_tokens)
        if not body.get("stream"):
            time.sleep(api.ttfb + generation)
            entry.first_byte = time.monotonic()
            api.began(key, entry.first_byte)
            self._send_json(200, _message(api.next_id("msg"), body, text, entry.usage))
            entry.finished = time.monotonic()
            return
        time.sleep(api.ttfb)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", api.next_id("req"))
        self.end_headers()
        start = _message(api.next_id("msg"), body, "", usage)
        start["content"] = []
        start["stop_reason"] = None
        # The entry must serve later arrivals before the client can see this first byte.
        entry.first_byte = time.monotonic()
        api.began(key, entry.first_byte)
        self._event("message_start", {"type": "message_start", "message": start})
        if fault is not None and fault.truncate:
            # the connection closes (HTTP/1.0) mid-answer, as a dropped proxy would do it
            self._stream_content(body, text[: len(text) // 2], generation, close_block=False)
            entry.finished = time.monotonic()
            return
        if fault is not None:
            entry.status = fault.status
            self._event("error", fault.body())
            entry.finished = time.monotonic()
            return
        self._stream_content(body, text, generation)
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": entry.usage,
            },
        )
        self._event("message_stop", {"type": "message_stop"})
        entry.finished = time.monotonic()

    def _stream_content(
        self, body: dict[str, Any], text: str, seconds: float, close_block: bool = True
    ) -> None:
        [block] = _content(body, text)
        tool = block["type"] == "tool_use"
        opening = {**block, "input": {}} if tool else {"type": "text", "text": ""}
        payload = json.dumps(block["input"]) if tool else text
        self._event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": opening},
        )
        parts = list(_chunks(payload, self.api.stream_chunks))
        pause = seconds / len(parts) if parts else 0.0
        for part in parts:
            time.sleep(pause)
            self._event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": _delta(tool, part)},
            )
        if close_block:
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
