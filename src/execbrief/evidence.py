"""The evidence budget: which facts (and gaps) the shared prompt prefix carries.

Every persona's lens is guaranteed a share of the budget for its own most important
facts, so a bundle dominated by one lens (hundreds of security findings) cannot crowd
another lens (the CFO's finance facts) out of view; what is left is filled by the
global ranking (severity, then how many lenses want a fact, then recency). Everything
stays in the one cached prefix, so the guarantee costs no extra billed input.

The budget counts everything the prefix sends: the system text, the entities, the gaps
and the template's own words, not only the fact lines. Gaps past their share are
summarised by count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from execbrief.llm.pricing import estimate_tokens
from execbrief.models import Bundle, Fact, Gap, Persona

# Half the fact budget is split between the lenses; the other half goes by global rank.
LENS_SHARE = 0.5
# Gaps may take at most this share of the budget; the rest are counted, not listed.
GAP_SHARE = 0.1


def fact_line(fact: Fact) -> str:
    """One fact as the model reads it: a JSON object on one line."""
    record = {
        "id": fact.id,
        "entity": fact.entity,
        "kind": fact.kind,
        "severity": fact.severity.value,
        "title": fact.title,
        "detail": fact.detail,
        "source": fact.source.label(),
        "metrics": fact.metrics,
        "tags": fact.tags,
    }
    # "</" cannot appear inside the JSON, so evidence text cannot close the <evidence> tag.
    return json.dumps(record, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")


def _line_cost(line: str) -> int:
    return estimate_tokens(line) + 1


@dataclass(frozen=True)
class EvidenceChoice:
    """The facts and gaps the prefix carries, in prompt order, and what was left out."""

    lines: list[str]
    included: frozenset[str]
    omitted: int
    gaps: list[Gap]
    omitted_gaps: int


def rank_facts(bundle: Bundle, personas: list[Persona]) -> list[Fact]:
    """Worst first; among equals, facts more lenses want, then the newest."""
    demand = {f.id: sum(1 for p in personas if p.evidence.matches(f)) for f in bundle.facts}
    return sorted(
        bundle.facts,
        key=lambda f: (
            f.severity.rank,
            -demand[f.id],
            -(f.observed_at.timestamp() if f.observed_at else 0),
            f.id,
        ),
    )


def choose_gaps(gaps: list[Gap], budget_tokens: int, render: Callable[[Gap], str]) -> list[Gap]:
    """The gaps that fit their share of the budget, in bundle order."""
    kept: list[Gap] = []
    used = 0
    for gap in gaps:
        cost = _line_cost(render(gap))
        if used + cost > budget_tokens:
            break
        kept.append(gap)
        used += cost
    return kept


def choose_facts(
    ranked: list[Fact], personas: list[Persona], fact_budget: int
) -> tuple[list[str], frozenset[str]]:
    """Fact lines within `fact_budget` tokens: each lens's guaranteed share first, then
    the global rank; returned in rank order so the prefix is the same for every persona."""
    lines = {f.id: fact_line(f) for f in ranked}
    cost = {fid: _line_cost(line) for fid, line in lines.items()}
    chosen: set[str] = set()
    used = 0
    lenses = [[f for f in ranked if p.evidence.matches(f)] for p in personas]
    lenses = [lens for lens in lenses if lens]
    quota = int(fact_budget * LENS_SHARE / len(lenses)) if lenses else 0
    for lens in lenses:
        spent = 0
        for fact in lens:
            if fact.id in chosen:
                continue  # already in view, paid for by another lens
            price = cost[fact.id]
            # the lens's top fact goes in even past its quota, while the budget has room
            if (spent and spent + price > quota) or used + price > fact_budget:
                break
            chosen.add(fact.id)
            spent += price
            used += price
    for fact in ranked:
        if fact.id in chosen:
            continue
        if used + cost[fact.id] > fact_budget:
            break
        chosen.add(fact.id)
        used += cost[fact.id]
    return [lines[f.id] for f in ranked if f.id in chosen], frozenset(chosen)
