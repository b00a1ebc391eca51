"""Persona files: the shipped lenses, a workspace's own, validation and lookup."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from execbrief.errors import ConfigError
from execbrief.models import Persona
from execbrief.yamlfile import load_yaml_model


@dataclass(frozen=True)
class PersonaFile:
    persona: Persona
    path: Path
    shipped: bool


def shipped_persona_dir() -> Path:
    """The folder of personas installed with execbrief."""
    return Path(str(resources.files("execbrief.personas")))


def load_persona_file(path: Path) -> Persona:
    """Validate one persona file; the file name must match its id."""
    persona = load_yaml_model(path, Persona)
    if path.stem != persona.id:
        raise ConfigError(
            f"persona id {persona.id!r} does not match the file name {path.name!r}",
            path=path,
            field="id",
        )
    return persona


def validate_files(paths: list[Path]) -> list[PersonaFile]:
    """Validate the given files as one set: each must load and ids must be unique."""
    loaded: list[PersonaFile] = []
    seen: dict[str, Path] = {}
    for path in paths:
        persona = load_persona_file(path)
        if persona.id in seen:
            raise ConfigError(
                f"persona id {persona.id!r} is already defined in {seen[persona.id]}",
                path=path,
                field="id",
            )
        seen[persona.id] = path
        loaded.append(PersonaFile(persona=persona, path=path, shipped=False))
    return loaded


def discover_personas(workspace_root: Path | None) -> dict[str, PersonaFile]:
    """Shipped personas, overridden or extended by id from `<workspace>/personas/`."""
    catalogue = {
        pf.persona.id: PersonaFile(pf.persona, pf.path, shipped=True)
        for pf in validate_files(sorted(shipped_persona_dir().glob("*.yaml")))
    }
    if workspace_root is not None:
        local_dir = workspace_root / "personas"
        local = validate_files(sorted(local_dir.glob("*.yaml"))) if local_dir.is_dir() else []
        catalogue.update({pf.persona.id: pf for pf in local})
    return dict(sorted(catalogue.items()))


def select_personas(
    catalogue: dict[str, PersonaFile], configured: list[str] | None, requested: list[str]
) -> list[Persona]:
    """The personas a run covers: those requested, else those configured, else all."""
    wanted = requested or configured or list(catalogue)
    unknown = [pid for pid in wanted if pid not in catalogue]
    if unknown:
        raise ConfigError(
            f"unknown persona {unknown[0]!r}",
            field="personas",
            hint="known personas: " + ", ".join(catalogue),
        )
    return [catalogue[pid].persona for pid in dict.fromkeys(wanted)]
