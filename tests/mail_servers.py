"""Mail servers for tests: an aiosmtpd inbox on loopback, and moto's SES set up to send."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# Not a reserved example domain: ses and smtp refuse those before sending anything.
DOMAIN = "execbrief-e2e.dev"


@dataclass
class Inbox:
    """Keeps every envelope the server accepts."""

    received: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((list(envelope.rcpt_tos), content))
        return "250 2.0.0 Ok: queued as Q123"


def free_port() -> int:
    # aiosmtpd checks readiness by connecting to the port it was given, so not port 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_inbox(handler: object | None = None) -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on loopback; `handler` replaces the inbox's own DATA handling."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(handler or inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def use_addresses(config_text: str, transport: str) -> str:
    """The example's execbrief.yaml sending through `transport` from non-reserved addresses."""
    return (
        config_text.replace("transport: file", f"transport: {transport}")
        .replace("briefs@example.com", f"briefs@{DOMAIN}")
        .replace("audit@example.com", f"audit@{DOMAIN}")
    )
