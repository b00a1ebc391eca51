"""execbrief.yaml: required keys, errors with line numbers, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from execbrief.config import load_workspace
from execbrief.errors import ConfigError


def _workspace(tmp_path: Path, text: str) -> Path:
    (tmp_path / "execbrief.yaml").write_text(text)
    return tmp_path


def test_minimal_config_gets_documented_defaults(tmp_path: Path) -> None:
    root = _workspace(tmp_path, "portfolio: P\nentities: [{id: a, name: A}]\n")

    workspace = load_workspace(root)

    assert workspace.config.llm.provider == "auto"
    assert workspace.config.mail.transport == "file"
    assert workspace.config.sources.aws is None
    assert workspace.outputs == (tmp_path / "outputs").resolve()


def test_the_example_config_loads() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "portfolio"

    workspace = load_workspace(example)

    assert len(workspace.config.entities) == 7
    assert workspace.config.mail.bcc_audit == "audit@example.com"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("portfolio: P\nentities: [{id: a, name: A}]\nllm: {provider: gpt}\n", 3, "llm.provider"),
        ("portfolio: P\nentities:\n  - {id: a, name: A}\nmial: {}\n", 4, "mial"),
        ("entities: [{id: a, name: A}]\n", 1, "portfolio"),
        ("portfolio: P\nentities:\n  - {id: Bad Id, name: A}\n", 3, "entities.0.id"),
    ],
    ids=["bad-provider", "unknown-key", "missing-portfolio", "bad-entity-id"],
)
def test_bad_config_names_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    root = _workspace(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_workspace(root)

    assert caught.value.line == line
    assert caught.value.field == field


def test_duplicate_entity_ids_are_refused(tmp_path: Path) -> None:
    root = _workspace(tmp_path, "portfolio: P\nentities: [{id: a, name: A}, {id: a, name: B}]\n")

    with pytest.raises(ConfigError, match="duplicate entity id 'a'"):
        load_workspace(root)
