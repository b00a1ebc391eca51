"""Servers that fail at the worst moment: after they took the message, before they said so.

- `ResetAfterData`: an aiosmtpd handler that keeps the message, then resets the connection
  instead of answering DATA.
- `HangAfterData`: keeps the message, then answers only after the client gave up.
- `HoldAfterData`: keeps the message and waits for the test (to kill the sender meanwhile).
- `ResettingProxy`: a TCP proxy in front of moto's server that forwards SES's acceptance of
  a SendEmail request to nobody, and resets the client's connection instead.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from dataclasses import dataclass, field

from aiosmtpd.smtp import SMTP, Envelope, Session


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer sees a reset rather than an orderly close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass
class ResetAfterData:
    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        transport = server.transport
        assert isinstance(transport, asyncio.Transport)
        raw = transport.get_extra_info("socket")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return "250 never heard"


@dataclass
class HangAfterData:
    seconds: float
    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        await asyncio.sleep(self.seconds)
        return "250 2.0.0 Ok: too late"


@dataclass
class HoldAfterData:
    """Signals `got_data` when a message arrives, then answers once `release` is set."""

    got_data: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    received: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        self.got_data.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return "250 2.0.0 Ok: queued"


class ResettingProxy:
    """Forwards loopback TCP to `upstream`; a response to a request whose bytes contain
    `trigger` is dropped and the client's connection reset, while upstream has already
    done the work."""

    def __init__(self, upstream: tuple[str, int], trigger: bytes) -> None:
        self.upstream = upstream
        self.trigger = trigger
        self.resets = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ResettingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)
        armed = threading.Event()

        def upstream_to_client() -> None:
            try:
                while chunk := server.recv(65536):
                    if armed.is_set():
                        self.resets += 1
                        _reset(client)
                        return
                    client.sendall(chunk)
            except OSError:
                return
            finally:
                server.close()

        threading.Thread(target=upstream_to_client, daemon=True).start()
        try:
            while chunk := client.recv(65536):
                if self.trigger in chunk:
                    armed.set()
                server.sendall(chunk)
        except OSError:
            pass
        finally:
            server.close()
