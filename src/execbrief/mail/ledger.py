"""The send ledger: a record of every delivery attempt, and where each persona's
revisions stand according to it.

Two backends keep the same records (SendRecord) behind one protocol, SendLedger: the run
folder's append-only `send-ledger.jsonl` (the default), and a DynamoDB table shared by
every machine that sends for the workspace (`ledger: {backend: dynamodb}`,
dynamodb_ledger.py). A send first *claims* the revision it is about to deliver: the claim
holds only if nobody claimed that revision since the sender read the ledger, so two
senders cannot both send it; the loser is told and skips it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from execbrief.jsonl import append_line, read_lines, set_aside_torn_tail
from execbrief.models import LedgerRef, SendEvent, SendRecord
from execbrief.runs import RunFolder

# A record written before revisions existed belongs to a persona's first revision.
FIRST_REVISION = 1


def append_record(path: Path, record: SendRecord) -> None:
    """Append one record, durably."""
    append_line(path, record.model_dump_json())


def read_records(path: Path) -> list[SendRecord]:
    """Every record of the ledger, oldest first; a torn last line is ignored."""
    records, _ = read_lines(path, SendRecord.model_validate_json)
    return records


def repair_ledger(path: Path) -> str | None:
    """Set a torn last line aside so that sends continue; a notice when there was one."""
    return set_aside_torn_tail(path, SendRecord.model_validate_json)


@dataclass(frozen=True)
class DeliveryState:
    """Where one revision of a persona's draft stands, from its ledger records."""

    last: SendRecord | None
    sent: SendRecord | None
    attempts: int = 0

    @property
    def in_doubt(self) -> bool:
        """An attempt with no known outcome: the process died mid-send, or the connection
        was lost after the message was handed over."""
        return self.last is not None and self.last.event in (SendEvent.ATTEMPT, SendEvent.IN_DOUBT)

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.event is SendEvent.FAILED


@dataclass
class PersonaDelivery:
    """Every revision's delivery state of one persona."""

    revisions: dict[int, DeliveryState] = field(default_factory=dict)

    def of(self, revision: int) -> DeliveryState:
        return self.revisions.get(revision, DeliveryState(last=None, sent=None, attempts=0))

    def last_sent(self) -> tuple[int, SendRecord] | None:
        """The newest revision that was sent, and its record."""
        sent = [(rev, s.sent) for rev, s in self.revisions.items() if s.sent is not None]
        return max(sent, key=lambda item: item[1].ts) if sent else None


def delivery_states(records: list[SendRecord]) -> dict[str, PersonaDelivery]:
    """Persona -> its revisions' delivery states; test sends change no state."""
    states: dict[str, PersonaDelivery] = {}
    for record in records:
        if record.test:
            continue
        persona = states.setdefault(record.persona, PersonaDelivery())
        revision = record.revision or FIRST_REVISION
        previous = persona.of(revision)
        sent = record if record.event is SendEvent.SENT else previous.sent
        attempts = previous.attempts + (record.event is SendEvent.ATTEMPT)
        persona.revisions[revision] = DeliveryState(last=record, sent=sent, attempts=attempts)
    return states


# --- the protocol and its file backend --------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A revision a sender holds: its outcome is written against it."""

    key: str


class SendLedger(Protocol):
    """One run's send records, wherever they are kept."""

    @property
    def where(self) -> str:
        """Where the records are, for messages: `send-ledger.jsonl`, `DynamoDB table X`."""
        ...

    def repair(self) -> str | None:
        """Make the ledger writable after a crash; a notice when something was set aside."""
        ...

    def records(self) -> list[SendRecord]:
        """Every record of the run, oldest first."""
        ...

    def claim(self, attempt: SendRecord, *, seen: int, sha256: str) -> Claim | None:
        """Record `attempt` if its revision still has `seen` attempts (as the sender read
        it); None when another sender claimed it since. A test send always holds."""
        ...

    def settle(self, claim: Claim, outcome: SendRecord) -> None:
        """Record the outcome (sent, failed, in_doubt) of a claimed attempt."""
        ...


class FileLedger:
    """`send-ledger.jsonl` in the run folder; claims are serialised by a lock on the file,
    so two processes on one machine cannot both send a revision either."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def where(self) -> str:
        return self.path.name

    def repair(self) -> str | None:
        return repair_ledger(self.path)

    def records(self) -> list[SendRecord]:
        return read_records(self.path)

    def claim(self, attempt: SendRecord, *, seen: int, sha256: str) -> Claim | None:
        revision = attempt.revision or FIRST_REVISION
        with _locked(self.path):
            if not attempt.test:
                states = delivery_states(self.records()).get(attempt.persona, PersonaDelivery())
                if states.of(revision).attempts != seen:
                    return None
            append_record(self.path, attempt)
        return Claim(key=f"{attempt.persona}#{revision}")

    def settle(self, claim: Claim, outcome: SendRecord) -> None:
        append_record(self.path, outcome)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def open_ledger(run: RunFolder, ref: LedgerRef | None) -> SendLedger:
    """The ledger a run's manifest names: its own file, or the shared DynamoDB table."""
    if ref is None:
        return FileLedger(run.ledger_path)
    from execbrief.mail.dynamodb_ledger import DynamoLedger

    return DynamoLedger(ref, run.run_id)
