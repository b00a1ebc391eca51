"""Transports, chosen by name in one place; each is imported only when used."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from execbrief.errors import ConfigError
from execbrief.mail.base import Transport
from execbrief.mail.settings import MailSettings

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
    target = TRANSPORTS.get(name)
    if target is None:
        raise ConfigError(
            f"unknown transport {name!r}",
            field="mail.transport",
            hint="one of: " + ", ".join(TRANSPORTS),
        )
    if isinstance(target, str):
        module_name, _, function_name = target.partition(":")
        factory: TransportFactory = getattr(importlib.import_module(module_name), function_name)
    else:
        factory = target
    return factory(settings, outbox)
