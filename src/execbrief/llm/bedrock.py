"""The `bedrock` provider: Claude on Amazon Bedrock through the SDK's AnthropicBedrock client.

The request is the anthropic provider's, signed with the AWS credential chain. Models
without native structured output get the Report schema as a forced tool instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import anthropic

from execbrief.errors import ConfigError
from execbrief.llm.anthropic_api import ERROR_TYPE_STATUS, AnthropicProvider
from execbrief.llm.base import BriefRequest
from execbrief.llm.pricing import DEFAULT_MODEL, SMALL_MODEL
from execbrief.llm.schema import estimate_request_tokens

# Bedrock names its in-stream errors after its own exceptions, not the API's error types.
BEDROCK_ERROR_STATUS = {
    "validationexception": 400,
    "accessdeniedexception": 403,
    "throttlingexception": 429,
    "internalserverexception": 500,
    "modelstreamerrorexception": 500,
    "serviceunavailableexception": 503,
    "modelnotreadyexception": 503,
    "modeltimeoutexception": 504,
}


def default_bedrock_model() -> str:
    """The default model as a global inference profile, offered in every commercial region."""
    return f"global.anthropic.{DEFAULT_MODEL}"


class BedrockProvider(AnthropicProvider):
    name = "bedrock"
    error_statuses: Mapping[str, int] = {**ERROR_TYPE_STATUS, **BEDROCK_ERROR_STATUS}

    def default_model(self) -> str:
        return default_bedrock_model()

    def small_model(self) -> str | None:
        return f"global.anthropic.{SMALL_MODEL}"

    def connect(self) -> anthropic.AnthropicBedrock:
        region = (
            self.config.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
        )
        if not region:
            raise ConfigError(
                "the bedrock provider needs an AWS region",
                field="llm.region",
                hint="Set llm.region in execbrief.yaml or AWS_REGION in the environment.",
            )
        return anthropic.AnthropicBedrock(aws_region=region, max_retries=0, timeout=self._timeout())

    def count_tokens(self, request: BriefRequest) -> int:
        """An estimate: Bedrock has no token counting endpoint."""
        return estimate_request_tokens(request)
