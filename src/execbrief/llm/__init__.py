"""Model providers, chosen by name in one place; each is imported only when used."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from execbrief.config import LlmConfig
from execbrief.llm.base import Provider
from execbrief.registry import resolve

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
    factory: ProviderFactory = resolve(PROVIDERS, name, kind="provider", field="llm.provider")
    return factory(config)
