"""The transport protocol every mailer implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from execbrief.models import OutgoingMessage


class Transport(Protocol):
    name: str
    # True for a transport that reaches real mailboxes (ses, smtp): it sends only approved,
    # unchanged revisions, and never to a reserved example domain.
    delivers: bool

    def preflight(self, messages: Sequence[OutgoingMessage]) -> object:
        """Refuse, before the first message leaves, what this transport would refuse later.

        An optional capability: a transport with nothing to check returns at once.
        """
        ...

    def send(self, message: OutgoingMessage) -> str:
        """Deliver the message's raw bytes to its envelope; return the provider's message id.

        Raises SendInDoubt when the outcome is unknown after hand-over, SendError when
        delivery failed before it.
        """
        ...
