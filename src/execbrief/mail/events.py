"""SES delivery events read back from the workspace's queue into each run's event log.

SES publishes what happened to a message (sent, delivered, bounced, complained about,
rejected, delayed) through the configuration set's event destination to an SNS topic,
which an SQS queue (`mail.events_queue`) subscribes to. `read_events` drains that queue:
each event is matched to the run and persona that sent the message (by the `run` and
`persona` message tags the ses transport sets, else by the message id in the runs' send
ledgers), appended to that run's `delivery-events.jsonl` once per recipient, and deleted
from the queue. Redelivered messages are recognised by digest and not recorded twice.
What cannot be parsed or matched is reported and left in the queue, where the redrive
policy `execbrief events --setup` sets moves it to the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field, ValidationError

from execbrief.config import MailConfig, Workspace
from execbrief.errors import AwsCallError, ConfigError
from execbrief.jsonl import append_line, read_lines
from execbrief.mail.aws_clients import mail_client
from execbrief.mail.ledger import open_ledger
from execbrief.models import DeliveryEvent, DeliveryEventKind
from execbrief.runs import LATEST, RunFolder
from execbrief.secrets.mask import redact_text

# SES's eventType values for the kinds recorded; open, click and the rest are not.
EVENT_KINDS = {
    "Send": DeliveryEventKind.SEND,
    "Delivery": DeliveryEventKind.DELIVERY,
    "Bounce": DeliveryEventKind.BOUNCE,
    "Complaint": DeliveryEventKind.COMPLAINT,
    "Reject": DeliveryEventKind.REJECT,
    "DeliveryDelay": DeliveryEventKind.DELIVERY_DELAY,
}
# A message read but neither recorded nor deleted stays hidden this long, so one
# `execbrief events` does not read it again, and comes back for the next reader.
VISIBILITY_SECONDS = 60
RECEIVE_BATCH = 10  # the most SQS hands out per receive


class EventSkip(BaseModel):
    """A queue message that was not recorded, and why; it stays in the queue."""

    queue_message_id: str
    reason: str


class EventsReport(BaseModel):
    """What one `execbrief events` did with the queue."""

    recorded: list[DeliveryEvent] = Field(default_factory=list)
    duplicates: int = Field(0, description="Events already in a run's log (redelivered).")
    ignored: int = Field(0, description="Event types execbrief does not record (open, click).")
    skipped: list[EventSkip] = Field(default_factory=list)


class _Unusable(Exception):
    """A queue message that cannot become events; its text says why."""


def aws_client(service: str, mail: MailConfig, session: boto3.Session | None = None) -> Any:
    """A client in the mail region; AWS_ENDPOINT_URL and the profile's settings apply."""
    return mail_client(session or boto3.Session(), service, mail.region, purpose="the SES events")


def events_queue(mail: MailConfig) -> str:
    """The configured queue name, or a ConfigError saying how to set one."""
    if not mail.events_queue:
        raise ConfigError(
            "no events queue is configured",
            field="mail.events_queue",
            hint="set mail.events_queue (e.g. execbrief-events), then `execbrief events --setup`",
        )
    return mail.events_queue


def read_events(
    mail: MailConfig,
    outputs: Path,
    session: boto3.Session | None = None,
    max_messages: int = 10_000,
) -> EventsReport:
    """Drain the events queue into the runs' delivery-events.jsonl; returns what it did."""
    sqs = aws_client("sqs", mail, session)
    queue_url = _queue_url(sqs, events_queue(mail))
    runs = _RunIndex(outputs)
    report = EventsReport()
    for message in _receive(sqs, queue_url, max_messages):
        queue_id = str(message.get("MessageId", "?"))
        try:
            outcome = _record(runs, str(message.get("Body", "")))
        except _Unusable as exc:
            report.skipped.append(EventSkip(queue_message_id=queue_id, reason=str(exc)))
            continue
        if outcome is None:
            report.ignored += 1
        else:
            new, seen = outcome
            report.recorded += new
            report.duplicates += seen
        _delete(sqs, queue_url, str(message["ReceiptHandle"]))
    return report


def _queue_url(sqs: Any, name: str) -> str:
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise ConfigError(
                f"the events queue {name!r} does not exist",
                field="mail.events_queue",
                hint="create it with `execbrief events --setup`",
            ) from exc
        raise aws_failed("sqs:GetQueueUrl", exc) from exc
    except BotoCoreError as exc:
        raise aws_failed("sqs:GetQueueUrl", exc) from exc


def _receive(sqs: Any, queue_url: str, limit: int) -> Iterator[dict[str, Any]]:
    received = 0
    while received < limit:
        try:
            answer = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=RECEIVE_BATCH,
                VisibilityTimeout=VISIBILITY_SECONDS,
                WaitTimeSeconds=0,
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws_failed("sqs:ReceiveMessage", exc) from exc
        batch = answer.get("Messages", [])
        if not batch:
            return
        received += len(batch)
        yield from batch


