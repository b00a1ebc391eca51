"""The send stage: deliver each rendered message.eml once, recording every attempt."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from execbrief.config import MailConfig, TransportName
from execbrief.errors import ConfigError, RefusedError, SendError
from execbrief.mail.base import Transport
from execbrief.mail.file import FileTransport
from execbrief.mail.ledger import append_record, delivery_states, read_records
from execbrief.models import (
    DeliveryAction,
    DeliveryOutcome,
    Envelope,
    Manifest,
    OutgoingMessage,
    SendEvent,
    SendRecord,
)
from execbrief.runs import RunFolder
from execbrief.secrets.mask import redact_text

AfterAttempt = Callable[[str], None]


def make_transport(name: TransportName, run: RunFolder, mail: MailConfig) -> Transport:
    """The transport named `name`, configured from the workspace's mail settings."""
    if name == "file":
        return FileTransport(run.outbox)
    if name == "ses":
        from execbrief.mail.ses import SesTransport

        return SesTransport(mail)
    from execbrief.mail.smtp import SmtpTransport

    return SmtpTransport(mail)


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


def send_run(
    run: RunFolder,
    personas: list[str],
    transport: Transport,
    *,
    requested: bool,
    force: bool = False,
    dry_run: bool = False,
    after_attempt: AfterAttempt | None = None,
) -> list[DeliveryOutcome]:
    """Send each persona's message at most once, unless forced.

    Refuses before sending anything (RefusedError) when a persona named on the command
    line was already sent, when an earlier send died between attempt and outcome, or
    when a report was edited after rendering.
    """
    manifest = run.read_manifest()
    states = delivery_states(read_records(run.ledger_path))
    candidates = [p for p in personas if (run.persona_dir(p) / "message.eml").is_file()]
    outcomes = [
        DeliveryOutcome(persona=p, action=DeliveryAction.SKIPPED, detail="no rendered message")
        for p in personas
        if p not in candidates
    ]
    for persona in candidates:
        state = states.get(persona)
        if state is None or force:
            continue
        if state.in_doubt and state.last is not None:
            raise RefusedError(
                f"{persona}: an attempt at {state.last.ts:%Y-%m-%d %H:%M:%SZ} has no outcome; "
                "the process stopped mid-send, so the message may or may not have left",
                hint="check the recipient's mailbox, then resend with --force if it did not arrive",
            )
        if requested and state.sent is not None:
            raise RefusedError(
                f"{persona} was already sent in run {run.run_id} at "
                f"{state.sent.ts:%Y-%m-%d %H:%M:%SZ} (message {state.sent.message_id})",
                hint="pass --force to send it again",
            )
    for persona in candidates:
        _check_rendered_from_current_report(run, manifest, persona)

    to_send: list[OutgoingMessage] = []
    for persona in candidates:
        state = states.get(persona)
        if state is not None and state.sent is not None and not force:
            outcomes.append(
                DeliveryOutcome(
                    persona=persona,
                    action=DeliveryAction.SKIPPED,
                    detail=f"already sent at {state.sent.ts:%Y-%m-%d %H:%M:%SZ}",
                    message_id=state.sent.message_id,
                )
            )
        else:
            to_send.append(load_message(run, persona))
    if dry_run:
        return outcomes + [
            DeliveryOutcome(
                persona=m.persona,
                action=DeliveryAction.WOULD_SEND,
                detail=f"{len(m.envelope.recipients)} recipients via {transport.name}",
            )
            for m in to_send
        ]
    preflight = getattr(transport, "preflight", None)
    if to_send and callable(preflight):
        preflight(to_send)
    for message in to_send:
        outcomes.append(_deliver(run, transport, message, after_attempt))
    order = {p: i for i, p in enumerate(personas)}
    return sorted(outcomes, key=lambda o: order.get(o.persona, len(order)))


def _deliver(
    run: RunFolder,
    transport: Transport,
    message: OutgoingMessage,
    after_attempt: AfterAttempt | None,
) -> DeliveryOutcome:
    def record(event: SendEvent, message_id: str | None = None, error: str | None = None) -> None:
        append_record(
            run.ledger_path,
            SendRecord(
                ts=datetime.now(UTC),
                run=run.run_id,
                persona=message.persona,
                event=event,
                transport=transport.name,
                message_id=message_id,
                error=error,
            ),
        )

    record(SendEvent.ATTEMPT)
    if after_attempt is not None:
        after_attempt(message.persona)
    try:
        message_id = transport.send(message)
    except SendError as exc:
        error = redact_text(exc.message)
        record(SendEvent.FAILED, error=error)
        return DeliveryOutcome(persona=message.persona, action=DeliveryAction.FAILED, detail=error)
    record(SendEvent.SENT, message_id=message_id)
    return DeliveryOutcome(
        persona=message.persona,
        action=DeliveryAction.SENT,
        detail=f"{len(message.envelope.recipients)} recipients via {transport.name}",
        message_id=message_id,
    )
