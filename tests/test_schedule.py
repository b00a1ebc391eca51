"""Scheduled runs: the automatic approval policy, `send --changed-only` and
`--approved-only`, through the CLI on a small workspace and a real SMTP server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from execbrief.mail.ledger import read_records
from execbrief.models import SendEvent
from execbrief.revisions import read_history, sha256_file
from execbrief.runs import RunFolder
from execbrief.scaffold import scaffold_workspace
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, Inbox, smtp_inbox

AUTO = "approval: {auto: changed_without_warnings}\n"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as served:
        yield served


def small_workspace(root: Path, port: int, extra: str = AUTO) -> Path:
    """`execbrief init`'s workspace, two personas, sending over SMTP to `port`."""
    scaffold_workspace(root)
    config = root / "execbrief.yaml"
    text = config.read_text()
    text = text.replace("  - ceo\n", "").replace("  - cmo\n", "").replace("  - accounting\n", "")
    text = text.replace("transport: file", "transport: smtp")
    text = text.replace("reports@example.com", f"briefs@{DOMAIN}")
    text = text.replace("audit@example.com", f"audit@{DOMAIN}")
    text = text.replace(
        "recipients: {}",
        f"recipients: {{cto: {{to: [cto@{DOMAIN}], cc: [eng@{DOMAIN}]}}, "
        f"cfo: {{to: [cfo@{DOMAIN}]}}}}",
    )
    text = text.replace(
        "  region: us-west-2",
        f"  region: us-west-2\n  smtp: {{host: 127.0.0.1, port: {port}, security: none}}",
        1,
    )
    config.write_text(text + extra)
    return root


def add_risk(workspace: Path, text: str) -> None:
    note = workspace / "handoffs" / "example-co.md"
    note.write_text(note.read_text().replace("## Decisions", f"- Risk: {text}\n\n## Decisions"))


def latest(workspace: Path) -> RunFolder:
    return RunFolder((workspace / "outputs" / "latest").resolve())


@pytest.fixture
def workspace(tmp_path: Path, inbox: tuple[Inbox, int]) -> Path:
    return small_workspace(tmp_path / "ws", inbox[1])


def test_run_approves_changed_clean_briefs_as_auto_policy_bound_to_the_message(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    result = cli("run", "-w", workspace)

    assert result.code == 0, result.err
    assert "Approved cto rev 1 as auto-policy: never sent before" in result.err
    run = latest(workspace)
    for persona in ("cto", "cfo"):
        approval = read_history(run, persona).approval_of(1)
        assert approval is not None
        assert approval.by == "auto-policy"
        assert approval.eml_sha256 == sha256_file(run.persona_dir(persona) / "message.eml")
    sent = cli("send", "-w", workspace)
    assert sent.code == 0, sent.err
    assert sorted(r for rcpts, _ in inbox[0].received for r in rcpts) == sorted(
        [f"cto@{DOMAIN}", f"eng@{DOMAIN}", f"cfo@{DOMAIN}", f"audit@{DOMAIN}", f"audit@{DOMAIN}"]
    )


def test_an_unchanged_brief_is_held_and_a_changed_one_approved_on_the_next_run(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", "-w", workspace).code == 0
    first = latest(workspace)
    assert cli("send", "-w", workspace).code == 0

    same = cli("run", "-w", workspace)
    add_risk(workspace, "the only database has no backups.")
    changed = cli("run", "-w", workspace)

    assert same.code == 0, same.err
    assert (
        f"cto left for review: evidence unchanged since its last sent brief (run {first.run_id})"
        in same.err
    )
    assert "Approved" not in same.err
    assert changed.code == 0, changed.err
    assert (
        f"Approved cto rev 1 as auto-policy: 1 new, 1 changed since its last sent brief "
        f"(run {first.run_id})" in changed.err
    )


def test_a_brief_with_grounding_warnings_is_never_approved_automatically(
    cli: Cli, workspace: Path
) -> None:
    assert cli("run", "-w", workspace, "--persona", "cto").code == 0
    run = latest(workspace)
    report_path = run.report_path("cto")
    report = json.loads(report_path.read_text())
    report["summary"] = "Revenue reached $98,765 last month."
    report_path.write_text(json.dumps(report))
    assert cli("render", "-w", workspace, "--persona", "cto").code == 0

    result = cli("approve", "-w", workspace, "--policy")

    assert result.code == 0, result.err
    assert "cto left for review: 1 grounding warnings" in result.err
    history = read_history(run, "cto")
    assert history.current is not None and history.current.rev == 2
    assert history.approval_of(2) is None


def test_approve_policy_under_manual_approval_is_refused(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra="")
    run = cli("run", "-w", workspace)

    result = cli("approve", "-w", workspace, "--policy")

    assert "auto-policy" not in run.err
    assert result.code == 2
    assert "this workspace's approval is manual" in result.err
    assert read_history(latest(workspace), "cto").approval_of(1) is None


def test_approve_policy_with_as_is_bad_input(cli: Cli, workspace: Path) -> None:
    result = cli("approve", "-w", workspace, "--policy", "--as", "me@x.dev")

    assert result.code == 2
    assert "--policy approves as auto-policy" in result.err


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("approval: automatic\n", "approval is `manual` or `{auto: changed_without_warnings}`"),
        ("approval: {auto: yes}\n", "(approval.auto): Input should be 'changed_without_warnings'"),
        ("approval: {personas: [cto]}\n", "approval.personas applies only with `auto:"),
        ("approval: {auto: changed_without_warnings, ceo: 1}\n", "unknown key 'ceo'"),
    ],
)
def test_a_bad_approval_setting_is_one_line_naming_the_file_and_line(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int], setting: str, message: str
) -> None:
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra=setting)
    lines = (workspace / "execbrief.yaml").read_text().splitlines()

    result = cli("run", "-w", workspace)

    assert result.code == 2
    assert message in result.err
    assert f"execbrief.yaml:{len(lines)}" in result.err
    assert "Traceback" not in result.err
    assert not (workspace / "outputs").exists()


