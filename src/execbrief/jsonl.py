"""Append-only JSON-lines files (the send ledger, a persona's revisions): one rule for
appending durably and for reading past a line torn by a killed process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from execbrief.errors import ConfigError

T = TypeVar("T")


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync it, so a crash never loses an acknowledged event."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_lines(path: Path, parse: Callable[[str], T]) -> tuple[list[T], str | None]:
    """Every line parsed, oldest first, and the torn last line if there is one.

    Only the last line may be torn (the process died while writing it); a bad line
    before it is a corrupt file, reported with its line number.
    """
    if not path.is_file():
        return [], None
    items: list[T] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            items.append(parse(line))
        except (ValidationError, ValueError) as exc:
            if number == len(lines):
                return items, line
            raise ConfigError(
                f"corrupt line in {path.name}",
                path=path,
                line=number,
                hint="restore the file from a backup, or remove the line if it is not needed",
            ) from exc
    return items, None


def set_aside_torn_tail(path: Path, parse: Callable[[str], object]) -> str | None:
    """Move a torn last line into `<name>.torn` so later appends start on a fresh line;
    returns a one-line notice, or None when the file ends cleanly."""
    _, torn = read_lines(path, parse)
    if torn is None:
        return None
    content = path.read_bytes()
    keep = content[: content.rstrip(b"\n").rfind(b"\n") + 1]
    aside = path.with_name(path.name + ".torn")
    with aside.open("ab") as handle:
        handle.write(content[len(keep) :].rstrip(b"\n") + b"\n")
    with path.open("r+b") as handle:
        handle.truncate(len(keep))
        os.fsync(handle.fileno())
    return (
        f"{path.name}: its last line was torn by a process that stopped while writing it; "
        f"it was ignored and kept in {aside.name}"
    )
