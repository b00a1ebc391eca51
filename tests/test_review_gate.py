"""The review gate's refusals, each with its exact message and exit 2, and what `run`,
`send --dry-run`, `send --to` and `init` say about the path from draft to inbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from execbrief.models import SendEvent, SendRecord
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, Inbox, smtp_inbox, use_addresses
from tests.messages_api_server import AnswerContext, MessagesApiServer, default_answer


def _latest(workspace: Path) -> Path:
    return (workspace.parent.parent / "outputs" / "latest").resolve()


def _ledger(run: Path) -> list[SendRecord]:
    path = run / "send-ledger.jsonl"
    if not path.is_file():
        return []
    return [SendRecord.model_validate_json(line) for line in path.read_text().splitlines()]


@pytest.fixture
def smtp_workspace(
    example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Inbox]]:
    """The example with two personas, sending over SMTP to a loopback inbox."""
    with smtp_inbox() as (inbox, port):
        monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
        config = example_workspace / "execbrief.yaml"
        smtp = f"  smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n"
        text = use_addresses(config.read_text(), "smtp")
        text = text.replace("  region: us-west-2\n", "  region: us-west-2\n" + smtp)
        config.write_text(text + "personas: [ceo, cfo]\n")
        yield example_workspace, inbox


def test_a_draft_changed_after_approval_is_refused(
    cli: Cli, smtp_workspace: tuple[Path, Inbox]
) -> None:
    ws, inbox = smtp_workspace
    assert cli("run", "-w", ws).code == 0
    assert cli("approve", "-w", ws, "--all", "--accept-warnings", "--as", "ann@corp.dev").code == 0
    eml = _latest(ws) / "cfo" / "message.eml"
    eml.write_bytes(eml.read_bytes().replace(b"Subject: ", b"Subject: Edited "))

    result = cli("send", "-w", ws)

    assert result.code == 2
    assert "error: cfo: message.eml changed after rev 1 was approved by ann@corp.dev at " in (
        result.err
    )
    assert "run `execbrief approve --persona cfo` again" in result.err
    assert inbox.received == []
    assert _ledger(_latest(ws)) == []


def test_a_reserved_domain_recipient_is_refused_naming_the_persona_and_its_origin(
    cli: Cli, smtp_workspace: tuple[Path, Inbox]
) -> None:
    ws, inbox = smtp_workspace
    config = ws / "execbrief.yaml"
    config.write_text(config.read_text() + "recipients:\n  cfo: {to: [cfo@example.org]}\n")
    assert cli("run", "-w", ws).code == 0
    assert cli("approve", "-w", ws, "--all", "--accept-warnings", "--as", "ann@corp.dev").code == 0

    result = cli("send", "-w", ws)

    assert result.code == 2
    assert (
        "error: cfo: recipient cfo@example.org (from execbrief.yaml recipients.cfo.to) is "
        "under a reserved domain that no real mailbox has; nothing was sent"
    ) in result.err
    assert inbox.received == []


@pytest.mark.parametrize(
    ("address", "reserved"),
    [
        ("a@example.com", True),
        ("a@mail.example.net", True),
        ("a@host.test", True),
        ("a@x.invalid", True),
        ("a@x.example", True),
        ("a@box.localhost", True),
        ("a@example.co", False),
        ("a@notexample.com", False),
        ("a@corp.dev", False),
    ],
)
def test_reserved_domains_are_the_rfc_2606_and_6761_names(address: str, reserved: bool) -> None:
    from execbrief.mail.addresses import is_reserved

    assert is_reserved(address) is reserved


def test_the_file_transport_needs_no_approval_and_may_use_example_addresses(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "-w", example_workspace).code == 0

    result = cli("send", "-w", example_workspace)

    assert result.code == 0, result.err
    assert len(list((_latest(example_workspace) / "outbox").glob("*.eml"))) == 8


def test_send_render_and_approve_on_a_run_without_drafts_name_the_run_that_has_them(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "-w", example_workspace, "--persona", "ceo").code == 0
    drafted = _latest(example_workspace).name
    assert cli("collect", "-w", example_workspace).code == 0
    empty = _latest(example_workspace).name

    for command in (["send"], ["render"], ["approve", "--all"]):
        result = cli(*command, "-w", example_workspace)

        assert result.code == 2, command
        assert f"error: run {empty} has no drafts" in result.err
        assert f"the most recent run with drafts is {drafted}: pass --run {drafted}" in (result.err)


def test_approve_needs_personas_or_all(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "-w", example_workspace, "--persona", "ceo").code == 0

    result = cli("approve", "-w", example_workspace)

    assert result.code == 2
    assert "name the drafts to approve" in result.err


def test_dry_run_lists_from_to_cc_the_audit_copy_and_the_subject(
    cli: Cli, smtp_workspace: tuple[Path, Inbox]
) -> None:
    ws, inbox = smtp_workspace
    config = ws / "execbrief.yaml"
    config.write_text(
        config.read_text() + f"recipients:\n  cfo: {{to: [cfo@{DOMAIN}], cc: [books@{DOMAIN}]}}\n"
    )
    assert cli("run", "-w", ws).code == 0
    assert cli("approve", "-w", ws, "--all", "--accept-warnings", "--as", "ann@corp.dev").code == 0
    subject = message_from_bytes(
        (_latest(ws) / "cfo" / "message.eml").read_bytes(), policy=policy.default
    )["Subject"]

    result = cli("send", "-w", ws, "--dry-run")

    assert result.code == 0, result.err
    assert (
        f"cfo: via smtp: From briefs@{DOMAIN} | To cfo@{DOMAIN} | Cc books@{DOMAIN} | "
        f"BCC audit audit@{DOMAIN} | Subject {subject}"
    ) in " ".join(result.err.split())
    assert "would send 2" in result.err
    assert inbox.received == []


def test_a_test_send_goes_to_one_address_marked_and_changes_no_sent_state(
    cli: Cli, smtp_workspace: tuple[Path, Inbox]
) -> None:
    ws, inbox = smtp_workspace
    assert cli("run", "-w", ws).code == 0  # a test send needs no approval: it is the review

    result = cli("send", "-w", ws, "--persona", "cfo", "--to", f"me@{DOMAIN}")

    assert result.code == 0, result.err
    [(recipients, content)] = inbox.received
    assert recipients == [f"me@{DOMAIN}"]
    message = message_from_bytes(content, policy=policy.default)
    assert str(message["Subject"]).startswith("[TEST] ")
    assert message["To"] == f"me@{DOMAIN}"
    assert message["Cc"] is None
    [attempt, sent] = _ledger(_latest(ws))
    assert (sent.event, sent.test, sent.persona) == (SendEvent.SENT, True, "cfo")
    assert attempt.test
    rows = {r["persona"]: r for r in json.loads(cli("review", "-w", ws, "--json").out)}
    assert rows["cfo"]["state"].startswith("rev 1 draft")
    refused = cli("send", "-w", ws, "--persona", "cfo")
    assert refused.code == 2
    assert "error: cfo: rev 1 is not approved; nothing was sent" in refused.err


def test_a_test_send_to_a_reserved_address_is_refused(
    cli: Cli, smtp_workspace: tuple[Path, Inbox]
) -> None:
    ws, inbox = smtp_workspace
    assert cli("run", "-w", ws).code == 0

    result = cli("send", "-w", ws, "--persona", "cfo", "--to", "me@example.com")

    assert result.code == 2
    assert "error: cfo: recipient me@example.com (from --to) is under a reserved domain" in (
        result.err
    )
    assert inbox.received == []


def test_run_stops_at_the_drafts_and_points_at_review(cli: Cli, example_workspace: Path) -> None:
    result = cli("run", "-w", example_workspace)

    assert result.code == 0
    assert not (_latest(example_workspace) / "outbox").exists()
    assert "Drafts written, nothing sent. Next: `execbrief review -w " in result.err
    assert "`execbrief approve -w " in result.err


def test_init_points_at_the_review_path(cli: Cli, tmp_path: Path) -> None:
    result = cli("init", tmp_path / "ws")

    assert result.code == 0
    text = " ".join(result.err.split())
    assert "`execbrief run -w" in text and "`execbrief review -w" in text
    assert "`execbrief approve -w" in text and "--all` -> `execbrief send -w" in text


def _invented(ctx: AnswerContext) -> str:
    report = json.loads(default_answer(ctx))
    report["summary"] = "Revenue reached $12,345 last month."
    return json.dumps(report)


@pytest.mark.slow
def test_strict_run_where_every_persona_fails_sends_nothing(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MessagesApiServer(ttfb=0.01, tokens_per_second=50_000) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        api.answer = _invented

        result = cli("run", "-w", example_workspace, "--strict", "--send")

    assert result.code == 1
    assert "No persona passed; nothing was sent." in result.err
    run = _latest(example_workspace)
    assert not (run / "outbox").exists()
    assert _ledger(run) == []
