"""Compare two runs' evidence: which facts are new, resolved or changed since the last brief."""

from __future__ import annotations

from execbrief.models import Bundle, BundleDiff, ChangeKind, EvidenceSelector, Fact, FactChange

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
