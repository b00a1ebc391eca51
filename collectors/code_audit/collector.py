"""The code audit collector: secrets, committed env files, Python checks, endpoints, inventory.

Runs over every repository the workspace names (`sources.repos`), or over paths given
directly (`audit_paths`, behind `execbrief audit`). Each file is read once, as bytes,
and handed to every selected check.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from execbrief.boundary import base_of, escaping_link
from execbrief.config import CollectContext
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity, Gap
from execbrief.secrets.mask import mask
from execbrief.secrets.rules import prefilter

from .endpoints import EndpointsCheck
from .python_checks import PythonCheck
from .repo_files import COLLECTOR, AuditScope, ReadOutcome, SourceFile, list_repo, read_source
from .repo_inventory import EnvFilesCheck, InventoryCheck
from .secrets_scan import SecretsCheck

CHECKS = ("secrets", "env", "python", "endpoints", "inventory")
DEFAULT_MAX_FILE_BYTES = 1_000_000


class Check(Protocol):
    name: str

    def visit(self, source: SourceFile) -> None:
        """Look at one text file of the repository."""
        ...

    def finish(self) -> None:
        """Record the facts that need the whole repository."""
        ...


class CodeAuditCollector:
    """Audits every repository in `sources.repos`."""

    name = COLLECTOR

    def __init__(
        self, checks: set[str] | None = None, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> None:
        self.checks = validate_checks(checks)
        self.max_file_bytes = max_file_bytes

    def collect(self, ctx: CollectContext) -> CollectResult:
        result = CollectResult()
        entities = ctx.config.entities
        for pattern in ctx.config.sources.repos:
            paths = _expand(ctx.root, pattern)
            if not paths:
                result.gaps.append(
                    Gap(
                        collector=COLLECTOR,
                        source=pattern,
                        reason="no repository folder matches this path",
                        hint="check sources.repos in execbrief.yaml",
                    )
                )
            base = base_of(ctx.root, pattern)
            for path in paths:
                # A glob's match must stay inside the workspace; a path named outright is
                # a repository root the config chose.
                outside = escaping_link(path, base) if glob.has_magic(pattern) else None
                if outside is not None:
                    result.gaps.append(
                        Gap(collector=COLLECTOR, source=pattern, reason=f"not audited: {outside}")
                    )
                    continue
                entity = match_entity(path.name, entities)
                repo = audit_repo(path, self.checks, ctx.now, entity, self.max_file_bytes)
                result.facts.extend(repo.facts)
                result.gaps.extend(repo.gaps)
        return result


def audit_paths(
    paths: list[Path],
    checks: set[str] | None,
    now: datetime,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    engine: str = "auto",
) -> CollectResult:
    """Audit folders outside any workspace; facts carry no entity."""
    selected = validate_checks(checks)
    result = CollectResult()
    for path in paths:
        repo = audit_repo(Path(path), selected, now, None, max_file_bytes, engine)
        result.facts.extend(repo.facts)
        result.gaps.extend(repo.gaps)
    return result


def validate_checks(checks: Iterable[str] | None) -> frozenset[str]:
    """The selected checks, all of them by default; an unknown name is a ConfigError."""
    if checks is None:
        return frozenset(CHECKS)
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise ConfigError(
            f"unknown check {unknown[0]!r}",
            field="checks",
            hint=f"choose from {', '.join(CHECKS)}",
        )
    return frozenset(checks)


def audit_repo(
    root: Path,
    checks: frozenset[str],
    now: datetime,
    entity: str | None,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    engine: str = "auto",
) -> CollectResult:
    """Run the selected checks over one repository folder.

    `engine` picks the secret prefilter: auto (hyperscan when installed), hyperscan or re.
    """
    name = root.resolve().name or str(root)
    scope = AuditScope(repo=name, root=root, entity=entity, now=now)
    if not root.is_dir():
        scope.gap("", f"repository folder not found: {root}", hint="check the path")
        return CollectResult(gaps=scope.gaps)
    listing = list_repo(root)
    scope.is_git = listing.is_git
    scope.gaps.extend(listing.gaps)
    secrets = SecretsCheck(scope, prefilter(engine)) if "secrets" in checks else None
    inventory = InventoryCheck(scope) if "inventory" in checks else None
    selected: list[Check] = [
        check
        for check in (
            secrets,
            EnvFilesCheck(scope) if "env" in checks else None,
            PythonCheck(scope) if "python" in checks else None,
            EndpointsCheck(scope) if "endpoints" in checks else None,
            inventory,
        )
        if check is not None
    ]
    too_large: list[str] = []
    not_utf8: list[str] = []
    for file in listing.files:
        outcome, source = read_source(file, max_file_bytes, scope)
        if inventory is not None:
            inventory.count(file, outcome)
        if outcome is ReadOutcome.TOO_LARGE:
            too_large.append(file.rel)
        if source is None:
            continue
        for check in selected:
            check.visit(source)
        if source.not_utf8:
            not_utf8.append(file.rel)
    for check in selected:
        check.finish()
    _summarise(scope, too_large, f"larger than {max_file_bytes:,} bytes; not read")
    _summarise(scope, not_utf8, "not UTF-8; read with replacement characters where text was needed")
    result = CollectResult(facts=scope.facts, gaps=scope.gaps)
    return _redact(result, secrets.raw_values if secrets else set())


def _summarise(scope: AuditScope, rels: list[str], reason: str) -> None:
    """One gap for many files, naming the first few."""
    if not rels:
        return
    shown = ", ".join(rels[:5]) + (f" and {len(rels) - 5} more" if len(rels) > 5 else "")
    scope.gap(rels[0] if len(rels) == 1 else "", f"{len(rels)} file(s) {reason}: {shown}")


def _redact(result: CollectResult, raw_values: set[str]) -> CollectResult:
    """Mask any raw secret value that reached a title, detail, tag or gap (e.g. via bandit)."""
    if not raw_values:
        return result
    pattern = re.compile("|".join(re.escape(v) for v in sorted(raw_values, key=len, reverse=True)))

    def clean(text: str) -> str:
        return pattern.sub(lambda m: mask(m.group()), text)

    facts = [
        fact.model_copy(
            update={
                "title": clean(fact.title),
                "detail": clean(fact.detail),
                "tags": [clean(tag) for tag in fact.tags],
            }
        )
        for fact in result.facts
    ]
    gaps = [gap.model_copy(update={"reason": clean(gap.reason)}) for gap in result.gaps]
    return CollectResult(facts=facts, gaps=gaps)


def _expand(root: Path, pattern: str) -> list[Path]:
    """Folders a `sources.repos` entry names: a path, or a glob relative to the workspace."""
    if glob.has_magic(pattern):
        return sorted(p for p in root.glob(pattern) if p.is_dir())
    return [root / pattern]


_TOKEN = re.compile(r"[a-z0-9]+")


def match_entity(folder: str, entities: list[Entity]) -> str | None:
    """The entity whose id, name or alias matches a repository folder name, longest first.

    `queenofsandiego-app` -> queenofsandiego: an alias matches when its words appear in a
    row among the folder's words, or when it equals the folder name without separators.
    """
    words = _TOKEN.findall(folder.lower())
    compact = "".join(words)
    best: tuple[int, str] | None = None
    for entity in entities:
        for alias in (entity.id, entity.name, *entity.aliases):
            alias_words = _TOKEN.findall(alias.lower())
            if not alias_words:
                continue
            n = len(alias_words)
            hit = compact == "".join(alias_words) or any(
                words[i : i + n] == alias_words for i in range(len(words) - n + 1)
            )
            length = len("".join(alias_words))
            if hit and (best is None or length > best[0]):
                best = (length, entity.id)
    return best[1] if best else None
