"""The run folder under damage and hostile input: one-line errors (exit 2), never a
traceback; runs resolve inside outputs/; config is checked before collect; generate resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from execbrief.models import Manifest, PersonaStatus
from tests.conftest import REPO, Cli


def _outputs(workspace: Path) -> Path:
    return workspace.parent.parent / "outputs"


def _latest(workspace: Path) -> Path:
    return (_outputs(workspace) / "latest").resolve()


def _one_line_error(err: str, *needles: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture
def collected(cli: Cli, example_workspace: Path) -> Path:
    assert cli("collect", "--workspace", example_workspace).code == 0
    return _latest(example_workspace)


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("bundle.json", ("generate",)),
        ("manifest.json", ("review",)),
    ],
)
def test_a_corrupt_run_file_is_a_one_line_error(
    cli: Cli, example_workspace: Path, collected: Path, name: str, command: tuple[str, ...]
) -> None:
    (collected / name).write_text('{"schema": "execbrief.bund')

    result = cli(*command, "--workspace", example_workspace)

    assert result.code == 2
    _one_line_error(result.err, name, str(collected))


def test_a_corrupt_report_is_a_one_line_error_naming_it(
    cli: Cli, example_workspace: Path, collected: Path
) -> None:
    assert cli("generate", "--workspace", example_workspace, "--persona", "cfo").code == 0
    report = collected / "cfo" / "report.json"
    report.write_text(json.dumps({"subject": 3}))

    result = cli("render", "--workspace", example_workspace, "--persona", "cfo")

    assert result.code == 2
    _one_line_error(result.err, "report.json", "generate --persona cfo")


@pytest.mark.parametrize("run", ["..", "/etc", "../examples", "latest/.."])
def test_a_run_outside_outputs_is_refused(
    cli: Cli, example_workspace: Path, collected: Path, run: str
) -> None:
    result = cli("review", "--workspace", example_workspace, "--run", run)

    assert result.code == 2
    _one_line_error(result.err, "--run")


def test_latest_pointing_outside_outputs_is_refused(
    cli: Cli, example_workspace: Path, collected: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(collected, elsewhere)
    latest = _outputs(example_workspace) / "latest"
    latest.unlink()
    latest.symlink_to(elsewhere, target_is_directory=True)

    result = cli("review", "--workspace", example_workspace)

    assert result.code == 2
    _one_line_error(result.err, "not a run folder inside outputs")


def test_outputs_naming_a_file_is_refused_before_collect(cli: Cli, example_workspace: Path) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(config.read_text().replace("outputs: ../../outputs", "outputs: README.md"))

    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 2
    _one_line_error(result.err, "outputs names a file", "README.md")


def _persona_with_subject(workspace: Path, subject: str) -> Path:
    personas = workspace / "personas"
    personas.mkdir(exist_ok=True)
    text = (REPO / "personas" / "cfo.yaml").read_text()
    line = next(t for t in text.splitlines() if t.strip().startswith("subject:"))
    path = personas / "cfo.yaml"
    path.write_text(text.replace(line, f"  subject: {json.dumps(subject)}"))
    return path


@pytest.mark.parametrize(
    "subject",
    [
        "{{ range(10**9)|list }}",
        "{{ 'x' * 10**9 }}",
        "{{ 2 ** (10 ** 10) }}",
        "{% for i in range(9) %}{% for j in range(9) %}x{% endfor %}{% endfor %}",
        "{{ report.subject | replace('', 'xxxxxxxxxx' * 999) | replace('x', 'yyyyyyyyy') }}",
        "{{ report.nope }}",
        "{{ 1 / 0 }}",
    ],
)
def test_a_subject_template_that_explodes_is_found_before_collect(
    cli: Cli, example_workspace: Path, subject: str
) -> None:
    path = _persona_with_subject(example_workspace, subject)

    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 2
    _one_line_error(result.err, "subject template", str(path), "deliver.subject")
    assert not _outputs(example_workspace).exists()  # nothing collected, no run folder


def test_a_bad_subject_is_found_before_generate_calls_a_model(
    cli: Cli, example_workspace: Path, collected: Path
) -> None:
    _persona_with_subject(example_workspace, "{{ range(10**9)|list }}")

    result = cli("generate", "--workspace", example_workspace, "--persona", "cfo")

    assert result.code == 2
    _one_line_error(result.err, "subject template")
    assert not (collected / "cfo").exists()


def test_a_run_with_a_bundle_but_no_manifest_is_a_one_line_error(
    cli: Cli, example_workspace: Path, collected: Path
) -> None:
    (collected / "manifest.json").unlink()  # as a collect killed between its two writes

    result = cli("generate", "--workspace", example_workspace, "--run", collected.name)

    assert result.code == 2
    _one_line_error(result.err, "no manifest.json", "interrupted")


def test_collect_moves_latest_only_once_the_run_is_complete(
    cli: Cli, example_workspace: Path, collected: Path
) -> None:
    manifest = Manifest.model_validate_json((collected / "manifest.json").read_bytes())

    assert [s.stage for s in manifest.stages] == ["collect"]
    assert (collected / "bundle.json").is_file()
    assert str((_outputs(example_workspace) / "latest").readlink()) == collected.name


def _kill_mid_generate(run: Path, lost: list[str]) -> None:
    """What a generate killed after some personas leaves: their reports missing or torn,
    their manifest entries absent, and no persona rendered yet."""
    manifest = Manifest.model_validate_json((run / "manifest.json").read_bytes())
    for persona in lost:
        del manifest.personas[persona]
    (run / "manifest.json").write_text(manifest.model_dump_json(by_alias=True))
    for folder in run.iterdir():
        if folder.is_dir():
            for name in ("message.eml", "envelope.json", "report.md", "report.html", "report.txt"):
                (folder / name).unlink(missing_ok=True)
    (run / lost[0] / "report.json").write_text('{"subject": "torn')
    shutil.rmtree(run / lost[1])


def test_a_rerun_after_a_killed_generate_writes_only_the_missing_personas(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)
    _kill_mid_generate(run, ["cfo", "cto"])
    kept = {p.name: (p / "report.json").stat().st_mtime_ns for p in run.iterdir() if p.is_dir()}
    kept = {k: v for k, v in kept.items() if k not in ("cfo", "cto", "outbox")}

    result = cli("generate", "--workspace", example_workspace)

    assert result.code == 0, result.err
    assert "Keeping 6 valid reports, generating the other 2" in result.err
    manifest = Manifest.model_validate_json((run / "manifest.json").read_bytes())
    assert len(manifest.personas) == 8
    assert all(p.status is PersonaStatus.OK for p in manifest.personas.values())
    assert {k: (run / k / "report.json").stat().st_mtime_ns for k in kept} == kept
    assert all((run / p / "message.eml").is_file() for p in manifest.personas)


def test_send_after_a_killed_generate_does_not_claim_personas_were_sent(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)
    _kill_mid_generate(run, ["cfo", "cto"])

    result = cli("send", "--workspace", example_workspace)

    assert "already sent" not in result.err
    assert "no rendered message" in result.err
    assert "execbrief generate" in result.err
    assert not (run / "send-ledger.jsonl").exists()
