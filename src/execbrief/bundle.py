"""The collect stage: run the collectors, turn failures into gaps, merge into one bundle."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable

from execbrief.config import CollectContext, Workspace, WorkspaceConfig
from execbrief.errors import CollectorError, ConfigError
from execbrief.limits import cap_facts
from execbrief.models import Bundle, CollectorRun, CollectResult, Fact, Gap
from execbrief.secrets.exposure import Exposures
from execbrief.secrets.mask import mask_fact, redact_text

ENTRY_POINT_GROUP = "execbrief.collectors"


class Collector(Protocol):
    """A source of facts. A collector may also have an optional capability below (it has
    the capability's method; nothing to import from the engine). The engine finds the
    collector by its entry-point name and asks for the capability (`as_auditor`,
    `as_snapshot_writer`), never importing a collector."""

    name: str

    def collect(self, ctx: CollectContext) -> CollectResult:
        """Facts and gaps from one kind of source."""
        ...


@runtime_checkable
class SnapshotWriter(Collector, Protocol):
    """Optional: saves the raw source it reads, so a later collect can replay that moment
    (`execbrief collect --aws-snapshot-out`)."""

    def with_snapshot_out(self, path: Path) -> Collector:
        """This collector, also writing what it reads to `path` (a failed write is a gap)."""
        ...


@runtime_checkable
class Auditor(Collector, Protocol):
    """Optional: runs on folders named outright, outside any workspace (`execbrief audit`)."""

    def audit(
        self, paths: list[Path], checks: set[str] | None, now: datetime, engine: str, cache: bool
    ) -> CollectResult:
        """Facts and gaps about `paths`, which carry no entity."""
        ...


CollectorFactory = Callable[[], Collector]
Progress = Callable[[str, CollectorRun], None]


class _UnloadableCollector:
    """Stands in for a plug-in that fails to import, so its failure becomes a gap."""

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.error = error

    def collect(self, ctx: CollectContext) -> CollectResult:
        raise CollectorError(
            f"the collector could not be loaded: {type(self.error).__name__}: {self.error}",
            collector=self.name,
            source="entry point",
            hint="reinstall the package that provides it",
        )


def installed_collectors(only: str | None = None) -> dict[str, CollectorFactory]:
    """Collectors registered under the `execbrief.collectors` entry-point group, or the one
    named `only`: a plug-in's module (the AWS one imports boto3) loads only when asked for."""
    factories: dict[str, CollectorFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if only is not None and ep.name != only:
            continue
        try:
            factories[ep.name] = ep.load()
        except Exception as exc:  # a broken plug-in is a gap, not a crash
            factories[ep.name] = partial(_UnloadableCollector, ep.name, exc)
    return factories


def as_snapshot_writer(collector: Collector, needed_for: str) -> SnapshotWriter:
    """The collector's SnapshotWriter capability, or a refusal naming what needed it."""
    if isinstance(collector, SnapshotWriter):
        return collector
    raise _lacks(collector.name, "SnapshotWriter", needed_for)


def as_auditor(collector: Collector, needed_for: str) -> Auditor:
    """The collector's Auditor capability, or a refusal naming what needed it."""
    if isinstance(collector, Auditor):
        return collector
    raise _lacks(collector.name, "Auditor", needed_for)


def installed_collector(
    name: str, needed_for: str, available: dict[str, CollectorFactory] | None = None
) -> Collector:
    """The installed collector registered as `name`; a refusal when none is."""
    factories = installed_collectors(name) if available is None else available
    factory = factories.get(name)
    if factory is None:
        names = entry_points(group=ENTRY_POINT_GROUP).names if available is None else factories
        raise ConfigError(
            f"no collector {name!r} is installed, and {needed_for} needs it",
            hint="reinstall execbrief; installed collectors: "
            + (", ".join(sorted(names)) or "none"),
        )
    return factory()


def _lacks(name: str, capability: str, needed_for: str) -> ConfigError:
    return ConfigError(
        f"collector {name!r} has no {capability} capability, which {needed_for} needs",
        hint=f"install a version of {name!r} that provides it, or drop {needed_for}",
    )


# A built-in collector runs only when the workspace names its source, so that no AWS
# call happens without `sources.aws`; third-party collectors decide for themselves.
_BUILTIN_SOURCE = {
    "handoffs": lambda c: bool(c.sources.handoffs),
    "code_audit": lambda c: bool(c.sources.repos),
    "aws_inventory": lambda c: c.sources.aws is not None,
    "ledger": lambda c: c.sources.ledger is not None,
}


def collectors_for(
    config: WorkspaceConfig, available: dict[str, CollectorFactory]
) -> list[Collector]:
    """Instantiate the collectors this workspace's sources call for."""
    chosen: list[Collector] = []
    for name, factory in sorted(available.items()):
        wanted = _BUILTIN_SOURCE.get(name)
        if wanted is None or wanted(config):
            chosen.append(factory())
    return chosen


def collect_bundle(
    workspace: Workspace,
    collectors: list[Collector],
    now: datetime,
    on_collector_done: Progress | None = None,
    cache: bool = True,
) -> Bundle:
    """Run every collector (concurrently) and merge what they saw into one bundle.

    `cache=False` tells the collectors to reuse nothing from earlier runs."""
    ctx = CollectContext(root=workspace.root, config=workspace.config, now=now, cache=cache)
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(collectors)))) as pool:
        outcomes = list(pool.map(lambda c: _run_one(c, ctx), collectors))
    facts: list[Fact] = []
    gaps: list[Gap] = []
    runs: list[CollectorRun] = []
    for collector, (result, run) in zip(collectors, outcomes, strict=True):
        facts.extend(result.facts)
        gaps.extend(result.gaps)
        runs.append(run)
        if on_collector_done:
            on_collector_done(collector.name, run)
    gaps = _masked_gaps(gaps, now, facts)
    facts, cut = cap_facts(facts, workspace.config.limits)
    gaps += cut
    bundle = Bundle(
        portfolio=workspace.config.portfolio,
        collected_at=now,
        entities=workspace.config.entities,
        facts=_merge(facts, workspace.config),
        gaps=gaps,
        collectors=runs,
    )
    bundle.digest = bundle.compute_digest()
    return bundle