def test_approval_personas_naming_no_persona_is_bad_input(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    extra = "approval: {auto: changed_without_warnings, personas: [ctoo]}\n"
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra=extra)

    result = cli("run", "-w", workspace)

    assert result.code == 2
    assert "approval.personas names 'ctoo', which is no persona here" in result.err


def test_approval_personas_limits_who_is_approved(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    extra = "approval: {auto: changed_without_warnings, personas: [cfo]}\n"
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra=extra)

    result = cli("run", "-w", workspace)

    assert result.code == 0, result.err
    assert "cto left for review: not in approval.personas" in result.err
    assert "Approved cfo rev 1 as auto-policy" in result.err


# --- send --changed-only / --approved-only -----------------------------------------------


def test_changed_only_with_no_previous_send_sends_every_persona(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    assert cli("run", "-w", workspace).code == 0

    result = cli("send", "-w", workspace, "--changed-only")

    assert result.code == 0, result.err
    assert "Sent 2 messages, 0 skipped" in result.err
    assert len(inbox[0].received) == 2


def test_changed_only_skips_unchanged_personas_with_the_reason(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra="")
    assert cli("run", "-w", workspace).code == 0
    first = latest(workspace)
    assert cli("approve", "-w", workspace, "--all", "--as", "a@b.dev").code == 0
    assert cli("send", "-w", workspace).code == 0
    add_risk(workspace, "the only database has no backups.")
    assert cli("run", "-w", workspace).code == 0
    second = latest(workspace)
    assert cli("approve", "-w", workspace, "--all", "--as", "a@b.dev").code == 0
    before = len(inbox[0].received)

    result = cli("send", "-w", workspace, "--changed-only")

    assert result.code == 0, result.err
    assert (
        f"cfo skipped: evidence unchanged since its last sent brief (run {first.run_id})"
        in result.err
    )
    assert "Sent 1 messages, 1 skipped" in result.err
    assert [rcpts for rcpts, _ in inbox[0].received[before:]] == [
        [f"cto@{DOMAIN}", f"eng@{DOMAIN}", f"audit@{DOMAIN}"]
    ]
    sent = [r.persona for r in read_records(second.ledger_path) if r.event is SendEvent.SENT]
    assert sent == ["cto"]


def test_without_approved_only_one_unapproved_draft_refuses_the_whole_send(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra="")
    assert cli("run", "-w", workspace).code == 0
    assert cli("approve", "-w", workspace, "--persona", "cto", "--as", "a@b.dev").code == 0

    refused = cli("send", "-w", workspace)
    partial = cli("send", "-w", workspace, "--approved-only")

    assert refused.code == 2
    assert "cfo: rev 1 is not approved" in refused.err
    assert partial.code == 0, partial.err
    assert "cfo skipped: cfo: rev 1 is not approved" in partial.err
    assert "Sent 1 messages, 1 skipped" in partial.err
    assert len(inbox[0].received) == 1


# --- run --send under the automatic policy: the unattended run in one command ------------


def test_run_send_under_auto_policy_sends_only_changed_auto_approved_briefs(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    first = cli("run", "-w", workspace, "--send")
    assert first.code == 0, first.err
    assert len(inbox[0].received) == 2  # cto and cfo, never sent before

    again = cli("run", "-w", workspace, "--send")
    add_risk(workspace, "the only database has no backups.")
    changed = cli("run", "-w", workspace, "--send")

    assert again.code == 0, again.err
    assert "cto skipped: evidence unchanged since its last sent brief" in again.err
    assert len(inbox[0].received) == 3  # only the changed cto brief went out the third time
    assert changed.code == 0, changed.err
    assert inbox[0].received[-1][0] == [f"cto@{DOMAIN}", f"eng@{DOMAIN}", f"audit@{DOMAIN}"]
    sent = [
        r.persona for r in read_records(latest(workspace).ledger_path) if r.event is SendEvent.SENT
    ]
    assert sent == ["cto"]


def test_run_send_under_manual_approval_through_smtp_is_refused_before_collecting(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    workspace = small_workspace(tmp_path / "ws", inbox[1], extra="")

    result = cli("run", "-w", workspace, "--send")

    assert result.code == 2
    assert "`run --send` cannot send through smtp: its drafts need approval first" in result.err
    assert "approval: {auto: changed_without_warnings}" in result.err
    assert not (workspace / "outputs").exists() or not any((workspace / "outputs").iterdir())
    assert inbox[0].received == []
