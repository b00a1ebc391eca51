"""Approvals and revisions as the stages see them: bound to bytes, per revision, atomic."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.approval import approve_drafts, approver, check_approved
from execbrief.config import load_workspace
from execbrief.errors import RefusedError
from execbrief.models import GroundingWarning, Provenance, WarningKind
from execbrief.revisions import read_history, revisions_path
from execbrief.runs import RunFolder, open_run
from tests.conftest import Cli

NOW = datetime(2026, 11, 25, 7, 7, tzinfo=UTC)


@pytest.fixture
def drafted(cli: Cli, example_workspace: Path) -> RunFolder:
    assert cli("run", "-w", example_workspace, "--persona", "ceo", "--persona", "cfo").code == 0
    return open_run(load_workspace(example_workspace).outputs)


def _warn(run: RunFolder, persona: str, count: int) -> None:
    manifest = run.read_manifest()
    manifest.personas[persona].warnings = [
        GroundingWarning(kind=WarningKind.UNCITED, where=f"findings[{i}].evidence", detail="x")
        for i in range(count)
    ]
    run.write_manifest(manifest)


def test_a_first_render_is_rev_1_written_by_the_offline_provider(drafted: RunFolder) -> None:
    history = read_history(drafted, "cfo")

    assert history.current is not None
    assert (history.current.rev, history.current.provenance) == (1, Provenance.OFFLINE)
    assert history.generated is not None
    assert history.generated.report_sha256 == history.current.report_sha256
    assert drafted.read_manifest().personas["cfo"].provenance is Provenance.OFFLINE


def test_each_warning_must_be_acknowledged_and_a_refusal_records_nothing(
    drafted: RunFolder,
) -> None:
    _warn(drafted, "cfo", 2)
    _warn(drafted, "ceo", 0)
    asked: list[str] = []

    def decline_second(persona: str, warning: GroundingWarning) -> bool:
        asked.append(warning.where)
        return warning.where != "findings[1].evidence"

    with pytest.raises(RefusedError, match=r"^cfo: 1 of 2 grounding warnings not acknowledged"):
        approve_drafts(
            drafted,
            drafted.read_manifest(),
            ["ceo", "cfo"],
            by="ann",
            now=NOW,
            acknowledge=decline_second,
        )

    assert asked == ["findings[0].evidence", "findings[1].evidence"]
    assert read_history(drafted, "ceo").approvals == []  # ceo was fine, but nothing recorded
    results = approve_drafts(
        drafted, drafted.read_manifest(), ["ceo", "cfo"], by="ann", now=NOW,
        acknowledge=lambda persona, warning: True,
    )  # fmt: skip
    assert [(r.persona, r.rev, r.accepted_warnings) for r in results] == [
        ("ceo", 1, 0),
        ("cfo", 1, 2),
    ]


def test_an_approval_holds_for_its_bytes_and_its_revision_only(
    cli: Cli, example_workspace: Path, drafted: RunFolder
) -> None:
    _warn(drafted, "cfo", 0)
    approve_drafts(drafted, drafted.read_manifest(), ["cfo"], by="ann", now=NOW)
    check_approved(drafted, "cfo", read_history(drafted, "cfo"))  # passes

    again = approve_drafts(drafted, drafted.read_manifest(), ["cfo"], by="bob", now=NOW)
    assert again[0].already and again[0].by == "ann"

    assert cli("render", "-w", example_workspace, "--persona", "cfo").code == 0
    with pytest.raises(RefusedError, match=r"^cfo: rev 2 is not approved; nothing was sent$"):
        check_approved(drafted, "cfo", read_history(drafted, "cfo"))


def test_a_hand_edit_is_provenance_edited_until_the_persona_is_generated_again(
    cli: Cli, example_workspace: Path, drafted: RunFolder
) -> None:
    report = drafted.report_path("cfo")
    edited = json.loads(report.read_text())
    edited["summary"] = "Tightened by the analyst."
    report.write_text(json.dumps(edited))

    assert cli("render", "-w", example_workspace, "--persona", "cfo").code == 0
    assert read_history(drafted, "cfo").revisions[-1].provenance is Provenance.EDITED
    assert cli("render", "-w", example_workspace, "--persona", "cfo").code == 0  # still edited
    assert read_history(drafted, "cfo").revisions[-1].provenance is Provenance.EDITED
    assert cli("generate", "-w", example_workspace, "--persona", "cfo").code == 0

    revisions = read_history(drafted, "cfo").revisions
    assert [(r.rev, r.provenance) for r in revisions] == [
        (1, Provenance.OFFLINE),
        (2, Provenance.EDITED),
        (3, Provenance.EDITED),
        (4, Provenance.OFFLINE),
    ]
    assert "Written without a model" in (drafted.persona_dir("cfo") / "report.md").read_text()


def test_a_draft_rendered_before_revisions_existed_counts_as_rev_1(
    cli: Cli, example_workspace: Path, drafted: RunFolder
) -> None:
    revisions_path(drafted, "cfo").unlink()

    assert read_history(drafted, "cfo").current is not None
    assert cli("render", "-w", example_workspace, "--persona", "cfo").code == 0
    assert [r.rev for r in read_history(drafted, "cfo").revisions] == [2]


def test_the_approver_is_as_then_git_user_email_then_the_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("USER", "login-name")
    monkeypatch.setenv("LOGNAME", "login-name")
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)

    assert approver(" ann@corp.dev ", tmp_path / "repo") == "ann@corp.dev"
    assert approver(None, tmp_path / "repo") == "login-name"
    subprocess.run(
        ["git", "-C", str(tmp_path / "repo"), "config", "user.email", "git@corp.dev"], check=True
    )
    assert approver(None, tmp_path / "repo") == "git@corp.dev"


class _Terminal(io.StringIO):
    """Answers typed at a terminal."""

    def isatty(self) -> bool:
        return True


def test_in_a_terminal_each_warning_is_asked_about_and_a_no_refuses(
    cli: Cli, example_workspace: Path, drafted: RunFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _warn(drafted, "cfo", 2)
    monkeypatch.setattr("sys.stdin", _Terminal("y\nn\n"))

    declined = cli("approve", "-w", example_workspace, "--persona", "cfo", "--as", "ann")
    monkeypatch.setattr("sys.stdin", _Terminal("y\ny\n"))
    accepted = cli("approve", "-w", example_workspace, "--persona", "cfo", "--as", "ann")

    assert declined.code == 2
    assert "cfo: 1 of 2 grounding warnings not acknowledged" in declined.err
    assert declined.out.count("accept findings[") == 2
    assert accepted.code == 0, accepted.err
    assert "Approved cfo rev 1 as ann, 2 grounding warnings accepted" in accepted.err
