"""The collection's bounds (`limits:` in execbrief.yaml) applied to what collectors return:
at most so many facts per source, a bundle of at most so many bytes. What is left out is
counted in a gap, so a brief knows the evidence was cut and where."""

from __future__ import annotations

from collections import defaultdict

from execbrief.config import Limits
from execbrief.models import Fact, Gap

COLLECTOR = "bundle"


def _source_key(fact: Fact) -> str:
    source = fact.source
    return source.path or source.resource or source.section or ""


def _worst_first(facts: list[Fact]) -> list[Fact]:
    """Most severe first; equal severities keep the collector's order."""
    return sorted(facts, key=lambda fact: fact.severity.rank)


def cap_facts(facts: list[Fact], limits: Limits) -> tuple[list[Fact], list[Gap]]:
    """At most `facts_per_source` facts per (collector, source), the most severe kept, and
    then at most `bundle_bytes` of facts in all, the least severe left out first."""
    groups: dict[tuple[str, str], list[Fact]] = defaultdict(list)
    for fact in facts:
        groups[(fact.collector, _source_key(fact))].append(fact)
    kept: list[Fact] = []
    gaps: list[Gap] = []
    for (collector, source), group in groups.items():
        if len(group) <= limits.facts_per_source:
            kept += group
            continue
        kept += _worst_first(group)[: limits.facts_per_source]
        gaps.append(
            Gap(
                collector=collector,
                source=source or collector,
                reason=f"{len(group) - limits.facts_per_source:,} of {len(group):,} facts from "
                f"this source left out (limits.facts_per_source is {limits.facts_per_source:,}); "
                "the least severe went first",
                hint="raise limits.facts_per_source in execbrief.yaml, or split the source",
            )
        )
    return _fit_bundle(kept, limits.bundle_bytes, gaps)


def _fit_bundle(facts: list[Fact], budget: int, gaps: list[Gap]) -> tuple[list[Fact], list[Gap]]:
    sizes = {id(fact): len(fact.model_dump_json()) for fact in facts}
    if sum(sizes.values()) <= budget:
        return facts, gaps
    kept_ids: set[int] = set()
    used = 0
    for fact in _worst_first(facts):
        if used + sizes[id(fact)] > budget:
            break
        kept_ids.add(id(fact))
        used += sizes[id(fact)]
    left_out = len(facts) - len(kept_ids)
    gaps.append(
        Gap(
            collector=COLLECTOR,
            source="bundle.json",
            reason=f"{left_out:,} of {len(facts):,} facts left out to keep the bundle under "
            f"limits.bundle_bytes ({budget:,} bytes); the least severe went first",
            hint="raise limits.bundle_bytes in execbrief.yaml, or narrow sources",
        )
    )
    return [fact for fact in facts if id(fact) in kept_ids], gaps
