"""Checks of a workspace's config that must pass before a run collects or pays for anything.

Everything here is cheap and local: the outputs folder, every persona's subject template
(rendered with a sample report), and the provider's settings. A mistake found here costs
nothing; the same mistake found at render comes after every collector and model call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from execbrief.config import Workspace
from execbrief.llm import get_provider, resolve_provider_name
from execbrief.models import Persona
from execbrief.persona_files import discover_personas, select_personas
from execbrief.runs import check_outputs
from execbrief.subject import check_subject


def check_workspace(
    workspace: Workspace,
    personas: list[Persona] | None = None,
    *,
    provider: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """ConfigError for the first setting a run would trip over; `personas` default to the
    workspace's configured set. With `provider`, the model provider is built too (its
    settings and credentials), for runs that go on to generate."""
    check_outputs(workspace.outputs)
    catalogue = discover_personas(workspace.root)
    chosen = personas or select_personas(catalogue, workspace.config.personas, [])
    for persona in chosen:
        entry = catalogue.get(persona.id)
        check_subject(persona, workspace.config.portfolio, entry.path if entry else None)
    if not provider:
        return
    llm = workspace.config.llm
    get_provider(resolve_provider_name(llm, os.environ if environ is None else environ), llm)
