"""SES delivery events: the set-up on moto's server, and events read back into the runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from execbrief.config import MailConfig, Workspace, WorkspaceConfig
from execbrief.errors import ConfigError
from execbrief.jsonl import append_line
from execbrief.mail.events import (
    bounced_recipients,
    read_delivery_events,
    read_events,
)
from execbrief.mail.events_setup import setup_events
from execbrief.mail.ledger import append_record, read_records
from execbrief.models import (
    DeliveryEvent,
    DeliveryEventKind,
    Entity,
    Manifest,
    PersonaRun,
    SendEvent,
    SendRecord,
)
from execbrief.review import review_rows
from execbrief.runs import RunFolder, create_run
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, use_addresses

REGION = "us-west-2"
QUEUE = "execbrief-events"
MAIL = MailConfig.model_validate(
    {"region": REGION, "configuration_set": "execbrief", "events_queue": QUEUE}
)
SENT_AT = "2026-11-30T09:00:00.000Z"


def _run_with_sent(outputs: Path, persona: str, message_id: str) -> RunFolder:
    """A run folder whose send ledger says `persona` went out as `message_id`."""
    run = create_run(outputs, datetime(2026, 11, 30, 9, tzinfo=UTC))
    run.write_manifest(
        Manifest(
            run_id=run.run_id,
            created_at=datetime(2026, 11, 30, 9, tzinfo=UTC),
            portfolio="Example",
            workspace=str(outputs.parent),
            bundle_digest="0" * 64,
            personas={persona: PersonaRun(persona=persona, title=persona.upper())},
        )
    )
    append_record(
        run.ledger_path,
        SendRecord(
            ts=datetime(2026, 11, 30, 9, tzinfo=UTC),
            run=run.run_id,
            persona=persona,
            event=SendEvent.SENT,
            transport="ses",
            message_id=message_id,
        ),
    )
    return run


def _mail(message_id: str, run: str | None, persona: str | None) -> dict[str, Any]:
    tags = {"ses:configuration-set": ["execbrief"]}
    if run and persona:
        tags |= {"run": [run], "persona": [persona]}
    return {
        "timestamp": SENT_AT,
        "source": "briefs@example.com",
        "messageId": message_id,
        "destination": ["cto@example.com", "audit@example.com"],
        "tags": tags,
    }


def bounce_event(
    message_id: str,
    run: str | None = None,
    persona: str | None = None,
    recipient: str = "cto@example.com",
) -> str:
    return json.dumps(
        {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": recipient,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2026-11-30T09:00:05.000Z",
                "feedbackId": "feedback-1",
            },
            "mail": _mail(message_id, run, persona),
        }
    )


def complaint_event(message_id: str, run: str, persona: str) -> str:
    return json.dumps(
        {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": "audit@example.com"}],
                "timestamp": "2026-11-30T10:00:00.000Z",
                "feedbackId": "feedback-2",
                "complaintFeedbackType": "abuse",
            },
            "mail": _mail(message_id, run, persona),
        }
    )


def _queue_url() -> str:
    return str(boto3.client("sqs", region_name=REGION).get_queue_url(QueueName=QUEUE)["QueueUrl"])


def _topic_arn() -> str:
    topics = boto3.client("sns", region_name=REGION).list_topics()["Topics"]
    return str(next(t["TopicArn"] for t in topics if t["TopicArn"].endswith(":" + QUEUE)))


def _hidden_and_visible() -> tuple[int, int]:
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=_queue_url(),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        int(attributes["ApproximateNumberOfMessages"]),
    )


@pytest.fixture
def events_chain(moto_server: str) -> str:
    setup_events(MAIL)
    return _topic_arn()


def test_setup_creates_the_chain_and_a_second_setup_only_finds_it(moto_server: str) -> None:
    first = setup_events(MAIL)
    second = setup_events(MAIL)

    assert [s.resource for s in first] == [
        "SES configuration set",
        "SNS topic",
        "SQS dead-letter queue",
        "SQS queue",
        "SQS queue policy",
        "SNS subscription",
        "SES event destination",
    ]
    assert {s.action for s in first} == {"created"}
    assert [(s.resource, s.name) for s in second] == [(s.resource, s.name) for s in first]
    assert {s.action for s in second} == {"found"}
    sqs = boto3.client("sqs", region_name=REGION)
    attributes = sqs.get_queue_attributes(QueueUrl=_queue_url(), AttributeNames=["All"])[
        "Attributes"
    ]
    statement = json.loads(attributes["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": _topic_arn()}}
    assert json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"].endswith(
        QUEUE + "-dead-letter"
    )
    subscriptions = boto3.client("sns", region_name=REGION).list_subscriptions_by_topic(
        TopicArn=_topic_arn()
    )["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("sqs", attributes["QueueArn"])
    ]
    destination = boto3.client("ses", region_name=REGION).describe_configuration_set(
        ConfigurationSetName="execbrief", ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"][0]
    assert destination["Name"] == QUEUE
    assert destination["SNSDestination"] == {"TopicARN": _topic_arn()}
    assert set(destination["MatchingEventTypes"]) == {
        "send",
        "delivery",
        "bounce",
        "complaint",
        "reject",
        "deliveryDelay",
    }


def test_setup_without_a_configuration_set_is_refused() -> None:
    with pytest.raises(ConfigError, match="configuration set"):
        setup_events(MailConfig(events_queue=QUEUE))


def test_a_bounce_and_a_complaint_published_to_the_topic_are_recorded_in_their_run(
    events_chain: str, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    run = _run_with_sent(outputs, "cto", "msg-1")
    sns = boto3.client("sns", region_name=REGION)
    sns.publish(TopicArn=events_chain, Message=bounce_event("msg-1", run.run_id, "cto"))
    sns.publish(TopicArn=events_chain, Message=complaint_event("msg-1", run.run_id, "cto"))

    report = read_events(MAIL, outputs)

    recorded = read_delivery_events(run)
    assert report.recorded == recorded
    assert [e.model_copy(update={"event_id": "-"}) for e in recorded] == [
        DeliveryEvent(
            event_id="-",
            ts=datetime(2026, 11, 30, 9, 0, 5, tzinfo=UTC),
            run=run.run_id,
            persona="cto",
            message_id="msg-1",
            kind=DeliveryEventKind.BOUNCE,
            recipient="cto@example.com",
            bounce_type="Permanent",
            bounce_subtype="General",
            diagnostic="smtp; 550 5.1.1 user unknown",
        ),
        DeliveryEvent(
            event_id="-",
            ts=datetime(2026, 11, 30, 10, tzinfo=UTC),
            run=run.run_id,
            persona="cto",
            message_id="msg-1",
            kind=DeliveryEventKind.COMPLAINT,
            recipient="audit@example.com",
            complaint_type="abuse",
        ),
    ]
    assert _hidden_and_visible() == (0, 0)
    (row,) = review_rows(run, run.read_manifest())
    assert row.events == {
        "cto@example.com": "bounced (Permanent/General: smtp; 550 5.1.1 user unknown)",
        "audit@example.com": "complaint (abuse)",
    }
    workspace = Workspace(root=tmp_path, config=_config())
    assert set(bounced_recipients(workspace)) == {"cto@example.com", "audit@example.com"}


def _config() -> WorkspaceConfig:
    return WorkspaceConfig(portfolio="Example", entities=[Entity(id="x", name="X")])


def test_a_redelivered_message_is_recorded_once(events_chain: str, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    run = _run_with_sent(outputs, "cto", "msg-1")
    body = json.dumps({"Type": "Notification", "Message": bounce_event("msg-1", run.run_id, "cto")})
    sqs = boto3.client("sqs", region_name=REGION)

    sqs.send_message(QueueUrl=_queue_url(), MessageBody=body)
    first = read_events(MAIL, outputs)
    sqs.send_message(QueueUrl=_queue_url(), MessageBody=body)
    second = read_events(MAIL, outputs)

    assert (len(first.recorded), first.duplicates) == (1, 0)
    assert (len(second.recorded), second.duplicates) == (0, 1)
    assert len(read_delivery_events(run)) == 1
    assert _hidden_and_visible() == (0, 0)


def test_an_event_without_tags_is_matched_by_the_ledgers_message_id(
    events_chain: str, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    run = _run_with_sent(outputs, "cfo", "msg-7")
    boto3.client("sns", region_name=REGION).publish(
        TopicArn=events_chain, Message=bounce_event("msg-7")
    )

    report = read_events(MAIL, outputs)

    assert [(e.run, e.persona, e.kind) for e in report.recorded] == [
        (run.run_id, "cfo", DeliveryEventKind.BOUNCE)
    ]


def test_malformed_and_foreign_messages_are_reported_skips_left_in_the_queue(
    events_chain: str, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    run = _run_with_sent(outputs, "cto", "msg-1")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "manifest.json").write_text("{}")  # a run-like folder outside
    sqs = boto3.client("sqs", region_name=REGION)
    bodies = [
        "not json at all",
        json.dumps({"Type": "Notification", "Message": "[1, 2]"}),
        json.dumps({"eventType": "Bounce", "bounce": {}}),
        bounce_event("msg-from-elsewhere"),
        bounce_event("msg-2", "../elsewhere", "cto"),
        json.dumps(
            {
                "eventType": "Bounce",
                "bounce": {"bouncedRecipients": [{}]},
                "mail": _mail("msg-1", run.run_id, "cto"),
            }
        ),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=_queue_url(), MessageBody=body)
    sqs.send_message(QueueUrl=_queue_url(), MessageBody=bounce_event("msg-1", run.run_id, "cto"))

    report = read_events(MAIL, outputs)

    reasons = [s.reason for s in report.skipped]
    assert len(reasons) == 6
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "not an SES event object"
    assert reasons[2] == "the SES event has no mail.messageId"
    assert reasons[3] == "message msg-from-elsewhere was not sent from a run of this workspace"
    assert reasons[4] == "message msg-2 was not sent from a run of this workspace"
    assert reasons[5].startswith("the SES event does not fit")
    assert len(report.recorded) == 1
    assert _hidden_and_visible() == (6, 0)
    assert not (tmp_path / "elsewhere" / "delivery-events.jsonl").exists()


def test_a_permanent_bounce_not_followed_by_a_delivery_or_a_complaint_rules_an_address_out(
    tmp_path: Path,
) -> None:
    outputs = tmp_path / "outputs"
    run = _run_with_sent(outputs, "cto", "msg-1")
    base = DeliveryEvent(
        event_id="a",
        ts=datetime(2026, 11, 30, 9, tzinfo=UTC),
        run=run.run_id,
        persona="cto",
        message_id="msg-1",
        kind=DeliveryEventKind.BOUNCE,
        recipient="Gone@Example.com",
        bounce_type="Permanent",
    )
    events = [
        base,
        base.model_copy(
            update={"event_id": "b", "recipient": "busy@example.com", "bounce_type": "Transient"}
        ),
        base.model_copy(update={"event_id": "c", "recipient": "back@example.com"}),
        base.model_copy(
            update={
                "event_id": "d",
                "recipient": "back@example.com",
                "kind": DeliveryEventKind.DELIVERY,
                "ts": datetime(2026, 12, 1, tzinfo=UTC),
            }
        ),
    ]
    events.append(
        base.model_copy(
            update={
                "event_id": "e",
                "recipient": "spam@example.com",
                "kind": DeliveryEventKind.COMPLAINT,
                "bounce_type": None,
            }
        )
    )
    events.append(
        events[-1].model_copy(
            update={
                "event_id": "f",
                "kind": DeliveryEventKind.DELIVERY,
                "ts": datetime(2026, 12, 1, tzinfo=UTC),
            }
        )
    )
    for event in events:
        append_line(run.events_path, event.model_dump_json())

    ruled_out = bounced_recipients(Workspace(root=tmp_path, config=_config()))
    assert {a: e.kind for a, e in ruled_out.items()} == {
        "gone@example.com": DeliveryEventKind.BOUNCE,
        "spam@example.com": DeliveryEventKind.COMPLAINT,
    }


def test_reading_events_without_a_queue_configured_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no events queue"):
        read_events(MailConfig(region=REGION), tmp_path)


def test_a_missing_queue_says_to_run_the_setup(moto_server: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        read_events(MAIL, tmp_path)
    assert caught.value.hint == "create it with `execbrief events --setup`"


@pytest.mark.slow
def test_events_sent_through_ses_show_in_review_per_recipient(
    cli: Cli, example_workspace: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        use_addresses(config.read_text(), "ses").replace(
            "transport: ses",
            f"transport: ses\n  configuration_set: execbrief\n  events_queue: {QUEUE}",
        )
    )
    owner = f"owner@{DOMAIN}"
    monkeypatch.setenv("SES_TO_ADDRESS", owner)
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity=f"briefs@{DOMAIN}"
    )
    assert cli("events", "--workspace", example_workspace, "--setup").code == 0
    again = cli("events", "--workspace", example_workspace, "--setup")
    assert again.out.count("found") == 7
    assert cli("run", "--workspace", example_workspace, "--persona", "cto").code == 0
    approve = ("approve", "--workspace", example_workspace, "--persona", "cto", "--as", "a@b.dev")
    assert cli(*approve, "--accept-warnings").code == 0
    sent_out = cli("send", "--workspace", example_workspace, "--persona", "cto")
    assert sent_out.code == 0, sent_out.err
    outputs = example_workspace.parent.parent / "outputs"
    run = RunFolder((outputs / "latest").resolve())
    (sent,) = [r for r in read_records(run.ledger_path) if r.event is SendEvent.SENT]
    assert sent.message_id is not None
    boto3.client("sns", region_name=REGION).publish(
        TopicArn=_topic_arn(),
        Message=bounce_event(sent.message_id, run.run_id, "cto", owner),
    )

    read = cli("events", "--workspace", example_workspace)
    review = cli("review", "--workspace", example_workspace)

    assert read.code == 0, read.err
    assert "Recorded 1 events" in read.err
    assert f"cto {owner}: bounced (Permanent/General" in review.out
    assert f"{owner}: bounced (Permanent/General" in (run.path / "index.html").read_text()
