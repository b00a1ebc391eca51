"""The file transport: writes each message into the run's outbox, for review or tests."""

from __future__ import annotations

from pathlib import Path

from execbrief.models import OutgoingMessage
from execbrief.runs import write_atomic


class FileTransport:
    name = "file"

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def send(self, message: OutgoingMessage) -> str:
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / f"{message.persona}.eml"
        n = 1
        while target.exists():
            n += 1
            target = self.outbox / f"{message.persona}-{n}.eml"
        write_atomic(target, message.raw)
        return message.envelope.message_id
