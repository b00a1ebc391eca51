"""The workspace: execbrief.yaml, its folder, and the paths it names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from execbrief.errors import ConfigError
from execbrief.models import WorkspaceConfig
from execbrief.yamlfile import load_yaml_model

CONFIG_NAME = "execbrief.yaml"


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its root folder and validated config."""

    root: Path
    config: WorkspaceConfig

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def outputs(self) -> Path:
        return (self.root / self.config.outputs).resolve()

    def resolve(self, relative: Path | str) -> Path:
        """A path from the config, relative to the workspace root."""
        return (self.root / relative).resolve()


def load_workspace(root: Path) -> Workspace:
    """Read and validate `root/execbrief.yaml`."""
    root = root.resolve()
    path = root / CONFIG_NAME
    if not root.is_dir():
        raise ConfigError("workspace folder does not exist", path=root)
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_NAME} in this folder",
            path=root,
            hint=f"create one with `execbrief init {root}` or pass --workspace DIR",
        )
    config = load_yaml_model(path, WorkspaceConfig)
    ids = [entity.id for entity in config.entities]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"duplicate entity id {duplicates[0]!r}", path=path, field="entities")
    return Workspace(root=root, config=config)
