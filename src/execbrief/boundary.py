"""The workspace as a boundary: evidence is read only from paths that resolve inside it.

A path the config names relative to the workspace must resolve inside the workspace; an
absolute one (or a glob) inside the folder it names before any wildcard. A symlink that
leads out (`handoffs/passwd.md -> /etc/passwd`) is reported by its own name and never
followed, so nothing outside what the config names reaches the bundle.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


def base_of(root: Path, pattern: str) -> Path:
    """The folder a configured path or glob may not leave: the workspace for a relative
    one, the part before the first wildcard for an absolute one."""
    path = Path(pattern)
    if not path.is_absolute():
        return root
    fixed: list[str] = []
    for part in path.parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(path.anchor)


@dataclass
class Matches:
    """What a configured glob matched: the paths that may be read, and each one a symlink
    leads out of the folder the glob may not leave, with why (for a gap)."""

    inside: list[Path] = field(default_factory=list)
    outside: list[tuple[Path, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inside or self.outside)


def glob_inside(root: Path, pattern: str, kind: Literal["file", "dir"]) -> Matches:
    """Files (or folders) matching `pattern`, relative to `root` unless it is absolute, in
    sorted order, split by whether they resolve inside `base_of(root, pattern)`."""
    path = Path(pattern)
    start = Path(path.anchor) if path.is_absolute() else root
    relative = path.relative_to(path.anchor).as_posix() if path.is_absolute() else pattern
    wanted = Path.is_file if kind == "file" else Path.is_dir
    try:
        found = sorted(match for match in start.glob(relative) if wanted(match))
    except (ValueError, NotImplementedError, OSError):
        found = []
    base = base_of(root, pattern)
    matches = Matches()
    for match in found:
        if (why := escaping_link(match, base)) is None:
            matches.inside.append(match)
        else:
            matches.outside.append((match, why))
    return matches


def escaping_link(path: Path, base: Path) -> str | None:
    """None when `path` resolves inside `base`; else why not, naming the link (relative to
    `base`) that leads out. The link's target is not named: it is outside what may be read."""
    try:
        inside = base.resolve()
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return f"{_shown(path, base)} cannot be resolved (a symlink loop?)"
    if resolved == inside or inside in resolved.parents:
        return None
    current = base
    for part in _relative_parts(path, base):
        current = current / part
        if current.is_symlink() and not _within(current, inside):
            return f"symlink {_shown(current, base)} points outside the workspace"
    return f"{_shown(path, base)} is outside the workspace"


def _within(link: Path, inside: Path) -> bool:
    target = link.resolve()
    return target == inside or inside in target.parents


def _relative_parts(path: Path, base: Path) -> tuple[str, ...]:
    try:
        return path.relative_to(base).parts
    except ValueError:
        return path.parts


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()
