"""The code audit collector: secrets, committed env files, Python checks, endpoints, inventory.

Runs over every repository the workspace names (`sources.repos`), or over paths given
directly (`audit_paths`, behind `execbrief audit`). Each file is read once, as bytes,
and handed to every selected check.
"""

from __future__ import annotations

import ast
import glob
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from execbrief.boundary import Matches, glob_inside
from execbrief.config import CollectContext
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity, Fact, Gap
from execbrief.secrets.mask import mask
from execbrief.secrets.rules import Prefilter, prefilter

from .audit_cache import AuditCache
from .bandit_run import preload_bandit
from .endpoints import EndpointsCheck
from .forked import ForkedCall, spare_cores
from .py_tree import TreeListener, walk_once
from .python_checks import PythonCheck
from .repo_files import (
    COLLECTOR,
    AuditScope,
    ReadOutcome,
    RepoFile,
    SourceFile,
    list_repo,
    read_source,
)
from .repo_inventory import EnvFilesCheck, InventoryCheck
from .secrets_scan import SecretsCheck

CHECKS = ("secrets", "env", "python", "endpoints", "inventory")
DEFAULT_MAX_FILE_BYTES = 1_000_000


class Check(Protocol):
    name: str

    def listener(self, source: SourceFile) -> TreeListener | None:
        """What this check gathers from a Python file during the one walk over its tree
        that every check shares, if it needs one; `visit` then reads it."""
        ...

    def visit(self, source: SourceFile) -> None:
        """Look at one text file of the repository."""
        ...

    def part(self) -> object:
        """What `visit` gathered for `finish`, to hand from a worker to the main check."""
        ...

    def absorb(self, part: object) -> None:
        """Take in a worker's `part`, as if its files had been visited here, in order."""
        ...

    def finish(self) -> None:
        """Record the facts that need the whole repository."""
        ...


T = TypeVar("T")

# Repositories with fewer files are read in one process: a fork costs more than it saves.
PARALLEL_MIN_FILES = 1000
# Chunks each process gets of a split repository, dealt out in turn.
CHUNKS_PER_PROCESS = 4


class CodeAuditCollector:
    """Audits every repository in `sources.repos`."""

    name = COLLECTOR

    def __init__(
        self,
        checks: set[str] | None = None,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        cache: AuditCache | None = None,
    ) -> None:
        self.checks = validate_checks(checks)
        self.max_file_bytes = max_file_bytes
        self.cache = cache if cache is not None else AuditCache()

    def collect(self, ctx: CollectContext) -> CollectResult:
        result = CollectResult()
        entities = ctx.config.entities
        jobs: list[tuple[Path, str | None]] = []
        for pattern in ctx.config.sources.repos:
            # A glob's match must stay inside the workspace; a path named outright is a
            # repository root the config chose.
            matches = (
                glob_inside(ctx.root, pattern, "dir")
                if glob.has_magic(pattern)
                else Matches(inside=[ctx.root / pattern])
            )
            if not matches:
                result.gaps.append(
                    Gap(
                        collector=COLLECTOR,
                        source=pattern,
                        reason="no repository folder matches this path",
                        hint="check sources.repos in execbrief.yaml",
                    )
                )
            for _, outside in matches.outside:
                result.gaps.append(
                    Gap(collector=COLLECTOR, source=pattern, reason=f"not audited: {outside}")
                )
            jobs += [(path, match_entity(path.name, entities)) for path in matches.inside]
        cache = self.cache if ctx.cache else None
        for repo in audit_many(jobs, self.checks, ctx.now, self.max_file_bytes, "auto", cache):
            result.facts.extend(repo.facts)
            result.gaps.extend(repo.gaps)
        return result

    def audit(
        self, paths: list[Path], checks: set[str] | None, now: datetime, engine: str, cache: bool
    ) -> CollectResult:
        """The Auditor capability (`execbrief audit`): folders outside any workspace, with
        the result cache unless `cache` is off."""
        store = AuditCache() if cache else None
        return audit_paths(paths, checks, now, self.max_file_bytes, engine, store)


