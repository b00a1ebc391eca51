"""A per-repository cache of code-audit results, so an unchanged repository costs nothing.

The key is the repository's state as git names it (HEAD and every ref tip, for the
history scan reads all refs) plus what shapes the result: the checks, the entity, the
file-size cap, the day of the audit (the inventory counts days and recent commits), and
a digest of the audit's own code. Only a clean work tree is cached: an edited or
untracked file, or a folder outside git, is audited afresh every time.

The cache holds facts as the audit emits them, after raw secret values are masked, so
it holds nothing a bundle would not. Folder: $EXECBRIEF_CACHE_DIR, else
$XDG_CACHE_HOME/execbrief, else ~/.cache/execbrief; `execbrief audit --no-cache` skips it.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path

from pydantic import ValidationError

from execbrief import models
from execbrief.cache_folder import cache_folder
from execbrief.models import CollectResult
from execbrief.secrets import mask, rules

from .repo_files import run_git


def default_folder() -> Path:
    """Where the cache lives unless told otherwise."""
    return cache_folder("code-audit")


@cache
def _code_digest() -> str:
    """Changes whenever the audit's code, rules or fact model change."""
    digest = hashlib.sha256()
    sources = sorted(Path(__file__).parent.glob("*.py"))
    for path in [*sources, Path(rules.__file__), Path(mask.__file__), Path(models.__file__)]:
        digest.update(path.read_bytes())
    try:
        digest.update(metadata.version("bandit").encode())
    except metadata.PackageNotFoundError:
        digest.update(b"no bandit")
    return digest.hexdigest()


class AuditCache:
    """Results by repository state, one JSON file each."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_folder()

    def key(
        self,
        root: Path,
        checks: frozenset[str],
        entity: str | None,
        max_file_bytes: int,
        now: datetime,
    ) -> str | None:
        """The key of this audit, or None when the folder is not a clean git work tree."""
        head = run_git(root, "rev-parse", "--verify", "-q", "HEAD")
        refs = run_git(root, "for-each-ref", "--format=%(objectname) %(refname)")
        status = run_git(root, "status", "--porcelain", "-z", "--untracked-files=normal", "--", ".")
        if head is None or refs is None or status is None or status.stdout:
            return None
        parts = [
            _code_digest(),
            str(root.resolve()),
            head.stdout.decode().strip(),
            hashlib.sha256(refs.stdout).hexdigest(),
            sorted(checks),
            entity,
            max_file_bytes,
            now.date().isoformat(),
        ]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def load(self, key: str, now: datetime) -> CollectResult | None:
        """The stored result, its facts observed `now`; None when absent or unreadable."""
        try:
            result = CollectResult.model_validate_json((self.folder / f"{key}.json").read_bytes())
        except (OSError, ValidationError):
            return None
        facts = [fact.model_copy(update={"observed_at": now}) for fact in result.facts]
        return CollectResult(facts=facts, gaps=result.gaps)

    def store(self, key: str, result: CollectResult) -> None:
        """Write the result; a cache that cannot be written only costs the next run time."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(
                "wb", dir=self.folder, suffix=".tmp", delete=False
            ) as handle:
                handle.write(result.model_dump_json().encode())
            Path(handle.name).replace(self.folder / f"{key}.json")
        except OSError:
            return
