"""Compare two runs' evidence: which facts are new, resolved, changed or moved since the
last brief.

Facts match by id, which depends on what a fact is about and not on where it sits
(Fact.make_id), so an edit above a fact in a note moves it rather than replacing it, and a
key removed from code but left in git history is the same key, changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from execbrief.models import (
    Bundle,
    BundleDiff,
    ChangeKind,
    EvidenceSelector,
    Fact,
    FactChange,
    Source,
)

# A brief lists at most this many changes; the rest are summarised by count.
SINCE_CAP = 20

# Compared in this order; `kind` covers a secret going from code to history only.
_COMPARED = ("kind", "severity", "entity", "title", "detail", "metrics", "tags")
_LOCATION = ("path", "line", "resource", "section")


def _change(
    fact: Fact,
    change: ChangeKind,
    fields: list[str] | None = None,
    details: list[str] | None = None,
) -> FactChange:
    return FactChange(
        id=fact.id,
        change=change,
        kind=fact.kind,
        entity=fact.entity,
        severity=fact.severity,
        title=fact.title,
        tags=fact.tags,
        fields=fields or [],
        details=details or [],
    )


def _metric_details(old: dict[str, float], new: dict[str, float]) -> list[str]:
    return [
        f"metrics.{name}: {old.get(name, 'none')} -> {new.get(name, 'none')}"
        for name in sorted(old.keys() | new.keys())
        if old.get(name) != new.get(name)
    ]


def _location_details(old: Source, new: Source) -> list[str]:
    return [
        f"source.{name}: {getattr(old, name)} -> {getattr(new, name)}"
        for name in _LOCATION
        if getattr(old, name) != getattr(new, name)
    ]


def _compare(old: Fact, new: Fact) -> FactChange | None:
    fields = [name for name in _COMPARED if getattr(old, name) != getattr(new, name)]
    details: list[str] = []
    for name in fields:
        if name == "metrics":
            details += _metric_details(old.metrics, new.metrics)
        elif name in ("kind", "severity", "entity"):
            details.append(f"{name}: {getattr(old, name)} -> {getattr(new, name)}")
    location = _location_details(old.source, new.source)
    if fields:
        return _change(
            new, ChangeKind.CHANGED, fields + (["source"] if location else []), details + location
        )
    if location:
        return _change(new, ChangeKind.MOVED, ["source"], location)
    return None


def _observed(bundle: Bundle) -> dict[str, Fact]:
    # Derived facts follow their inputs (a rank shifts when a blocker is added); the
    # evidence's own changes are the news, so analysis.* facts are left out.
    return {i: f for i, f in bundle.fact_index().items() if not f.kind.startswith("analysis.")}


def diff_bundles(base: Bundle, head: Bundle, base_run: str, head_run: str) -> BundleDiff:
    """Facts matched by their stable id; `resolved` only when the head has no fact with it."""
    before, after = _observed(base), _observed(head)
    changes = [_change(f, ChangeKind.NEW) for i, f in after.items() if i not in before]
    changes += [_change(f, ChangeKind.RESOLVED) for i, f in before.items() if i not in after]
    for fact_id in before.keys() & after.keys():
        if (change := _compare(before[fact_id], after[fact_id])) is not None:
            changes.append(change)
    changes.sort(key=lambda c: (list(ChangeKind).index(c.change), c.severity.rank, c.kind, c.id))
    return BundleDiff(base_run=base_run, head_run=head_run, changes=changes)


def changes_in_lens(diff: BundleDiff, lens: EvidenceSelector) -> list[FactChange]:
    """The changes a persona's lens would have selected; a fact that only moved is not news."""
    return [
        change
        for change in diff.changes
        if change.change is not ChangeKind.MOVED
        and lens.selects(change.kind, change.severity, change.entity, change.tags)
    ]


@dataclass(frozen=True)
class LensChanges:
    """What a brief says under "since the last brief": the worst changes, and counts."""

    shown: list[FactChange]
    total: int
    counts: dict[ChangeKind, int]

    @property
    def more(self) -> int:
        return self.total - len(self.shown)

    def summary(self) -> str:
        """e.g. `12 new, 3 resolved, 1 changed`."""
        return ", ".join(f"{n:,} {kind.value}" for kind, n in self.counts.items() if n)


def summarise_changes(changes: list[FactChange], cap: int = SINCE_CAP) -> LensChanges:
    """The `cap` most severe changes (in their listed order) and the count of each kind."""
    kinds = list(ChangeKind)
    worst = sorted(
        range(len(changes)),
        key=lambda i: (changes[i].severity.rank, kinds.index(changes[i].change), i),
    )[:cap]
    counts = {kind: sum(c.change is kind for c in changes) for kind in kinds}
    return LensChanges([changes[i] for i in sorted(worst)], len(changes), counts)
