"""The send ledger: an append-only JSON-lines record of every delivery attempt."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from execbrief.errors import ConfigError
from execbrief.models import SendEvent, SendRecord


def append_record(path: Path, record: SendRecord) -> None:
    """Append one line and fsync it, so a crash never loses an acknowledged event."""
    line = record.model_dump_json() + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> list[SendRecord]:
    """Every record of the ledger, oldest first; a torn last line is ignored."""
    if not path.is_file():
        return []
    records: list[SendRecord] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(SendRecord.model_validate_json(line))
        except ValidationError as exc:
            if number == len(lines):
                break  # the process died while writing it; the attempt before it stands
            raise ConfigError("corrupt send ledger line", path=path, line=number) from exc
    return records


@dataclass(frozen=True)
class DeliveryState:
    """Where one persona's delivery stands, from its ledger records."""

    last: SendRecord | None
    sent: SendRecord | None

    @property
    def in_doubt(self) -> bool:
        """An attempt with no outcome: the process died mid-send."""
        return self.last is not None and self.last.event is SendEvent.ATTEMPT


def delivery_states(records: list[SendRecord]) -> dict[str, DeliveryState]:
    states: dict[str, DeliveryState] = {}
    for record in records:
        previous = states.get(record.persona)
        sent = record if record.event is SendEvent.SENT else (previous.sent if previous else None)
        states[record.persona] = DeliveryState(last=record, sent=sent)
    return states