def audit_paths(
    paths: list[Path],
    checks: set[str] | None,
    now: datetime,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    engine: str = "auto",
    cache: AuditCache | None = None,
) -> CollectResult:
    """Audit folders outside any workspace; facts carry no entity."""
    selected = validate_checks(checks)
    result = CollectResult()
    jobs: list[tuple[Path, str | None]] = [(Path(path), None) for path in paths]
    for repo in audit_many(jobs, selected, now, max_file_bytes, engine, cache):
        result.facts.extend(repo.facts)
        result.gaps.extend(repo.gaps)
    return result


# Fewer repositories than this are audited in one process.
PARALLEL_MIN_REPOS = 4


def audit_many(
    jobs: list[tuple[Path, str | None]],
    checks: frozenset[str],
    now: datetime,
    max_file_bytes: int,
    engine: str,
    cache: AuditCache | None,
) -> list[CollectResult]:
    """Audit each (folder, entity), in order; many repositories are split over the cores.

    When the repositories are split, each is read in one process: the cores are busy.
    """
    workers = spare_cores() if len(jobs) >= PARALLEL_MIN_REPOS else 0
    prefilter(engine)  # compiled before any fork, so workers share it
    if workers and "python" in checks:
        # Imported before the fork: a worker must not import while another thread of
        # this process (a concurrent collector) may hold an import lock.
        preload_bandit()
    parts = _chunks(jobs, workers + 1) or [[]]
    run = partial(
        _audit_part, checks=checks, now=now, max_file_bytes=max_file_bytes, engine=engine,
        cache=cache, split_files=not workers,
    )  # fmt: skip
    if not workers:
        return run(parts[0])
    # Every part in a worker, this process only waiting: `collect` runs other collectors
    # on threads here, and an idle audit leaves them the interpreter lock.
    forked = [ForkedCall(partial(run, part)) for part in parts]
    return [result for call in forked for result in call.result()]


def _audit_part(
    jobs: list[tuple[Path, str | None]],
    *,
    checks: frozenset[str],
    now: datetime,
    max_file_bytes: int,
    engine: str,
    cache: AuditCache | None,
    split_files: bool,
) -> list[CollectResult]:
    return [
        audit_repo(path, checks, now, entity, max_file_bytes, engine, cache, split_files)
        for path, entity in jobs
    ]


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
    cache: AuditCache | None = None,
    split_files: bool = True,
) -> CollectResult:
    """Run the selected checks over one repository folder.

    `engine` picks the secret prefilter: auto (hyperscan when installed), hyperscan or re.
    With a `cache`, a clean git work tree audited before in the same state is not read.
    """
    if not root.is_dir():
        scope = AuditScope(repo=root.resolve().name or str(root), root=root, entity=entity, now=now)
        scope.gap("", f"repository folder not found: {root}", hint="check the path")
        return CollectResult(gaps=scope.gaps)
    key = cache.key(root, checks, entity, max_file_bytes, now) if cache else None
    if cache and key and (cached := cache.load(key, now)) is not None:
        return cached
    result = _audit(root, checks, now, entity, max_file_bytes, engine, split_files)
    if cache and key:
        cache.store(key, result)
    return result


