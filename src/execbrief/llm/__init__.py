"""Model providers, chosen by name in one place; each is imported only when used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from execbrief.config import LlmConfig
from execbrief.errors import ConfigError
from execbrief.llm.base import Provider

ProviderFactory = Callable[[LlmConfig], Provider]

# name -> "module:Class"; tests add fakes with `PROVIDERS[name] = factory`.
PROVIDERS: dict[str, str | ProviderFactory] = {
    "offline": "execbrief.llm.offline:OfflineProvider",
    "anthropic": "execbrief.llm.anthropic_api:AnthropicProvider",
    "bedrock": "execbrief.llm.bedrock:BedrockProvider",
    "openai": "execbrief.llm.openai_compat:OpenAICompatProvider",
}


def resolve_provider_name(config: LlmConfig, environ: Mapping[str, str]) -> str:
    """`auto` means anthropic when ANTHROPIC_API_KEY is set, else offline."""
    if config.provider != "auto":
        return config.provider
    return "anthropic" if environ.get("ANTHROPIC_API_KEY") else "offline"


def get_provider(name: str, config: LlmConfig) -> Provider:
    """Build the provider registered under `name`."""
    target = PROVIDERS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown provider {name!r}",
            field="llm.provider",
            hint="one of: " + ", ".join(PROVIDERS),
        )
    if isinstance(target, str):
        module_name, _, class_name = target.partition(":")
        factory: ProviderFactory = getattr(importlib.import_module(module_name), class_name)
    else:
        factory = target
    return factory(config)
