"""End to end: the example's eight approved briefs go through SES on moto's server."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESQuota, ses_backends

from tests.conftest import Cli
from tests.mail_servers import DOMAIN, use_addresses

pytestmark = pytest.mark.slow

REGION = "us-west-2"


@pytest.fixture
def ses_workspace(
    example_workspace: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    # moto's fixed quota of one recipient a second would make this test wait ~16 s;
    # the pacing itself is tested against a configured rate in test_mail_ses.py.
    original = SESQuota.__init__

    def faster(self: SESQuota, sent: int) -> None:
        original(self, sent)
        self.max_send_rate = 200

    monkeypatch.setattr(SESQuota, "__init__", faster)
    config = example_workspace / "execbrief.yaml"
    config.write_text(use_addresses(config.read_text(), "ses"))
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity=f"briefs@{DOMAIN}"
    )
    yield example_workspace


def test_approved_briefs_go_through_ses_and_a_second_send_sends_nothing(
    cli: Cli, ses_workspace: Path
) -> None:
    assert cli("run", "--workspace", ses_workspace).code == 0
    assert (
        cli(
            "approve", "--workspace", ses_workspace, "--all", "--accept-warnings", "--as", "a@b.dev"
        ).code
        == 0
    )
    result = cli("send", "--workspace", ses_workspace)

    assert result.code == 0, result.err
    sent = list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
    assert len(sent) == 8
    for message in sent:
        assert f"audit@{DOMAIN}" in message.destinations
        parsed = message_from_bytes(message.raw_data.encode(), policy=policy.default)
        assert parsed["Bcc"] is None
        assert f"audit@{DOMAIN}" not in message.raw_data
    assert not (ses_workspace.parent.parent / "outputs" / "latest" / "outbox").exists()

    again = cli("send", "--workspace", ses_workspace, "--run", "latest")

    assert again.code == 0
    assert "Nothing left to send" in again.err
    assert len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == 8


def test_an_unverified_sender_stops_the_send_before_anything_leaves(
    cli: Cli, ses_workspace: Path
) -> None:
    config = ses_workspace / "execbrief.yaml"
    config.write_text(config.read_text().replace(f"briefs@{DOMAIN}", f"nobody@{DOMAIN}"))
    assert cli("run", "--workspace", ses_workspace).code == 0
    assert (
        cli(
            "approve", "--workspace", ses_workspace, "--all", "--accept-warnings", "--as", "a@b.dev"
        ).code
        == 0
    )

    result = cli("send", "--workspace", ses_workspace)

    assert result.code == 2
    assert f"nobody@{DOMAIN}" in result.err
    assert list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == []


def test_run_send_through_ses_is_refused_before_anything_is_collected(
    cli: Cli, ses_workspace: Path
) -> None:
    result = cli("run", "--workspace", ses_workspace, "--send")

    assert result.code == 2
    assert "error: `run --send` cannot send through ses: its drafts need approval first" in (
        result.err
    )
    assert not (ses_workspace.parent.parent / "outputs").exists()
