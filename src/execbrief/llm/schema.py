"""What every provider sends the same way: the output schemas and a request's size.

Each schema is built once, so every request of a run (and every provider) carries
identical bytes; the estimate serves providers without a token counting endpoint.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from execbrief.llm.base import BriefRequest
from execbrief.llm.pricing import estimate_tokens
from execbrief.models import Report, VerifyAnswer


# The Anthropic SDK's transform makes the strict subset of JSON schema that structured
# output accepts; OpenAI-compatible servers take the same subset. Imported on first use:
# the SDK costs about two seconds of start-up that `collect` and `audit` never need.
@cache
def report_schema() -> dict[str, Any]:
    """The schema of a brief (Report) as structured output takes it."""
    import anthropic

    return anthropic.transform_schema(Report)


@cache
def verify_schema() -> dict[str, Any]:
    """What the second opinion (llm.verify) answers: the claims its facts do not support."""
    import anthropic

    return anthropic.transform_schema(VerifyAnswer)


def unfenced(text: str) -> str:
    """An answer's JSON, tolerating the Markdown code fence some models put around it."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else stripped
    return stripped


def estimate_request_tokens(request: BriefRequest) -> int:
    """A request's input tokens, estimated, for providers without a counting endpoint."""
    repair = [request.repair.answer, request.repair.errors] if request.repair else []
    return estimate_tokens(
        request.system,
        json.dumps(report_schema()),
        request.evidence,
        request.instructions,
        *repair,
    )
