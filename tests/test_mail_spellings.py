"""A repos.env in each spelling older setups use drives a real send to moto's SES: the
right From, To, audit BCC and region, and SES-only keys that reach no file or output."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESQuota, ses_backends

from tests.conftest import Cli
from tests.mail_servers import DOMAIN

pytestmark = pytest.mark.slow

SES_KEY_ID = "AKIASESONLYKEY000001"
SES_SECRET = "sesOnlySecret/DoNotLeak+0123456789abcdef"

SPELLINGS = {
    "current": (
        f"SES_FROM_ADDRESS=briefs@{DOMAIN}\nSES_TO_ADDRESS=owner@{DOMAIN}\n"
        f"SES_BCC_ADDRESS=audit@{DOMAIN}\nSES_REGION=eu-west-1\n"
    ),
    "sender-recipients": (
        f"SES_SENDER_EMAIL=briefs@{DOMAIN}\nSES_RECIPIENTS=owner@{DOMAIN}\n"
        f"BCC_ADDRESS=audit@{DOMAIN}\nAWS_SES_REGION=eu-west-1\n"
        f"SES_ACCESS_KEY={SES_KEY_ID}\nSES_SECRET_KEY={SES_SECRET}\n"
    ),
    "recipient-email": (
        f"SES_SENDER_EMAIL=briefs@{DOMAIN}\nRECIPIENT_EMAIL=owner@{DOMAIN}\n"
        f"BCC_ADDRESS=audit@{DOMAIN}\nAWS_REGION=eu-west-1\n"
    ),
}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
def test_a_repos_env_in_each_spelling_sends_with_the_right_addresses_and_region(
    cli: Cli,
    example_workspace: Path,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    spelling: str,
) -> None:
    original = SESQuota.__init__

    def faster(self: SESQuota, sent: int) -> None:
        original(self, sent)
        self.max_send_rate = 200

    monkeypatch.setattr(SESQuota, "__init__", faster)
    (example_workspace / "repos.env").write_text(SPELLINGS[spelling])
    config = example_workspace / "execbrief.yaml"
    mail = (
        "mail:\n  transport: ses\n  env_file: repos.env\noutputs: ../../outputs\npersonas: [ceo]\n"
    )
    config.write_text(config.read_text().split("mail:\n", 1)[0] + mail)
    boto3.client("sesv2", region_name="eu-west-1").create_email_identity(
        EmailIdentity=f"briefs@{DOMAIN}"
    )
    if "SES_ACCESS_KEY" in SPELLINGS[spelling]:
        # without the SES-only pair there would be no credentials at all
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    results = [
        cli("run", "-w", example_workspace),
        cli("approve", "-w", example_workspace, "--all", "--accept-warnings", "--as", "me@x.dev"),
        cli("send", "-w", example_workspace, "--dry-run"),
        cli("send", "-w", example_workspace),
    ]

    assert [r.code for r in results] == [0, 0, 0, 0], results[-1].err
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    assert message.source == f"briefs@{DOMAIN}"
    assert set(message.destinations) == {f"owner@{DOMAIN}", f"audit@{DOMAIN}"}
    assert f"BCC audit audit@{DOMAIN}" in " ".join(results[2].err.split())
    assert list(ses_backends[DEFAULT_ACCOUNT_ID]["us-west-2"].sent_messages) == []
    written = [
        p.read_bytes()
        for p in (example_workspace.parent.parent / "outputs").rglob("*")
        if p.is_file()
    ]
    printed = "".join(r.out + r.err for r in results) + caplog.text
    for secret in (SES_KEY_ID, SES_SECRET):
        assert secret not in printed
        assert not any(secret.encode() in content for content in written)
    assert "SES_ACCESS_KEY" not in os.environ


def test_half_an_ses_key_pair_is_an_error_naming_only_the_variables(
    cli: Cli, example_workspace: Path
) -> None:
    (example_workspace / "repos.env").write_text(f"SES_ACCESS_KEY={SES_KEY_ID}\n")
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace(
            "  region: us-west-2\n", "  region: us-west-2\n  env_file: repos.env\n"
        )
    )

    result = cli("run", "-w", example_workspace)

    assert result.code == 2
    assert "SES_ACCESS_KEY is set but SES_SECRET_KEY is not" in result.err
    assert SES_KEY_ID not in result.err