def _delete(sqs: Any, queue_url: str, receipt: str) -> None:
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
    except (ClientError, BotoCoreError) as exc:
        # Recorded already: the message comes back after the visibility timeout and is
        # then recognised as a duplicate, so stopping here loses nothing.
        raise aws_failed("sqs:DeleteMessage", exc) from exc


def aws_failed(action: str, exc: Exception) -> AwsCallError:
    """The typed error for a failed call, naming the IAM action behind it."""
    return AwsCallError(
        f"{action} failed: {exc}",
        action=action,
        hint="check AWS credentials, mail.region, AWS_ENDPOINT_URL and the IAM policy",
    )


# --- one queue message -----------------------------------------------------------------


def _record(runs: _RunIndex, body: str) -> tuple[list[DeliveryEvent], int] | None:
    """Append the events of one queue message to its run; None for a type not recorded."""
    ses_event = _ses_event(body)
    kind = EVENT_KINDS.get(str(ses_event.get("eventType") or ses_event.get("notificationType")))
    if kind is None:
        return None
    mail = ses_event.get("mail")
    if not isinstance(mail, dict) or not mail.get("messageId"):
        raise _Unusable("the SES event has no mail.messageId")
    message_id = str(mail["messageId"])
    located = runs.locate(message_id, _tags(mail))
    if located is None:
        raise _Unusable(f"message {message_id} was not sent from a run of this workspace")
    run, persona = located
    digest = hashlib.sha256(json.dumps(ses_event, sort_keys=True).encode()).hexdigest()
    try:
        events = [
            DeliveryEvent(
                event_id=f"{digest[:24]}-{n}",
                run=run.run_id,
                persona=persona,
                message_id=message_id,
                kind=kind,
                **fields,
            )
            for n, fields in enumerate(_per_recipient(kind, ses_event, mail))
        ]
    except ValidationError as exc:
        raise _Unusable(f"the SES event does not fit: {exc.errors()[0]['msg']}") from exc
    known = runs.event_ids(run)
    new = [e for e in events if e.event_id not in known]
    for event in new:
        append_line(run.events_path, event.model_dump_json())
        known.add(event.event_id)
    return new, len(events) - len(new)


