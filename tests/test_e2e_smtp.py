"""End to end: `execbrief send --transport smtp` delivers the drafts to a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.mail_servers import DOMAIN, Inbox, smtp_inbox, use_addresses

pytestmark = pytest.mark.slow


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as served:
        yield served


def test_send_over_smtp_delivers_each_draft_once_with_the_audit_copy_in_the_envelope(
    cli: Cli, example_workspace: Path, inbox: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = inbox
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        use_addresses(config.read_text(), "file").replace(
            "  region: us-west-2\n",
            f"  region: us-west-2\n  smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n",
        )
    )
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    assert (
        cli(
            "approve",
            "--workspace",
            example_workspace,
            "--all",
            "--accept-warnings",
            "--as",
            "a@b.dev",
        ).code
        == 0
    )

    sent = cli("send", "--workspace", example_workspace, "--transport", "smtp")
    again = cli("send", "--workspace", example_workspace, "--transport", "smtp")

    assert sent.code == 0, sent.err
    assert len(handler.received) == 8
    latest = example_workspace.parent.parent / "outputs" / "latest"
    for recipients, content in handler.received:
        assert f"audit@{DOMAIN}" in recipients
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        assert message["Bcc"] is None
        persona = str(message["X-Execbrief-Persona"])
        drafted = message_from_bytes(
            (latest / persona / "message.eml").read_bytes(), policy=policy.default
        )
        assert message["Subject"] == drafted["Subject"]
        assert message["Message-ID"] == drafted["Message-ID"]
    assert again.code == 0
    assert "Nothing left to send" in again.err
    assert len(handler.received) == 8
    assert not (latest / "outbox").exists()
