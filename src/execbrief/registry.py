"""Plug-ins chosen by name from a table: providers and transports resolve the same way."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TypeVar

from execbrief.errors import ConfigError

F = TypeVar("F")


def resolve(table: Mapping[str, str | F], name: str, *, kind: str, field: str) -> F:
    """The factory registered under `name`; a "module:attribute" entry is imported only now."""
    target = table.get(name)
    if target is None:
        raise ConfigError(
            f"unknown {kind} {name!r}", field=field, hint="one of: " + ", ".join(table)
        )
    if isinstance(target, str):
        module_name, _, attribute = target.partition(":")
        factory: F = getattr(importlib.import_module(module_name), attribute)
        return factory
    return target
