"""At most once, provably: a send whose outcome is unknown is `in_doubt`, never `failed`,
and is never retried on its own; a failure before hand-over stays retryable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESQuota, ses_backends

from execbrief.models import SendEvent, SendRecord
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, free_port, smtp_inbox, use_addresses
from tests.reliability.fault_servers import (
    HangAfterData,
    HoldAfterData,
    ResetAfterData,
    ResettingProxy,
)

pytestmark = pytest.mark.slow


def _latest(workspace: Path) -> Path:
    return (workspace.parent.parent / "outputs" / "latest").resolve()


def _events(workspace: Path) -> list[tuple[str, SendEvent]]:
    lines = (_latest(workspace) / "send-ledger.jsonl").read_text().splitlines()
    return [(r.persona, r.event) for r in (SendRecord.model_validate_json(line) for line in lines)]


def _smtp_workspace(workspace: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    config = workspace / "execbrief.yaml"
    smtp = f"  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout_seconds: 1}}\n"
    text = use_addresses(config.read_text(), "smtp")
    config.write_text(
        text.replace("  region: us-west-2\n", "  region: us-west-2\n" + smtp)
        + "personas: [ceo, cfo]\n"
    )
    return workspace


@contextmanager
def _drafted_and_approved(cli: Cli, workspace: Path) -> Iterator[None]:
    assert cli("run", "-w", workspace).code == 0
    assert (
        cli("approve", "-w", workspace, "--all", "--accept-warnings", "--as", f"a@{DOMAIN}").code
        == 0
    )
    yield


@pytest.mark.parametrize("fault", ["reset", "hang"])
def test_smtp_losing_the_answer_after_data_is_in_doubt_and_not_sent_again(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    handler = ResetAfterData() if fault == "reset" else HangAfterData(seconds=3)
    with smtp_inbox(handler) as (_, port):
        ws = _smtp_workspace(example_workspace, port, monkeypatch)
        with _drafted_and_approved(cli, ws):
            first = cli("send", "-w", ws, "--persona", "ceo")
            second = cli("send", "-w", ws)

    assert first.code == 1
    assert "ceo in doubt: SMTP to 127.0.0.1" in first.err
    assert "lost the answer after DATA" in first.err
    assert second.code == 1
    assert "ceo in doubt: skipped," in second.err
    assert "look for Message-ID <" in second.err
    assert "`execbrief send --persona ceo --force`" in " ".join(second.err.split())
    ceo = [e for p, e in _events(ws) if p == "ceo"]
    assert ceo == [SendEvent.ATTEMPT, SendEvent.IN_DOUBT]  # tried once, never again
    assert handler.received[0].count(b"X-Execbrief-Persona: ceo") == 1
    assert sum(b"X-Execbrief-Persona: ceo" in m for m in handler.received) == 1
    rows = {r["persona"]: r for r in json.loads(cli("review", "-w", ws, "--json").out)}
    assert rows["ceo"]["delivery"] == "in doubt"


def test_a_failure_before_hand_over_is_retried_by_the_next_send(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens there yet
    ws = _smtp_workspace(example_workspace, port, monkeypatch)
    with _drafted_and_approved(cli, ws):
        failed = cli("send", "-w", ws, "--persona", "ceo")
        with smtp_inbox() as (inbox, actual):
            config = ws / "execbrief.yaml"
            config.write_text(config.read_text().replace(f"port: {port}", f"port: {actual}"))
            assert cli("render", "-w", ws).code == 0  # a new revision: approve it again
            assert (
                cli("approve", "-w", ws, "--all", "--accept-warnings", "--as", f"a@{DOMAIN}").code
                == 0
            )
            retried = cli("send", "-w", ws, "--persona", "ceo")

    assert failed.code == 1
    assert "ceo not sent: cannot open SMTP" in failed.err
    assert retried.code == 0, retried.err
    assert len(inbox.received) == 1
    assert [e for p, e in _events(ws) if p == "ceo"] == [
        SendEvent.ATTEMPT,
        SendEvent.FAILED,
        SendEvent.ATTEMPT,
        SendEvent.SENT,
    ]


def test_a_sender_killed_after_handing_over_leaves_an_attempt_that_blocks_only_that_persona(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = HoldAfterData()
    with smtp_inbox(handler) as (_, port):
        ws = _smtp_workspace(example_workspace, port, monkeypatch)
        with _drafted_and_approved(cli, ws):
            sender = subprocess.Popen(
                [sys.executable, "-m", "execbrief", "send", "-w", str(ws), "--persona", "ceo"],
                env=dict(os.environ),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            assert handler.got_data.wait(60), "the sender never reached DATA"
            os.kill(sender.pid, signal.SIGKILL)
            sender.wait(10)
            handler.release.set()

            after = cli("send", "-w", ws)
            released = cli("send", "-w", ws, "--persona", "ceo", "--force")

    assert sender.returncode == -signal.SIGKILL
    assert after.code == 1
    assert "ceo in doubt: skipped," in after.err
    assert "a sender stopped mid-send, or another one is sending it now" in " ".join(
        after.err.split()
    )
    assert released.code == 0, released.err
    assert _events(ws) == [
        ("ceo", SendEvent.ATTEMPT),
        ("cfo", SendEvent.ATTEMPT),
        ("cfo", SendEvent.SENT),
        ("ceo", SendEvent.ATTEMPT),
        ("ceo", SendEvent.SENT),
    ]


@pytest.fixture
def ses_behind_proxy(
    example_workspace: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, ResettingProxy]]:
    original = SESQuota.__init__

    def faster(self: SESQuota, sent: int) -> None:
        original(self, sent)
        self.max_send_rate = 200

    monkeypatch.setattr(SESQuota, "__init__", faster)
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    config = example_workspace / "execbrief.yaml"
    config.write_text(use_addresses(config.read_text(), "ses") + "personas: [ceo, cfo]\n")
    boto3.client("sesv2", region_name="us-west-2").create_email_identity(
        EmailIdentity=f"briefs@{DOMAIN}"
    )
    upstream = urlparse(moto_server)
    assert upstream.hostname is not None and upstream.port is not None
    with ResettingProxy(
        (upstream.hostname, upstream.port), b"POST /v2/email/outbound-emails"
    ) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        yield example_workspace, proxy


def test_ses_reset_after_it_accepted_is_in_doubt_and_not_sent_again(
    cli: Cli, ses_behind_proxy: tuple[Path, ResettingProxy]
) -> None:
    ws, proxy = ses_behind_proxy
    with _drafted_and_approved(cli, ws):
        first = cli("send", "-w", ws, "--persona", "ceo")
        second = cli("send", "-w", ws)
    accepted = ses_backends[DEFAULT_ACCOUNT_ID]["us-west-2"].sent_messages

    assert proxy.resets >= 1
    assert first.code == 1
    assert "ceo in doubt: SES connection lost after the request for ceo was sent" in (
        " ".join(first.err.split())
    )
    assert second.code == 1
    assert "ceo in doubt: skipped," in second.err
    assert sum("X-Execbrief-Persona: ceo" in m.raw_data for m in accepted) == 1
    assert [e for p, e in _events(ws) if p == "ceo"] == [SendEvent.ATTEMPT, SendEvent.IN_DOUBT]
