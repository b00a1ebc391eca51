"""Batch mode: every persona's request through the Message Batches API, at half the price.

Submit once, poll until the batch ends (reporting progress to a callback), then read the
results back per persona. A persona whose request errored, expired or was canceled gets
a ProviderError in its place; the others keep their results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse
from anthropic.types.messages.batch_create_params import Request
from pydantic import BaseModel

from execbrief.config import LlmConfig, ModelPrice
from execbrief.errors import ConfigError, ProviderError
from execbrief.llm.anthropic_api import (
    ERROR_TYPE_STATUS,
    AnthropicProvider,
    answer_text,
    classify,
    shape_request,
    usage_of,
)
from execbrief.llm.base import BriefRequest, BriefResult, Question
from execbrief.llm.pricing import BATCH_CACHE_TTL, cost_usd
from execbrief.llm.retry import RetryPolicy

DEFAULT_POLL_SECONDS = 10.0


class BatchProgress(BaseModel):
    """How far a batch has got, as the API counts its requests."""

    batch_id: str
    status: Literal["in_progress", "canceling", "ended"]
    total: int
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int

    @property
    def finished(self) -> int:
        return self.total - self.processing


ProgressCallback = Callable[[BatchProgress], None]
BatchOutcome = BriefResult | ProviderError


def _progress(batch: MessageBatch) -> BatchProgress:
    counts = batch.request_counts
    return BatchProgress(
        batch_id=batch.id,
        status=batch.processing_status,
        total=counts.processing
        + counts.succeeded
        + counts.errored
        + counts.canceled
        + counts.expired,
        processing=counts.processing,
        succeeded=counts.succeeded,
        errored=counts.errored,
        canceled=counts.canceled,
        expired=counts.expired,
    )


class BatchRunner:
    """Runs a set of persona requests as one Message Batch on the Anthropic API."""

    name = "anthropic"

    def __init__(
        self,
        config: LlmConfig,
        *,
        retry: RetryPolicy | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.provider = AnthropicProvider(config, retry=retry)
        self.poll_seconds = poll_seconds
        self.sleep = sleep

    def run(
        self, requests: Sequence[BriefRequest], on_progress: ProgressCallback | None = None
    ) -> dict[str, BatchOutcome]:
        """Submit, wait for the end, and return each persona's result or error."""
        batch_id = self.submit(requests)
        self.wait(batch_id, on_progress)
        return self.results(batch_id, requests)

    def submit(
        self, requests: Sequence[BriefRequest], custom_ids: Sequence[str] | None = None
    ) -> str:
        """Create the batch; one request per persona, its id the persona id unless
        `custom_ids` names each one (many workspaces in one batch)."""
        ids = list(custom_ids) if custom_ids is not None else [r.persona.id for r in requests]
        if len(set(ids)) != len(ids) or len(ids) != len(requests):
            raise ConfigError("a batch holds each persona once", field="personas")
        entries: list[Request] = [
            {
                "custom_id": custom_id,
                "params": shape_request(
                    request, request.model or self.provider.model, BATCH_CACHE_TTL
                ).create_params(),
            }
            for custom_id, request in zip(ids, requests, strict=True)
        ]
        batches = self.provider.client.messages.batches
        created = self.provider.retry.call(
            self.name, lambda: batches.create(requests=entries), classify
        )
        return created.value.id

    def status(self, batch_id: str) -> BatchProgress:
        """Where the batch stands now (one request)."""
        batches = self.provider.client.messages.batches
        batch = self.provider.retry.call(
            self.name, lambda: batches.retrieve(batch_id), classify
        ).value
        return _progress(batch)

    def download(self, batch_id: str) -> list[MessageBatchIndividualResponse]:
        """Every result line of an ended batch."""
        batches = self.provider.client.messages.batches
        return self.provider.retry.call(
            self.name, lambda: list(batches.results(batch_id)), classify
        ).value

    def wait(self, batch_id: str, on_progress: ProgressCallback | None = None) -> BatchProgress:
        """Poll until the batch has ended, reporting progress after every poll."""
        while True:
            progress = self.status(batch_id)
            if on_progress is not None:
                on_progress(progress)
            if progress.status == "ended":
                return progress
            self.sleep(self.poll_seconds)

    def results(self, batch_id: str, requests: Sequence[BriefRequest]) -> dict[str, BatchOutcome]:
        """Each persona's result from an ended batch, priced at the batch rate."""
        by_persona = {line.custom_id: line for line in self.download(batch_id)}
        outcomes: dict[str, BatchOutcome] = {}
        for request in requests:
            persona = request.persona.id
            model = request.model or self.provider.model
            line = by_persona.get(persona)
            outcomes[persona] = (
                outcome_of(line, model, self.config.prices)
                if line is not None
                else ProviderError(
                    f"batch {batch_id} returned no result for {persona}", provider=self.name
                )
            )
        return outcomes


def outcome_of(
    line: MessageBatchIndividualResponse, model: str, prices: Mapping[str, ModelPrice]
) -> BatchOutcome:
    """One result line as the persona's answer (priced at the batch rate, with 1-hour
    cache writes), or the error in its place."""
    result = line.result
    if result.type == "succeeded":
        usage = usage_of(result.message)
        return BriefResult(
            text=answer_text(result.message),
            model=model,
            usage=usage,
            cost_usd=cost_usd(model, usage, prices, batch=True, cache_ttl=BATCH_CACHE_TTL),
        )
    if result.type == "errored":
        error = result.error.error
        return ProviderError(
            f"batch request for {line.custom_id} failed: {error.type}: {error.message}",
            provider=BatchRunner.name,
            status=ERROR_TYPE_STATUS.get(error.type),
        )
    return ProviderError(
        f"batch request for {line.custom_id} {result.type}", provider=BatchRunner.name
    )


class BatchAnswers:
    """A provider whose first answer per persona comes from a finished batch.

    Re-asks (a repair after an invalid answer) go to the live provider, one by one.
    """

    def __init__(self, provider: AnthropicProvider, outcomes: dict[str, BatchOutcome]) -> None:
        self.name = provider.name
        self.provider = provider
        self.outcomes = dict(outcomes)

    def generate(
        self, request: BriefRequest, on_first_byte: Callable[[], None] | None = None
    ) -> BriefResult:
        outcome = None if request.repair else self.outcomes.pop(request.persona.id, None)
        if outcome is None:
            return self.provider.generate(request, on_first_byte)
        if on_first_byte is not None:
            on_first_byte()
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def count_tokens(self, request: BriefRequest) -> int | None:
        return self.provider.count_tokens(request)

    def small_model(self) -> str | None:
        return self.provider.small_model()

    def ask(self, question: Question) -> BriefResult:
        """Live, not batched: one short call per brief, after its batch answer."""
        return self.provider.ask(question)