def _ses_event(body: str) -> dict[str, Any]:
    """The SES event inside an SNS notification, or the body itself (raw delivery)."""
    try:
        outer = json.loads(body)
        if isinstance(outer, dict) and outer.get("Type") == "Notification":
            outer = json.loads(str(outer.get("Message", "")))
    except json.JSONDecodeError as exc:
        raise _Unusable(f"not JSON: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(outer, dict):
        raise _Unusable("not an SES event object")
    return outer


def _tags(mail: dict[str, Any]) -> dict[str, str]:
    tags = mail.get("tags")
    if not isinstance(tags, dict):
        return {}
    return {str(k): str(v[0]) for k, v in tags.items() if isinstance(v, list) and v}


def _per_recipient(
    kind: DeliveryEventKind, event: dict[str, Any], mail: dict[str, Any]
) -> list[dict[str, Any]]:
    """Field values of one DeliveryEvent per recipient the event is about."""
    sent_at = mail.get("timestamp")
    destination = [str(r) for r in mail.get("destination") or []]
    if kind is DeliveryEventKind.BOUNCE:
        bounce = event.get("bounce") or {}
        return [
            {
                "ts": bounce.get("timestamp") or sent_at,
                "recipient": r.get("emailAddress"),
                "bounce_type": bounce.get("bounceType"),
                "bounce_subtype": bounce.get("bounceSubType"),
                "diagnostic": _text(r.get("diagnosticCode") or r.get("status")),
            }
            for r in bounce.get("bouncedRecipients") or []
        ]
    if kind is DeliveryEventKind.COMPLAINT:
        complaint = event.get("complaint") or {}
        return [
            {
                "ts": complaint.get("timestamp") or sent_at,
                "recipient": r.get("emailAddress"),
                "complaint_type": complaint.get("complaintFeedbackType"),
            }
            for r in complaint.get("complainedRecipients") or []
        ]
    if kind is DeliveryEventKind.DELIVERY:
        delivery = event.get("delivery") or {}
        return [
            {
                "ts": delivery.get("timestamp") or sent_at,
                "recipient": r,
                "diagnostic": _text(delivery.get("smtpResponse")),
            }
            for r in delivery.get("recipients") or destination
        ]
    if kind is DeliveryEventKind.DELIVERY_DELAY:
        delay = event.get("deliveryDelay") or {}
        return [
            {
                "ts": delay.get("timestamp") or sent_at,
                "recipient": r.get("emailAddress"),
                "reason": delay.get("delayType"),
                "diagnostic": _text(r.get("diagnosticCode") or r.get("status")),
            }
            for r in delay.get("delayedRecipients") or []
        ]
    reason = (event.get("reject") or {}).get("reason") if kind is DeliveryEventKind.REJECT else None
    return [{"ts": sent_at, "recipient": r, "reason": reason} for r in destination]


def _text(value: object) -> str | None:
    # A remote server's answer is foreign text: masked like anything else we store.
    return redact_text(" ".join(str(value).split()))[:500] if value else None


# --- finding the run a message came from --------------------------------------------------


class _RunIndex:
    """The workspace's runs, their send ledgers' message ids, and their recorded events."""

    def __init__(self, outputs: Path) -> None:
        self._outputs = outputs
        self._by_message: dict[str, tuple[RunFolder, str]] | None = None
        self._event_ids: dict[Path, set[str]] = {}

    def locate(self, message_id: str, tags: dict[str, str]) -> tuple[RunFolder, str] | None:
        """The run and persona that sent `message_id`: its tags, else the ledgers."""
        run_tag, persona_tag = tags.get("run"), tags.get("persona")
        if run_tag and persona_tag and run_tag != LATEST:
            folder = (self._outputs / run_tag).resolve()
            # A tag is only text on a queue message: it must name a run folder right
            # under outputs, never a path elsewhere.
            inside = folder.parent == self._outputs.resolve()
            if inside and (folder / "manifest.json").is_file():
                return RunFolder(folder), persona_tag
        return self._ledger_index().get(message_id)

    def _ledger_index(self) -> dict[str, tuple[RunFolder, str]]:
        if self._by_message is None:
            self._by_message = {}
            for run in list_runs(self._outputs):
                for record in open_ledger(run, run.read_manifest().ledger).records():
                    if record.message_id:
                        self._by_message[record.message_id] = (run, record.persona)
        return self._by_message

    def event_ids(self, run: RunFolder) -> set[str]:
        if run.path not in self._event_ids:
            self._event_ids[run.path] = {e.event_id for e in read_delivery_events(run)}
        return self._event_ids[run.path]


def list_runs(outputs: Path) -> list[RunFolder]:
    """Every run folder under `outputs`, oldest first (`latest` is a link, not a run)."""
    if not outputs.is_dir():
        return []
    return [
        RunFolder(p)
        for p in sorted(outputs.iterdir())
        if p.is_dir() and not p.is_symlink() and (p / "manifest.json").is_file()
    ]


def read_delivery_events(run: RunFolder) -> list[DeliveryEvent]:
    """The run's recorded delivery events, oldest line first; a torn last line is ignored."""
    events, _torn = read_lines(run.events_path, DeliveryEvent.model_validate_json)
    return events


# --- what the other stages ask ---------------------------------------------------------------


def recipient_states(run: RunFolder) -> dict[str, dict[str, DeliveryEvent]]:
    """Per persona, each recipient's latest event that says more than "sent"."""
    states: dict[str, dict[str, DeliveryEvent]] = {}
    for event in sorted(read_delivery_events(run), key=lambda e: e.ts):
        if event.kind is DeliveryEventKind.SEND:
            continue
        states.setdefault(event.persona, {})[event.recipient.lower()] = event
    return states


def describe_event(event: DeliveryEvent) -> str:
    """One short label, e.g. `bounced (Permanent/General: 550 5.1.1 no such user)`."""
    labels = {
        DeliveryEventKind.SEND: "sent",
        DeliveryEventKind.DELIVERY: "delivered",
        DeliveryEventKind.BOUNCE: "bounced",
        DeliveryEventKind.COMPLAINT: "complaint",
        DeliveryEventKind.REJECT: "rejected",
        DeliveryEventKind.DELIVERY_DELAY: "delayed",
    }
    details = [
        "/".join(p for p in (event.bounce_type, event.bounce_subtype) if p),
        event.complaint_type or "",
        event.reason or "",
    ]
    detail = ", ".join(d for d in details if d)
    if event.diagnostic and event.kind is not DeliveryEventKind.DELIVERY:
        detail = f"{detail}: {event.diagnostic}" if detail else event.diagnostic
    return f"{labels[event.kind]} ({detail})" if detail else labels[event.kind]


def bounced_recipients(workspace: Workspace) -> dict[str, DeliveryEvent]:
    """Address (lower-cased) -> the event that rules it out: its latest news in any run is a
    permanent bounce, or it complained.

    A later delivery to the same address clears a bounce (the mailbox works again), not a
    complaint: the recipient said they do not want the mail.
    """
    latest: dict[str, DeliveryEvent] = {}
    complained: dict[str, DeliveryEvent] = {}
    events = [e for run in list_runs(workspace.outputs) for e in read_delivery_events(run)]
    for event in sorted(events, key=lambda e: e.ts):
        address = event.recipient.lower()
        permanent = event.kind is DeliveryEventKind.BOUNCE and event.bounce_type == "Permanent"
        if permanent or event.kind is DeliveryEventKind.DELIVERY:
            latest[address] = event
        elif event.kind is DeliveryEventKind.COMPLAINT:
            complained[address] = event
    bounced = {r: e for r, e in latest.items() if e.kind is DeliveryEventKind.BOUNCE}
    return bounced | complained
