"""Where execbrief keeps what it can rebuild: $EXECBRIEF_CACHE_DIR, else
$XDG_CACHE_HOME/execbrief, else ~/.cache/execbrief. Deleting it loses nothing but time."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EXECBRIEF_CACHE_DIR"


def cache_folder(name: str) -> Path:
    """The folder of one cache (`code-audit`, `rules`) inside the cache root."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / name
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "execbrief" / name
