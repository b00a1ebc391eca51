"""The send stage: deliver each persona's current revision once, recording every attempt.

An attempt whose outcome is unknown (the process died, or the connection was lost after
the message was handed over) is `in_doubt`: it is never retried on its own, only when
the analyst names that persona with --force after checking the recipient's mailbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.utils import formataddr, getaddresses, make_msgid

from execbrief.approval import check_approved
from execbrief.errors import ConfigError, RefusedError, SendError, SendInDoubt
from execbrief.mail.addresses import check_header_value, validate_address
from execbrief.mail.base import Transport
from execbrief.mail.ledger import (
    FIRST_REVISION,
    PersonaDelivery,
    SendLedger,
    delivery_states,
    open_ledger,
)
from execbrief.mail.recipients import refuse_reserved
from execbrief.models import (
    DeliveryAction,
    DeliveryOutcome,
    Envelope,
    Manifest,
    OutgoingMessage,
    SendEvent,
    SendRecord,
)
from execbrief.revisions import History, read_history
from execbrief.runs import RunFolder
from execbrief.secrets.mask import redact_text

AfterAttempt = Callable[[str], None]
Notice = Callable[[str], None]
TEST_PREFIX = "[TEST]"


def load_message(run: RunFolder, persona_id: str) -> OutgoingMessage:
    folder = run.persona_dir(persona_id)
    eml, envelope = folder / "message.eml", folder / "envelope.json"
    if not eml.is_file() or not envelope.is_file():
        raise ConfigError(
            f"persona {persona_id!r} has no rendered message",
            path=folder,
            hint=f"run `execbrief render --persona {persona_id}`",
        )
    return OutgoingMessage(
        run=run.run_id,
        persona=persona_id,
        raw=eml.read_bytes(),
        envelope=Envelope.model_validate_json(envelope.read_bytes()),
    )


def as_test_send(message: OutgoingMessage, address: str) -> OutgoingMessage:
    """The message re-addressed to one address, "[TEST]" in its subject, a Message-ID
    of its own, and no Cc or audit copy."""
    to = validate_address(address, field="--to")
    check_header_value("To", to)
    parsed = message_from_bytes(message.raw, policy=SMTP)
    subject = f"{TEST_PREFIX} {parsed.get('Subject', '')}".strip()
    domain = message.envelope.sender.rpartition("@")[2]
    message_id = make_msgid(idstring=f"test.{message.run}.{message.persona}", domain=domain)
    for name in ("To", "Cc", "Subject", "Message-ID"):
        del parsed[name]
    parsed["To"], parsed["Subject"], parsed["Message-ID"] = to, subject, message_id
    raw = parsed.as_bytes()
    sender = message.envelope.sender
    origins = {to: "--to", sender: message.envelope.origins.get(sender, "the rendered envelope")}
    envelope = Envelope(
        sender=message.envelope.sender, recipients=[to], message_id=message_id, origins=origins
    )
    return message.model_copy(update={"raw": raw, "envelope": envelope})


def describe_message(message: OutgoingMessage, bcc_audit: str | None) -> str:
    """From, To, Cc, the BCC audit copy and the subject, for a dry run."""
    headers = BytesHeaderParser(policy=SMTP).parsebytes(message.raw)
    audit = bcc_audit if bcc_audit in message.envelope.recipients else None
    parts = [
        f"From {message.envelope.sender}",
        f"To {headers.get('To', '')}",
        f"Cc {headers.get('Cc') or '-'}",
        f"BCC audit {audit or '-'}",
        f"Subject {headers.get('Subject', '')}",
    ]
    return " | ".join(parts)


def _check_rendered_from_current_report(run: RunFolder, manifest: Manifest, persona: str) -> None:
    outcome = manifest.personas.get(persona)
    report = run.report_path(persona)
    if outcome is None or outcome.report_sha256 is None or not report.is_file():
        return
    if hashlib.sha256(report.read_bytes()).hexdigest() != outcome.report_sha256:
        raise RefusedError(
            f"{persona}: report.json changed after message.eml was rendered",
            hint=f"run `execbrief render --persona {persona}` to render the edited report",
        )


def _revision(history: History) -> int:
    return history.current.rev if history.current else FIRST_REVISION


def _in_doubt_detail(persona: str, rev: int, record: SendRecord) -> str:
    # an attempt with no outcome is a sender that stopped mid-send, or another sender
    # (a second machine on a shared ledger) still sending: this one cannot tell which
    look = (
        f"look for Message-ID {record.message_id} in a recipient's mailbox"
        if record.message_id
        else "look in a recipient's mailbox"
    )
    how = record.error or f"a sender stopped mid-send, or another one is sending it now; {look}"
    return (
        f"in doubt: rev {rev}'s attempt at {record.ts:%Y-%m-%d %H:%M:%SZ} has no known "
        f"outcome ({how}); if it did not arrive: `execbrief send --persona {persona} --force`"
    )


def send_run(
    run: RunFolder,
    personas: list[str],
    transport: Transport,
    *,
    requested: bool,
    force: bool = False,
    dry_run: bool = False,
    after_attempt: AfterAttempt | None = None,
    test_to: str | None = None,
    bcc_audit: str | None = None,
    notice: Notice | None = None,
    ledger: SendLedger | None = None,
    withheld: Mapping[str, str] | None = None,
) -> list[DeliveryOutcome]:
    """Send each persona's current revision at most once, unless forced.

    Refuses before sending anything (RefusedError) when a persona named on the command
    line was already sent, when a report was edited after rendering, and, through a
    transport that delivers (ses, smtp), when a revision is not approved or changed
    since, or an address is under a reserved domain. With `test_to`, each message goes
    to that one address as a test, and no persona's sent state changes. Addresses in
    `withheld` (bounced or complained) are left out of the messages (withhold_recipients).
    """
    if force and not requested:
        raise RefusedError(
            "--force sends again only the personas it names",
            hint="name each one: `execbrief send --persona ID --force`",
        )
    manifest = run.read_manifest()
    ledger = ledger or open_ledger(run, manifest.ledger)
    if (torn := ledger.repair()) and notice is not None:
        notice(torn)
    states = delivery_states(ledger.records())
    candidates = [p for p in personas if (run.persona_dir(p) / "message.eml").is_file()]
    outcomes = [
        DeliveryOutcome(persona=p, action=DeliveryAction.SKIPPED, detail="no rendered message")
        for p in personas
        if p not in candidates
    ]
    histories = {p: read_history(run, p) for p in candidates}
    chosen: list[str] = []
    for persona in candidates:
        rev = _revision(histories[persona])
        state = states.get(persona, PersonaDelivery()).of(rev)
        if test_to is not None:
            chosen.append(persona)
        elif state.in_doubt and state.last is not None and not force:
            outcomes.append(
                DeliveryOutcome(
                    persona=persona,
                    action=DeliveryAction.IN_DOUBT,
                    detail="skipped, " + _in_doubt_detail(persona, rev, state.last),
                )
            )
        elif state.sent is not None and not force:
            if requested:
                raise RefusedError(
                    f"{persona} rev {rev} was already sent in run {run.run_id} at "
                    f"{state.sent.ts:%Y-%m-%d %H:%M:%SZ} (message {state.sent.message_id})",
                    hint="pass --force to send it again",
                )
            outcomes.append(
                DeliveryOutcome(
                    persona=persona,
                    action=DeliveryAction.SKIPPED,
                    detail=f"rev {rev} already sent at {state.sent.ts:%Y-%m-%d %H:%M:%SZ}",
                    message_id=state.sent.message_id,
                )
            )
        else:
            chosen.append(persona)
    for persona in chosen:
        _check_rendered_from_current_report(run, manifest, persona)
    if transport.delivers and test_to is None:
        for persona in chosen:
            check_approved(run, persona, histories[persona])
    to_send = [load_message(run, p) for p in chosen]
    if test_to is not None:
        to_send = [as_test_send(m, test_to) for m in to_send]
    if transport.delivers:
        for message in to_send:
            refuse_reserved(message.persona, message.envelope)
    to_send, skipped_to, all_withheld = withhold_recipients(to_send, withheld or {}, notice)
    outcomes += all_withheld
    if dry_run:
        return outcomes + [
            DeliveryOutcome(
                persona=m.persona,
                action=DeliveryAction.WOULD_SEND,
                detail=f"via {transport.name}: {describe_message(m, bcc_audit)}",
            )
            for m in to_send
        ]
    if to_send:
        transport.preflight(to_send)
    for message in to_send:
        rev = _revision(histories[message.persona])
        seen = states.get(message.persona, PersonaDelivery()).of(rev).attempts
        delivery = _Delivery(ledger, rev, seen, test_to is not None)
        skipped = skipped_to.get(message.persona, [])
        outcome = _deliver(run, transport, message, delivery, after_attempt, skipped)
        if outcome.action is DeliveryAction.SKIPPED and notice is not None:
            notice(f"{outcome.persona}: {outcome.detail}")
        outcomes.append(outcome)
    order = {p: i for i, p in enumerate(personas)}
    return sorted(outcomes, key=lambda o: order.get(o.persona, len(order)))


@dataclass(frozen=True)
class _Delivery:
    """The ledger a send is recorded in, the revision it sends, and that revision's
    attempts as the sender read them (what its claim must still find)."""

    ledger: SendLedger
    revision: int
    seen: int
    test: bool


def _deliver(
    run: RunFolder,
    transport: Transport,
    message: OutgoingMessage,
    delivery: _Delivery,
    after_attempt: AfterAttempt | None,
    skipped_recipients: list[str] | None = None,
) -> DeliveryOutcome:
    revision, test = delivery.revision, delivery.test

    def entry(
        event: SendEvent, message_id: str | None = None, error: str | None = None
    ) -> SendRecord:
        return SendRecord(
            ts=datetime.now(UTC),
            run=run.run_id,
            persona=message.persona,
            event=event,
            transport=transport.name,
            message_id=message_id,
            error=error,
            revision=revision,
            test=test,
            skipped_recipients=skipped_recipients or [],
        )

    # the attempt names the Message-ID, so a mailbox can be searched if the outcome is lost
    attempt = entry(SendEvent.ATTEMPT, message_id=message.envelope.message_id)
    sha256 = hashlib.sha256(message.raw).hexdigest()
    claim = delivery.ledger.claim(attempt, seen=delivery.seen, sha256=sha256)
    if claim is None:
        return DeliveryOutcome(
            persona=message.persona,
            action=DeliveryAction.SKIPPED,
            detail=f"skipped, rev {revision} was claimed in {delivery.ledger.where} by another "
            "sender after this one read it: that sender is sending it or has sent it",
        )
    held = claim

    def record(event: SendEvent, message_id: str | None = None, error: str | None = None) -> None:
        delivery.ledger.settle(held, entry(event, message_id, error))

    if after_attempt is not None:
        after_attempt(message.persona)
    try:
        message_id = transport.send(message)
    except SendInDoubt as exc:
        error = redact_text(f"{exc.message}; to check: {exc.check}")
        record(SendEvent.IN_DOUBT, message_id=message.envelope.message_id, error=error)
        return DeliveryOutcome(
            persona=message.persona, action=DeliveryAction.IN_DOUBT, detail=error
        )
    except SendError as exc:
        error = redact_text(exc.message)
        record(SendEvent.FAILED, error=error)
        return DeliveryOutcome(persona=message.persona, action=DeliveryAction.FAILED, detail=error)
    record(SendEvent.SENT, message_id=message_id)
    what = (
        f"test to {message.envelope.recipients[0]}"
        if test
        else (f"{len(message.envelope.recipients)} recipients")
    )
    return DeliveryOutcome(
        persona=message.persona,
        action=DeliveryAction.SENT,
        detail=f"rev {revision}, {what} via {transport.name}",
        message_id=message_id,
    )


def withhold_recipients(
    messages: list[OutgoingMessage], withheld: Mapping[str, str], notice: Notice | None
) -> tuple[list[OutgoingMessage], dict[str, list[str]], list[DeliveryOutcome]]:
    """The messages without the withheld addresses (address -> why, lower-cased) in To, Cc
    and the envelope; who was left out of each persona's message; and a skipped outcome for
    each message that would have no To left. Each address left out is named to `notice`."""
    kept: list[OutgoingMessage] = []
    left_out: dict[str, list[str]] = {}
    skipped: list[DeliveryOutcome] = []
    for message in messages:
        dropped = [r for r in message.envelope.recipients if r.lower() in withheld]
        if not dropped:
            kept.append(message)
            continue
        for address in dropped:
            if notice is not None:
                notice(
                    f"{message.persona}: leaving out {address}: {withheld[address.lower()]} "
                    f"(`execbrief send --persona {message.persona} --force` sends to it anyway)"
                )
        reduced = _without(message, {a.lower() for a in dropped})
        if reduced is None:
            detail = "every To recipient bounced or complained: " + ", ".join(dropped)
            if notice is not None:
                notice(f"{message.persona} not sent: {detail}")
            skipped.append(
                DeliveryOutcome(
                    persona=message.persona, action=DeliveryAction.SKIPPED, detail=detail
                )
            )
            continue
        left_out[message.persona] = dropped
        kept.append(reduced)
    return kept, left_out, skipped


def _without(message: OutgoingMessage, dropped: set[str]) -> OutgoingMessage | None:
    """The message with `dropped` removed from To, Cc and the envelope; None when no To
    recipient remains."""
    parsed = message_from_bytes(message.raw, policy=SMTP)
    remaining: dict[str, list[tuple[str, str]]] = {}
    for header in ("To", "Cc"):
        pairs = getaddresses([str(v) for v in parsed.get_all(header, [])])
        remaining[header] = [(n, a) for n, a in pairs if a and a.lower() not in dropped]
    if not remaining["To"]:
        return None
    for header, pairs in remaining.items():
        del parsed[header]
        if pairs:
            value = ", ".join(formataddr(pair) for pair in pairs)
            check_header_value(header, value)
            parsed[header] = value
    recipients = [r for r in message.envelope.recipients if r.lower() not in dropped]
    envelope = message.envelope.model_copy(update={"recipients": recipients})
    return message.model_copy(update={"raw": parsed.as_bytes(), "envelope": envelope})
