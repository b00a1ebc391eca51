"""Persona files: the shipped eight, validation errors with file/line/field, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from execbrief.errors import ConfigError
from execbrief.persona_files import discover_personas, load_persona_file, shipped_persona_dir
from tests.conftest import Cli

GOOD = """\
id: coo
title: Chief Operating Officer
audience: The owner.
lens: Whether operations keep up with bookings.
priorities: [On-time charters]
evidence: {kinds: [handoff.*]}
sections:
  - {id: ops_review, title: Ops review, guidance: What broke and why.}
deliver:
  to: [owner@example.com]
  subject: "COO brief {{ date }}"
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_the_eight_shipped_personas_load() -> None:
    catalogue = discover_personas(None)

    assert set(catalogue) == {
        "accounting", "ceo", "cfo", "client_portfolio", "cmo", "cto", "rental", "yacht_delivery",
    }  # fmt: skip
    for entry in catalogue.values():
        assert entry.shipped
        assert entry.persona.deliver.to
        assert all(a.endswith("@example.com") for a in entry.persona.deliver.to)


def test_a_good_persona_validates(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, "coo.yaml", GOOD)

    result = cli("personas", "validate", path)

    assert result.code == 0
    assert "1 personas valid" in result.out


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (GOOD.replace("audience:", "audiance:"), 3, "audiance", "unknown key 'audiance'"),
        (GOOD.replace("priorities: [On-time charters]", "priorities: 5"), 5, "priorities", ""),
        (GOOD.replace(", guidance: What broke and why.", ""), 8, "sections.0.guidance", ""),
        (
            GOOD.replace("evidence: {kinds: [handoff.*]}", "evidence: {kinds: [handoff.*]"),
            7,
            None,
            "invalid YAML",
        ),
        (GOOD.replace("to: [owner@example.com]", "to: owner@example.com"), 10, "deliver.to", ""),
    ],
    ids=["misspelled-key", "wrong-type", "missing-field", "broken-yaml", "string-for-list"],
)
def test_a_bad_persona_names_file_line_and_field(
    cli: Cli, tmp_path: Path, text: str, line: int, field: str | None, message: str
) -> None:
    path = _write(tmp_path, "coo.yaml", text)

    with pytest.raises(ConfigError) as caught:
        load_persona_file(path)
    result = cli("personas", "validate", path)

    assert caught.value.path == str(path)
    assert caught.value.line == line
    if field:
        assert caught.value.field is not None and caught.value.field.startswith(field)
    assert message in caught.value.message
    assert result.code == 2
    assert f"coo.yaml:{line}" in result.err
    assert "Traceback" not in result.err


def test_two_personas_with_the_same_id_are_refused(cli: Cli, tmp_path: Path) -> None:
    first = _write(tmp_path, "coo.yaml", GOOD)
    other = tmp_path / "more"
    other.mkdir()
    second = _write(other, "coo.yaml", GOOD)

    result = cli("personas", "validate", first, second)

    assert result.code == 2
    assert "already defined" in result.err


def test_file_name_must_match_the_id(tmp_path: Path) -> None:
    path = _write(tmp_path, "operations.yaml", GOOD)

    with pytest.raises(ConfigError, match="does not match the file name"):
        load_persona_file(path)


def test_workspace_persona_overrides_a_shipped_one_and_adds_new_ones(tmp_path: Path) -> None:
    folder = tmp_path / "personas"
    folder.mkdir()
    cto = (
        (shipped_persona_dir() / "cto.yaml").read_text().replace("title: ", "title: Fractional ", 1)
    )
    _write(folder, "cto.yaml", cto)
    _write(folder, "coo.yaml", GOOD)

    catalogue = discover_personas(tmp_path)

    assert catalogue["cto"].persona.title.startswith("Fractional ")
    assert not catalogue["cto"].shipped
    assert "coo" in catalogue
    assert catalogue["ceo"].shipped


def test_personas_list_shows_shipped_personas_from_any_folder(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    result = cli("personas", "list")

    assert result.code == 0
    for pid in ("ceo", "cto", "yacht_delivery"):
        assert pid in result.out


def test_the_documented_example_is_a_valid_persona(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "PERSONAS.md").read_text()
    example = text.split("```yaml", 1)[1].split("```", 1)[0]

    persona = load_persona_file(_write(tmp_path, "coo.yaml", example))

    assert persona.id == "coo"
    assert persona.sections[0].evidence is not None
