"""The provider protocol: one persona's prompt in, the model's raw answer and usage out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pydantic import BaseModel, Field

from execbrief.models import Fact, Persona, Usage


class Repair(BaseModel):
    """A previous answer that failed validation, sent back once with its errors."""

    answer: str
    errors: str


class BriefRequest(BaseModel):
    """Everything a provider needs for one persona.

    `system` and `evidence` are byte-identical for every persona of a run, so they form
    one cacheable prefix; `instructions` is the persona-specific part that follows it.
    """

    persona: Persona
    system: str
    evidence: str
    instructions: str
    model: str | None = None
    max_tokens: int = 8000
    facts: list[Fact] = Field(description="The facts of this persona's lens in the evidence.")
    lens_facts: int = Field(0, description="Facts the lens selects in the whole bundle.")
    omitted_facts: int = Field(0, description="Facts cut to fit the budget.")
    note: str | None = Field(None, description="The analyst's note, also in `instructions`.")
    repair: Repair | None = None


class BriefResult(BaseModel):
    """A provider's answer: the report as JSON text, not yet validated."""

    text: str
    model: str
    usage: Usage = Field(default_factory=Usage)
    attempts: int = 1
    cost_usd: float = 0.0


class Question(BaseModel):
    """A one-off request whose answer is JSON in a given schema (the second opinion), not a
    brief: no shared prefix, no cache, no re-ask."""

    model: str
    system: str
    prompt: str
    answer_schema: dict[str, Any] = Field(description="Strict JSON schema of the answer.")
    schema_name: str = Field(pattern=r"^[a-z_]+$")
    max_tokens: int = Field(gt=0)


FirstByte = Callable[[], None]

# How long any provider waits for a connection; a model's answer gets llm.timeout_seconds.
CONNECT_TIMEOUT = 10.0


class Provider(Protocol):
    """What generate needs of a model provider (the offline one included)."""

    name: str

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        """Answer one request; call `on_first_byte` once the response has begun.

        Raises ProviderError when the call fails after the retry policy.
        """
        ...

    def count_tokens(self, request: BriefRequest) -> int | None:
        """The request's input tokens: counted by the provider's endpoint where it has one,
        else estimated; None when the provider has nothing to count (offline).

        Generate uses it to fit the evidence budget and to price a run before paying.
        """
        ...

    def small_model(self) -> str | None:
        """The provider's smallest, cheapest model, the default of llm.verify_model; None
        when it has no model to ask (offline), which turns llm.verify off."""
        ...

    def ask(self, question: Question) -> BriefResult:
        """Answer one question with JSON in its schema.

        Raises ProviderError when the call fails after the retry policy.
        """
        ...
