"""The workspace as a boundary: evidence is read only from paths that resolve inside it.

A path the config names relative to the workspace must resolve inside the workspace; an
absolute one (or a glob) inside the folder it names before any wildcard. A symlink that
leads out (`handoffs/passwd.md -> /etc/passwd`) is reported by its own name and never
followed, so nothing outside what the config names reaches the bundle.
"""

from __future__ import annotations

import glob
from pathlib import Path


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
