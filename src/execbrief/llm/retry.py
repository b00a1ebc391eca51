"""The one retry policy every provider call goes through (the SDKs' own retries are off).

Transient failures (429, 500, 502, 503, 504, 529, timeouts, dropped connections) are
retried with exponential backoff and jitter, or after exactly the server's `retry-after`,
within a cap on attempts and on total time. Anything else fails at once. Giving up raises
ProviderError with the last status, a short body and the attempts used.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx2
import tenacity

from execbrief.config import LlmConfig
from execbrief.errors import ProviderError

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 529})

# Beyond one full-length call, how long backoff may add before the policy gives up.
BACKOFF_BUDGET_SECONDS = 300.0

BODY_LIMIT = 300


@dataclass(frozen=True)
class Failure:
    """What a provider's error means to the policy."""

    status: int | None
    retryable: bool
    detail: str
    retry_after: float | None = None
    hint: str | None = None


Classifier = Callable[[BaseException], Failure | None]
"""Maps an exception to a Failure, or None for errors that are not a failed call (bugs)."""


class _Failed(Exception):
    """Carries a classified failure through tenacity."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


@dataclass(frozen=True)
class Attempted(Generic[T]):
    value: T
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    """Caps and timings of the retry loop; `sleep` is injectable so tests need not wait."""

    max_attempts: int = 6
    max_seconds: float = 900.0
    initial_wait: float = 1.0
    max_wait: float = 60.0
    jitter: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    @classmethod
    def from_config(cls, config: LlmConfig) -> RetryPolicy:
        return cls(
            max_attempts=config.max_attempts,
            max_seconds=config.timeout_seconds + BACKOFF_BUDGET_SECONDS,
        )

    def call(self, provider: str, fn: Callable[[], T], classify: Classifier) -> Attempted[T]:
        """Run `fn` until it succeeds or the policy gives up; ProviderError when it does."""
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            try:
                return fn()
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                raise _Failed(failure) from exc

        backoff = tenacity.wait_exponential_jitter(
            initial=self.initial_wait, max=self.max_wait, jitter=self.jitter
        )

        def wait(state: tenacity.RetryCallState) -> float:
            failure = _failure_of(state)
            if failure is not None and failure.retry_after is not None:
                return max(failure.retry_after, 0.0)
            return float(backoff(state))

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, _Failed) and exc.failure.retryable

        retrying = tenacity.Retrying(
            sleep=self.sleep,
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_before_delay(self.max_seconds),
            wait=wait,
            retry=tenacity.retry_if_exception(retryable),
            reraise=True,
        )
        try:
            value = retrying(attempt)
        except _Failed as exc:
            failure = exc.failure
            status = f"HTTP {failure.status}" if failure.status else "no response"
            raise ProviderError(
                f"{provider} call failed after {attempts} attempt(s): {status}: {failure.detail}",
                provider=provider,
                status=failure.status,
                attempts=attempts,
                hint=failure.hint,
            ) from exc.__cause__
        return Attempted(value=value, attempts=attempts)


def _failure_of(state: tenacity.RetryCallState) -> Failure | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    exc = state.outcome.exception()
    return exc.failure if isinstance(exc, _Failed) else None


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, `retry-after` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (ms := lowered.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def short_body(body: object) -> str:
    """The error text a user needs, cut to a readable length."""
    text = " ".join(str(body).split())
    return text if len(text) <= BODY_LIMIT else text[: BODY_LIMIT - 1] + "…"


def status_failure(status: int, body: object, headers: Mapping[str, str]) -> Failure:
    """A failure from an HTTP status, retryable when the status is transient."""
    hint = None
    if status in (401, 403):
        hint = "Check the provider's credentials (API key, AWS identity)."
    elif status == 404:
        hint = "Check the model name and base URL in execbrief.yaml (llm.model, llm.base_url)."
    return Failure(
        status=status,
        retryable=status in RETRYABLE_STATUSES,
        detail=short_body(body),
        retry_after=parse_retry_after(headers) if status in RETRYABLE_STATUSES else None,
        hint=hint,
    )


def transport_failure(exc: BaseException) -> Failure | None:
    """Timeouts and dropped connections from httpx2, which the SDKs let through mid-stream."""
    if isinstance(exc, httpx2.TimeoutException):
        return Failure(status=None, retryable=True, detail=f"timed out ({type(exc).__name__})")
    if isinstance(exc, httpx2.TransportError):
        return Failure(status=None, retryable=True, detail=f"connection failed: {exc}")
    return None