def _masked_gaps(gaps: list[Gap], now: datetime, facts: list[Fact]) -> list[Gap]:
    """Gaps with any secret in their words masked; each secret found is also reported as a
    `secret.in_gap` fact (a bad row or a file name quoted a key), added to `facts`."""
    masked = []
    for gap in gaps:
        exposures = Exposures(gap.collector, "secret.in_gap", "source", now)
        source = redact_text(gap.source)
        where = source or gap.collector
        update = {
            "reason": exposures.scan(gap.reason, where, first_line=0),
            "source": source,
            "hint": exposures.scan(gap.hint, where, first_line=0) if gap.hint else None,
        }
        facts.extend(exposures.facts)
        masked.append(gap.model_copy(update={k: _nul_free(v) for k, v in update.items()}))
    return masked


def _nul_free(text: str | None) -> str | None:
    """NUL bytes end C strings in the tools that read a bundle (and a mail): never kept."""
    return text.replace("\x00", "") if text else text


def _without_nul(fact: Fact) -> Fact:
    if "\x00" not in fact.title + fact.detail + (fact.source.section or ""):
        return fact
    section = _nul_free(fact.source.section)
    return fact.model_copy(
        update={
            "title": fact.title.replace("\x00", ""),
            "detail": fact.detail.replace("\x00", ""),
            "source": fact.source.model_copy(update={"section": section}),
        }
    )


def _run_one(collector: Collector, ctx: CollectContext) -> tuple[CollectResult, CollectorRun]:
    started = time.perf_counter()
    try:
        result = collector.collect(ctx)
        ok = True
    except CollectorError as exc:
        result = CollectResult(
            gaps=[
                Gap(collector=exc.collector, source=exc.source, reason=exc.message, hint=exc.hint)
            ]
        )
        ok = False
    except Exception as exc:  # a broken plug-in must not take the run down with it
        reason = f"{type(exc).__name__}: {exc}"
        result = CollectResult(gaps=[Gap(collector=collector.name, source="*", reason=reason)])
        ok = False
    run = CollectorRun(
        collector=collector.name,
        seconds=round(time.perf_counter() - started, 3),
        facts=len(result.facts),
        gaps=len(result.gaps),
        ok=ok,
    )
    return result, run


def _merge(facts: list[Fact], config: WorkspaceConfig) -> list[Fact]:
    """Order facts deterministically, keep ids unique, and mask any stray secret."""
    known_entities = {entity.id for entity in config.entities}
    merged: list[Fact] = []
    seen: dict[str, int] = {}
    for fact in sorted(facts, key=lambda f: (f.collector, f.kind, f.id)):
        count = seen.get(fact.id, 0) + 1
        seen[fact.id] = count
        fact_id = fact.id if count == 1 else f"{fact.id}-{count}"
        entity = fact.entity if fact.entity in known_entities else None
        masked = _without_nul(mask_fact(fact))
        merged.append(masked.model_copy(update={"id": fact_id, "entity": entity}))
    return merged
