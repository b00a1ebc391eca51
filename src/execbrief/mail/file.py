"""The file transport: writes each message into the run's outbox, for review or tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from execbrief.files import write_atomic
from execbrief.mail.settings import MailSettings
from execbrief.models import OutgoingMessage


class FileTransport:
    name = "file"
    delivers = False  # nothing leaves the machine: no approval needed, any address will do

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def preflight(self, messages: Sequence[OutgoingMessage]) -> None:
        """Nothing to check: writing a file cannot be refused by a mail server."""

    def send(self, message: OutgoingMessage) -> str:
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / f"{message.persona}.eml"
        n = 1
        while target.exists():
            n += 1
            target = self.outbox / f"{message.persona}-{n}.eml"
        write_atomic(target, message.raw)
        return message.envelope.message_id


def file_transport(settings: MailSettings, outbox: Path) -> FileTransport:
    return FileTransport(outbox)
