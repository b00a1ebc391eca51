"""What every provider sends the same way: the output schemas and a request's size.

The schema is built once, so every request of a run (and every provider) carries
identical bytes; the estimate serves providers without a token counting endpoint.
"""

from __future__ import annotations

import json

import anthropic

from execbrief.llm.base import BriefRequest
from execbrief.llm.pricing import estimate_tokens
from execbrief.models import Report, VerifyAnswer

# The Anthropic SDK's transform makes the strict subset of JSON schema that structured
# output accepts; OpenAI-compatible servers take the same subset.
REPORT_SCHEMA = anthropic.transform_schema(Report)
# What the second opinion (llm.verify) answers: the claims its facts do not support.
VERIFY_SCHEMA = anthropic.transform_schema(VerifyAnswer)


def estimate_request_tokens(request: BriefRequest) -> int:
    """A request's input tokens, estimated, for providers without a counting endpoint."""
    repair = [request.repair.answer, request.repair.errors] if request.repair else []
    return estimate_tokens(
        request.system,
        json.dumps(REPORT_SCHEMA),
        request.evidence,
        request.instructions,
        *repair,
    )
