"""The one retry policy: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import httpx2
import pytest

from execbrief.config import LlmConfig
from execbrief.errors import ProviderError
from execbrief.llm.retry import (
    BACKOFF_BUDGET_SECONDS,
    Failure,
    RetryPolicy,
    parse_retry_after,
    status_failure,
    transport_failure,
)


class HttpFailure(Exception):
    def __init__(self, status: int, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, HttpFailure):
        headers = {"retry-after": str(exc.retry_after)} if exc.retry_after is not None else {}
        return status_failure(exc.status, f"status {exc.status}", headers)
    return transport_failure(exc)


def failing(*failures: BaseException, answer: str = "ok") -> Callable[[], str]:
    """A call that raises each failure in turn, then answers."""
    pending = list(failures)

    def call() -> str:
        if pending:
            raise pending.pop(0)
        return answer

    return call


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def policy(waits: list[float]) -> RetryPolicy:
    return RetryPolicy(max_attempts=4, sleep=waits.append)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 529])
def test_transient_status_is_retried_until_success(
    policy: RetryPolicy, waits: list[float], status: int
) -> None:
    done = policy.call("test", failing(HttpFailure(status)), classify)

    assert (done.value, done.attempts, len(waits)) == ("ok", 2, 1)


def test_timeouts_and_dropped_connections_are_retried(
    policy: RetryPolicy, waits: list[float]
) -> None:
    call = failing(httpx2.ReadTimeout("slow"), httpx2.RemoteProtocolError("peer closed"))

    done = policy.call("test", call, classify)

    assert (done.value, done.attempts) == ("ok", 3)


def test_retry_after_is_waited_exactly(policy: RetryPolicy, waits: list[float]) -> None:
    policy.call("test", failing(HttpFailure(429, retry_after=7)), classify)

    assert waits == [7.0]


def test_backoff_grows_exponentially_with_jitter(waits: list[float]) -> None:
    policy = RetryPolicy(max_attempts=5, initial_wait=1.0, max_wait=60.0, sleep=waits.append)

    policy.call("test", failing(*[HttpFailure(529)] * 4), classify)

    assert len(waits) == 4
    for n, wait in enumerate(waits):
        assert 2**n <= wait <= 2**n + 1


def test_backoff_never_exceeds_its_maximum(waits: list[float]) -> None:
    policy = RetryPolicy(
        max_attempts=8, initial_wait=1.0, max_wait=5.0, jitter=0, sleep=waits.append
    )

    policy.call("test", failing(*[HttpFailure(503)] * 7), classify)

    assert max(waits) == 5.0


def test_giving_up_after_the_attempt_cap_raises_provider_error(
    policy: RetryPolicy, waits: list[float]
) -> None:
    with pytest.raises(ProviderError, match=r"after 4 attempt\(s\): HTTP 500") as caught:
        policy.call("anthropic", failing(*[HttpFailure(500)] * 10), classify)

    assert (caught.value.provider, caught.value.status, caught.value.attempts) == (
        "anthropic",
        500,
        4,
    )
    assert len(waits) == 3
    assert isinstance(caught.value.__cause__, HttpFailure)


def test_a_wait_past_the_time_cap_is_not_taken(waits: list[float]) -> None:
    policy = RetryPolicy(max_attempts=6, max_seconds=30, sleep=waits.append)

    with pytest.raises(ProviderError, match=r"after 1 attempt") as caught:
        policy.call("test", failing(HttpFailure(429, retry_after=600)), classify)

    assert (caught.value.status, waits) == (429, [])


def test_client_error_fails_at_once(policy: RetryPolicy, waits: list[float]) -> None:
    with pytest.raises(ProviderError, match="HTTP 400") as caught:
        policy.call("test", failing(HttpFailure(400)), classify)

    assert (caught.value.attempts, waits) == (1, [])


def test_authentication_failure_carries_a_hint(policy: RetryPolicy) -> None:
    with pytest.raises(ProviderError) as caught:
        policy.call("test", failing(HttpFailure(401)), classify)

    assert caught.value.hint is not None
    assert "credentials" in caught.value.hint


def test_an_unclassified_exception_is_a_bug_and_propagates(policy: RetryPolicy) -> None:
    with pytest.raises(KeyError, match="oops"):
        policy.call("test", failing(KeyError("oops")), classify)


def test_policy_from_config_takes_the_attempt_cap_and_bounds_total_time() -> None:
    policy = RetryPolicy.from_config(LlmConfig(max_attempts=3, timeout_seconds=120))

    assert policy.max_attempts == 3
    assert policy.max_seconds == 120 + BACKOFF_BUDGET_SECONDS


def test_retry_after_is_read_from_milliseconds_seconds_or_a_date() -> None:
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)

    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"Retry-After": "12"}) == 12.0
    assert 55 <= (parse_retry_after({"retry-after": in_a_minute}) or 0) <= 60
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_long_error_bodies_are_shortened() -> None:
    failure = status_failure(500, "x" * 5000, {})

    assert len(failure.detail) <= 300
