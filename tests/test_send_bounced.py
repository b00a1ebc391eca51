"""Recipients that bounced or complained, as `execbrief events` recorded them from the SES
events queue (moto's SNS and SQS), are named in the next send's preflight and left out;
and `review --refresh` reads the queue before it shows the review."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from email.policy import SMTP
from pathlib import Path

import boto3
import pytest

from execbrief.mail.ledger import read_records
from execbrief.models import SendEvent
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, Inbox, smtp_inbox
from tests.test_events import QUEUE, REGION, bounce_event, complaint_event
from tests.test_schedule import add_risk, latest, small_workspace

CTO, ENG, CFO, AUDIT = (f"{name}@{DOMAIN}" for name in ("cto", "eng", "cfo", "audit"))


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as served:
        yield served


@pytest.fixture
def workspace(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int], moto_server: str
) -> Iterator[Path]:
    """A workspace whose first run was sent, with the SES events chain set up."""
    root = small_workspace(tmp_path / "ws", inbox[1])
    config = root / "execbrief.yaml"
    config.write_text(
        config.read_text().replace(
            "configuration_set: null", f"configuration_set: execbrief\n  events_queue: {QUEUE}"
        )
    )
    assert cli("events", "-w", root, "--setup").code == 0
    assert cli("run", "-w", root).code == 0
    assert cli("send", "-w", root).code == 0
    yield root


def _publish(body: str) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + QUEUE)
    )
    sns.publish(TopicArn=topic, Message=body)


def _sent_id(workspace: Path, persona: str) -> tuple[str, str]:
    run = latest(workspace)
    (record,) = [
        r
        for r in read_records(run.ledger_path)
        if r.event is SendEvent.SENT and r.persona == persona
    ]
    assert record.message_id is not None
    return run.run_id, record.message_id


def test_a_bounced_cc_is_named_in_the_preflight_left_out_and_recorded_in_the_ledger(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    run_id, message_id = _sent_id(workspace, "cto")
    _publish(bounce_event(message_id, run_id, "cto", ENG))
    assert cli("events", "-w", workspace).code == 0
    add_risk(workspace, "the only database has no backups.")
    assert cli("run", "-w", workspace).code == 0
    before = len(inbox[0].received)

    result = cli("send", "-w", workspace, "--changed-only")

    assert result.code == 0, result.err
    assert (
        f"cto: leaving out {ENG}: bounced (Permanent/General: smtp; 550 5.1.1 user unknown) "
        f"at 2026-11-30 09:00Z in run {run_id}" in result.err
    )
    [(recipients, content)] = inbox[0].received[before:]
    assert sorted(recipients) == sorted([CTO, AUDIT])
    message = message_from_bytes(content, policy=SMTP)
    assert message["Cc"] is None
    assert message["To"] == CTO
    records = [r for r in read_records(latest(workspace).ledger_path) if r.persona == "cto"]
    assert [(r.event, r.skipped_recipients) for r in records] == [
        (SendEvent.ATTEMPT, [ENG]),
        (SendEvent.SENT, [ENG]),
    ]


def test_a_persona_left_with_no_to_is_skipped_and_force_sends_to_it_anyway(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    run_id, message_id = _sent_id(workspace, "cto")
    _publish(bounce_event(message_id, run_id, "cto", CTO))
    cfo_run, cfo_id = _sent_id(workspace, "cfo")
    # the audit copy complained: it leaves every message's envelope
    _publish(complaint_event(cfo_id, cfo_run, "cfo").replace("audit@example.com", AUDIT))
    assert cli("events", "-w", workspace).code == 0
    assert cli("run", "-w", workspace).code == 0
    assert cli("approve", "-w", workspace, "--all", "--as", "a@b.dev").code == 0
    before = len(inbox[0].received)

    result = cli("send", "-w", workspace)
    forced = cli("send", "-w", workspace, "--persona", "cto", "--force")

    assert result.code == 0, result.err
    assert f"cto: leaving out {CTO}: bounced (Permanent/General" in result.err
    assert f"cfo: leaving out {AUDIT}: complaint (abuse)" in result.err
    assert f"cto not sent: every To recipient bounced or complained: {CTO}, {AUDIT}" in result.err
    assert "Sent 1 messages, 1 skipped" in result.err
    assert [sorted(r) for r, _ in inbox[0].received[before:]] == [
        [CFO],
        sorted([AUDIT, CTO, ENG]),
    ]
    assert forced.code == 0, forced.err
    assert "leaving out" not in forced.err
    cto = [r for r in read_records(latest(workspace).ledger_path) if r.persona == "cto"]
    assert [(r.event, r.skipped_recipients) for r in cto] == [
        (SendEvent.ATTEMPT, []),
        (SendEvent.SENT, []),
    ]


def test_a_complaint_is_left_out_even_after_a_later_delivery(
    cli: Cli, workspace: Path, inbox: tuple[Inbox, int]
) -> None:
    run_id, message_id = _sent_id(workspace, "cfo")
    complaint = complaint_event(message_id, run_id, "cfo").replace("audit@example.com", CFO)
    _publish(complaint)
    assert cli("events", "-w", workspace).code == 0
    assert cli("run", "-w", workspace).code == 0
    assert cli("approve", "-w", workspace, "--all", "--as", "a@b.dev").code == 0

    dry = cli("send", "-w", workspace, "--dry-run")

    assert dry.code == 0, dry.err
    assert f"cfo: leaving out {CFO}: complaint (abuse)" in dry.err
    assert "would send 1 messages" in dry.err


def test_review_refresh_reads_the_queue_first(cli: Cli, workspace: Path) -> None:
    run_id, message_id = _sent_id(workspace, "cto")
    _publish(bounce_event(message_id, run_id, "cto", ENG))

    result = cli("review", "-w", workspace, "--refresh")

    assert result.code == 0, result.err
    assert "Read delivery events: 1 new, 0 already recorded, 0 skipped" in result.err
    assert f"cto {ENG}: bounced (Permanent/General" in result.out


def test_review_refresh_without_a_queue_says_so_and_still_shows_the_review(
    cli: Cli, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    root = small_workspace(tmp_path / "ws", inbox[1])
    assert cli("run", "-w", root).code == 0

    result = cli("review", "-w", root, "--refresh")

    assert result.code == 0, result.err
    assert "No events queue configured (mail.events_queue): delivery events not read" in result.err
    assert "cto" in result.out and "rev 1 approved by auto-policy" in result.out
