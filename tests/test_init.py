"""`execbrief init`: a scaffold that runs as it is, and never overwrites."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli


def test_init_scaffolds_a_workspace_that_runs(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "ws"

    created = cli("init", target)
    ran = cli("run", "--workspace", target, "--no-send")

    assert created.code == 0
    assert (target / "execbrief.yaml").read_text().count("#") > 10  # every key is commented
    assert (target / "handoffs" / "example-co.md").is_file()
    assert (target / "personas").is_dir()
    assert ran.code == 0, ran.err
    assert (target / "outputs" / "latest" / "ceo" / "report.md").is_file()


def test_init_refuses_a_folder_that_is_not_empty(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("mine")

    result = cli("init", tmp_path)

    assert result.code == 2
    assert "not an empty folder" in result.err
    assert (tmp_path / "notes.md").read_text() == "mine"
    assert not (tmp_path / "execbrief.yaml").exists()


def test_init_activates_the_five_core_personas_and_leaves_domain_audits_as_examples(
    cli: Cli, tmp_path: Path
) -> None:
    from execbrief.config import load_workspace

    target = tmp_path / "ws"
    assert cli("init", target).code == 0

    config = load_workspace(target).config
    text = (target / "execbrief.yaml").read_text()

    assert config.personas == ["ceo", "cto", "cfo", "cmo", "accounting"]
    assert "  # - rental" in text and "  # - client_portfolio" in text
