"""The transport protocol every mailer implements."""

from __future__ import annotations

from typing import Protocol

from execbrief.models import OutgoingMessage


class Transport(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> str:
        """Deliver the message's raw bytes to its envelope; return the provider's message id.

        Raises SendError when delivery fails.
        """
        ...