def _audit(
    root: Path,
    checks: frozenset[str],
    now: datetime,
    entity: str | None,
    max_file_bytes: int,
    engine: str,
    split_files: bool,
) -> CollectResult:
    name = root.resolve().name or str(root)
    scope = AuditScope(repo=name, root=root, entity=entity, now=now)
    listing = list_repo(root)
    scope.is_git = listing.is_git
    scope.index_blobs = listing.index_blobs
    scope.gaps.extend(listing.gaps)
    engine_impl = prefilter(engine)  # compiled before any fork, so workers share it
    files = listing.files
    workers = spare_cores() if split_files and len(files) >= PARALLEL_MIN_FILES else 0
    processes = workers + 1
    # Contiguous chunks, dealt out in turn: one folder of large files (a vendored SDK)
    # is shared between the processes instead of making one of them the last to finish.
    # Each chunk is visited with checks of its own and merged in file order, so the
    # facts are the ones a single process finds, in the same order.
    chunks = _chunks(files, processes * CHUNKS_PER_PROCESS) if workers else []
    forked = [
        ForkedCall(partial(_visit_chunks, scope, checks, engine_impl, dealt, max_file_bytes))
        for dealt in (chunks[n::processes] for n in range(1, processes))
    ]
    selected = _make_checks(scope, checks, engine_impl, history=True)
    if workers:
        by_process = [_visit_chunks(scope, checks, engine_impl, chunks[::processes],
                                    max_file_bytes)]  # fmt: skip
        by_process.extend(call.result() for call in forked)
        outcome = _Visited()
        for n in range(len(chunks)):
            _merge(scope, selected, outcome, by_process[n % processes][n // processes])
    else:
        outcome = _visit_files(scope, selected, files, max_file_bytes)
    for check in selected:
        check.finish()
    _summarise(scope, outcome.too_large, f"larger than {max_file_bytes:,} bytes; not read")
    _summarise(
        scope, outcome.not_utf8, "not UTF-8; read with replacement characters where text was needed"
    )
    result = CollectResult(facts=scope.facts, gaps=scope.gaps)
    secrets = next((c for c in selected if isinstance(c, SecretsCheck)), None)
    return _redact(result, secrets.raw_values if secrets else set())


def _make_checks(
    scope: AuditScope, checks: frozenset[str], engine: Prefilter, history: bool
) -> list[Check]:
    """The selected checks, in the order every file is handed to them."""
    made: list[Check] = []
    if "secrets" in checks:
        made.append(SecretsCheck(scope, engine, history=history))
    if "env" in checks:
        made.append(EnvFilesCheck(scope))
    if "python" in checks:
        made.append(PythonCheck(scope))
    if "endpoints" in checks:
        made.append(EndpointsCheck(scope))
    if "inventory" in checks:
        made.append(InventoryCheck(scope))
    return made


@dataclass
class _Visited:
    """One part of the file list after every check saw it."""

    too_large: list[str] = field(default_factory=list)
    not_utf8: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    parts: list[object] = field(default_factory=list)


def _visit_files(
    scope: AuditScope, selected: list[Check], files: list[RepoFile], max_file_bytes: int
) -> _Visited:
    """Read each file once and hand it to every check."""
    visited = _Visited()
    inventory = next((c for c in selected if isinstance(c, InventoryCheck)), None)
    for file in files:
        outcome, source = read_source(file, max_file_bytes, scope)
        if inventory is not None:
            inventory.count(file, outcome)
        if outcome is ReadOutcome.TOO_LARGE:
            visited.too_large.append(file.rel)
        if source is None:
            continue
        if file.suffix == ".py":
            _walk_python(source, selected)
        for check in selected:
            check.visit(source)
        if source.not_utf8:
            visited.not_utf8.append(file.rel)
    return visited


def _walk_python(source: SourceFile, selected: list[Check]) -> None:
    """Walk a Python file's tree once for every check that needs it (parsing it only then:
    the secret check alone parses only where its prefilter points)."""
    listeners = [found for check in selected if (found := check.listener(source))]
    if not listeners:
        return
    tree = source.python_tree()
    if isinstance(tree, ast.Module):
        walk_once(tree, listeners)


def _chunks(items: list[T], count: int) -> list[list[T]]:
    """`items` in at most `count` contiguous runs of equal length (the last shorter)."""
    size = -(-len(items) // count) or 1
    return [items[i : i + size] for i in range(0, len(items), size)]


def _visit_chunks(
    parent: AuditScope,
    checks: frozenset[str],
    engine: Prefilter,
    chunks: list[list[RepoFile]],
    max_file_bytes: int,
) -> list[_Visited]:
    """Visit each chunk with checks of its own; its facts, gaps and check parts go back."""
    visits: list[_Visited] = []
    for files in chunks:
        scope = replace(parent, facts=[], gaps=[])
        selected = _make_checks(scope, checks, engine, history=False)
        visited = _visit_files(scope, selected, files, max_file_bytes)
        visited.facts, visited.gaps = scope.facts, scope.gaps
        visited.parts = [check.part() for check in selected]
        visits.append(visited)
    return visits


def _merge(scope: AuditScope, selected: list[Check], into: _Visited, chunk: _Visited) -> None:
    scope.facts.extend(chunk.facts)
    scope.gaps.extend(chunk.gaps)
    into.too_large.extend(chunk.too_large)
    into.not_utf8.extend(chunk.not_utf8)
    for check, part in zip(selected, chunk.parts, strict=True):
        check.absorb(part)


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
