"""Providers and transports are looked up by name the same way."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from execbrief.errors import ConfigError
from execbrief.registry import resolve


def test_a_string_entry_is_imported_when_asked_for() -> None:
    table: dict[str, str | Callable[..., str]] = {"join": "os.path:join"}

    join = resolve(table, "join", kind="helper", field="x")

    assert join("a", "b") == "a/b"


def test_an_unknown_name_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown transport 'fax'") as caught:
        resolve({"file": "a:b", "ses": "c:d"}, "fax", kind="transport", field="mail.transport")

    assert caught.value.hint == "one of: file, ses"
    assert caught.value.field == "mail.transport"
