"""Compare two runs' evidence: which facts are new, resolved or changed since the last brief."""

from __future__ import annotations

from dataclasses import dataclass

from execbrief.models import Bundle, BundleDiff, ChangeKind, EvidenceSelector, Fact, FactChange

# A brief lists at most this many changes; the rest are summarised by count.
SINCE_CAP = 20

_COMPARED = ("severity", "title", "detail", "metrics", "entity", "tags")


def _change(fact: Fact, change: ChangeKind, fields: list[str] | None = None) -> FactChange:
    return FactChange(
        id=fact.id,
        change=change,
        kind=fact.kind,
        entity=fact.entity,
        severity=fact.severity,
        title=fact.title,
        tags=fact.tags,
        fields=fields or [],
    )


def diff_bundles(base: Bundle, head: Bundle, base_run: str, head_run: str) -> BundleDiff:
    """Facts are matched by their stable id; a fact whose content moved is `changed`."""
    before, after = base.fact_index(), head.fact_index()
    changes = [_change(f, ChangeKind.NEW) for i, f in after.items() if i not in before]
    changes += [_change(f, ChangeKind.RESOLVED) for i, f in before.items() if i not in after]
    for fact_id in before.keys() & after.keys():
        old, new = before[fact_id], after[fact_id]
        moved = [name for name in _COMPARED if getattr(old, name) != getattr(new, name)]
        if moved:
            changes.append(_change(new, ChangeKind.CHANGED, moved))
    changes.sort(key=lambda c: (list(ChangeKind).index(c.change), c.severity.rank, c.kind, c.id))
    return BundleDiff(base_run=base_run, head_run=head_run, changes=changes)


def changes_in_lens(diff: BundleDiff, lens: EvidenceSelector) -> list[FactChange]:
    """The changes a persona's lens would have selected."""
    return [
        change
        for change in diff.changes
        if lens.selects(change.kind, change.severity, change.entity, change.tags)
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
