"""Transports, chosen by name in one place; each is imported only when used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from execbrief.mail.base import Transport
from execbrief.mail.settings import MailSettings
from execbrief.registry import resolve

# (settings, the run's outbox folder) -> a ready transport
TransportFactory = Callable[[MailSettings, Path], Transport]

# name -> "module:function"; tests add fakes with `TRANSPORTS[name] = factory`.
TRANSPORTS: dict[str, str | TransportFactory] = {
    "file": "execbrief.mail.file:file_transport",
    "ses": "execbrief.mail.ses:ses_transport",
    "smtp": "execbrief.mail.smtp:smtp_transport",
}


def get_transport(name: str, settings: MailSettings, outbox: Path) -> Transport:
    """Build the transport registered under `name`."""
    factory: TransportFactory = resolve(TRANSPORTS, name, kind="transport", field="mail.transport")
    return factory(settings, outbox)
