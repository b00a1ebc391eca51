"""The whole pipeline through the CLI on a copy of the example portfolio."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from execbrief.models import Manifest, PersonaStatus, SendEvent, SendRecord
from tests.conftest import Cli

PERSONAS = {
    "accounting",
    "ceo",
    "cfo",
    "client_portfolio",
    "cmo",
    "cto",
    "rental",
    "yacht_delivery",
}
DRAFTS = ("report.json", "report.md", "report.html", "message.eml")


def _latest(workspace: Path) -> Path:
    return (workspace.parent.parent / "outputs" / "latest").resolve()


def _ledger(run: Path) -> list[SendRecord]:
    lines = (run / "send-ledger.jsonl").read_text().splitlines()
    return [SendRecord.model_validate_json(line) for line in lines]


def test_run_writes_every_draft_sends_all_and_points_latest(
    cli: Cli, example_workspace: Path
) -> None:
    result = cli("run", "--workspace", example_workspace, "--send")

    assert result.code == 0, result.err
    run = _latest(example_workspace)
    assert {p.name for p in run.iterdir() if p.is_dir() and p.name != "outbox"} == PERSONAS
    for persona in PERSONAS:
        assert all((run / persona / name).is_file() for name in DRAFTS), persona
    assert len(list((run / "outbox").glob("*.eml"))) == 8
    manifest = Manifest.model_validate_json((run / "manifest.json").read_bytes())
    assert set(manifest.personas) == PERSONAS
    assert all(p.status is PersonaStatus.OK for p in manifest.personas.values())
    assert (run / "index.html").is_file()
    assert "Run " + run.name in result.out  # the summary table


def test_resending_a_sent_persona_is_refused_then_forced(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "--workspace", example_workspace, "--send").code == 0

    refused = cli("send", "--workspace", example_workspace, "--persona", "cto", "--run", "latest")

    assert refused.code == 2
    assert "already sent" in refused.err and "--force" in refused.err
    forced = cli(
        "send", "--workspace", example_workspace, "--persona", "cto", "--run", "latest", "--force"
    )
    assert forced.code == 0, forced.err
    run = _latest(example_workspace)
    cto_sent = [r for r in _ledger(run) if r.persona == "cto" and r.event is SendEvent.SENT]
    assert len(cto_sent) == 2
    assert len(list((run / "outbox").glob("cto*.eml"))) == 2


def test_no_send_leaves_drafts_and_a_later_send_sends_all(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)
    assert not list(run.glob("outbox/*.eml"))

    result = cli("send", "--workspace", example_workspace, "--run", "latest")

    assert result.code == 0, result.err
    assert len(list((run / "outbox").glob("*.eml"))) == 8
    again = cli("send", "--workspace", example_workspace, "--run", "latest")
    assert again.code == 0
    assert "Nothing left to send" in again.err
    assert len(list((run / "outbox").glob("*.eml"))) == 8


def test_every_message_parses_back_with_both_parts_and_no_bcc_header(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)

    for persona in PERSONAS:
        raw = (run / persona / "message.eml").read_bytes()
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert message["Bcc"] is None
        assert b"audit@example.com" not in raw
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
        report = json.loads((run / persona / "report.json").read_text())
        assert report["subject"] in str(message["Subject"])
        envelope = json.loads((run / persona / "envelope.json").read_text())
        assert "audit@example.com" in envelope["recipients"]


def test_run_without_a_config_exits_2_and_suggests_init(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "--workspace", tmp_path)

    assert result.code == 2
    assert "execbrief init" in result.err
    assert "Traceback" not in result.err


def test_unknown_persona_is_bad_input(cli: Cli, example_workspace: Path) -> None:
    result = cli("run", "--workspace", example_workspace, "--persona", "coo")

    assert result.code == 2
    assert "unknown persona 'coo'" in result.err
    assert not (example_workspace.parent.parent / "outputs").exists()


def test_generate_one_persona_leaves_the_others_untouched(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)
    before = {p: (run / p / "report.json").stat().st_mtime_ns for p in PERSONAS}

    result = cli(
        "generate", "--workspace", example_workspace, "--persona", "cfo", "--note", "Focus on Q4."
    )

    assert result.code == 0, result.err
    after = {p: (run / p / "report.json").stat().st_mtime_ns for p in PERSONAS}
    assert {p for p in PERSONAS if before[p] != after[p]} == {"cfo"}
    manifest = Manifest.model_validate_json((run / "manifest.json").read_bytes())
    assert manifest.personas["cfo"].note == "Focus on Q4."
    assert set(manifest.personas) == PERSONAS


def test_offline_reports_are_byte_identical_across_runs(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    first = _latest(example_workspace)
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    second = _latest(example_workspace)

    assert first != second
    for persona in PERSONAS:
        assert (first / persona / "report.json").read_bytes() == (
            second / persona / "report.json"
        ).read_bytes(), persona


def test_edited_report_must_be_rendered_before_it_is_sent(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    run = _latest(example_workspace)
    report = run / "cfo" / "report.json"
    edited = json.loads(report.read_text())
    edited["summary"] = "Edited by the analyst."
    report.write_text(json.dumps(edited))

    refused = cli("send", "--workspace", example_workspace, "--persona", "cfo")
    assert refused.code == 2
    assert "execbrief render --persona cfo" in refused.err

    assert cli("render", "--workspace", example_workspace, "--persona", "cfo").code == 0
    assert cli("send", "--workspace", example_workspace, "--persona", "cfo").code == 0
    assert b"Edited by the analyst." in (run / "outbox" / "cfo.eml").read_bytes()


def test_review_json_lists_every_persona_with_its_delivery(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--send").code == 0

    result = cli("review", "--workspace", example_workspace, "--json")

    assert result.code == 0
    rows = json.loads(result.out)
    assert {row["persona"] for row in rows} == PERSONAS
    assert all(row["delivery"] == "sent" for row in rows)
    assert all(" via file" in row["delivery_detail"] for row in rows)


def test_dry_run_sends_nothing(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0

    result = cli("send", "--workspace", example_workspace, "--dry-run")

    assert result.code == 0
    assert "would send 8" in result.err
    assert not (_latest(example_workspace) / "send-ledger.jsonl").exists()


def test_json_puts_only_the_run_document_on_stdout(cli: Cli, example_workspace: Path) -> None:
    result = cli("run", "--workspace", example_workspace, "--no-send", "--json")

    assert result.code == 0
    document = json.loads(result.out)
    assert set(document["manifest"]["personas"]) == PERSONAS
    assert {row["persona"] for row in document["review"]} == PERSONAS
    assert "Collected" in result.err


def test_a_run_without_a_sender_is_refused_before_anything_is_written(
    cli: Cli, example_workspace: Path
) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(config.read_text().replace("  from: briefs@example.com", "  from: null"))

    result = cli("run", "--workspace", example_workspace)

    assert result.code == 2
    assert "no sender address" in result.err and "mail.from" in result.err
    assert not (example_workspace.parent.parent / "outputs").exists()
