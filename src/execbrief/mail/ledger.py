"""The send ledger: an append-only JSON-lines record of every delivery attempt, and where
each persona's revisions stand according to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from execbrief.jsonl import append_line, read_lines, set_aside_torn_tail
from execbrief.models import SendEvent, SendRecord

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
        return self.revisions.get(revision, DeliveryState(last=None, sent=None))

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
        persona.revisions[revision] = DeliveryState(last=record, sent=sent)
    return states
