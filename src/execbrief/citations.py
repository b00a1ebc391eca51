"""Citations a reader can follow: the fact ids a report cites, as numbered endnotes.

Numbers follow the report's own order (findings, KPIs, recommendations), the same in
every format, so `[2]` in the HTML, the text part and the Markdown draft is one fact:
its title and full source (repository:path:line, resource, or note § section).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from execbrief.models import Fact, Report


@dataclass(frozen=True)
class Endnote:
    """One cited fact, as the reader of a brief sees it."""

    number: int
    fact_id: str
    title: str
    source: str
    known: bool


def full_source(fact: Fact) -> str:
    """Where the fact was seen, with its container: the code audit records a file's
    repository as the resource, so `repo:path:line` says which repository."""
    source = fact.source
    if source.path and source.resource:
        where = f"{source.resource}:{source.path}" + (f":{source.line}" if source.line else "")
        return f"{where} § {source.section}" if source.section else where
    return source.label()


def _cited_ids(report: Report) -> Iterable[str]:
    for finding in report.findings:
        yield from finding.evidence
    for kpi in report.kpis:
        yield from kpi.evidence
    for recommendation in report.recommendations:
        yield from recommendation.evidence


class Citations:
    """The endnotes of one report, and `cite` to write a reference to them."""

    def __init__(self, report: Report, facts: Mapping[str, Fact]) -> None:
        self.notes: list[Endnote] = []
        self.numbers: dict[str, int] = {}
        for fact_id in dict.fromkeys(_cited_ids(report)):
            number = len(self.notes) + 1
            self.numbers[fact_id] = number
            fact = facts.get(fact_id)
            self.notes.append(
                Endnote(number, fact_id, fact.title, full_source(fact), True)
                if fact is not None
                else Endnote(number, fact_id, "not in this run's evidence", "", False)
            )

    def cite(self, ids: list[str]) -> str:
        """`[1, 3]` for these fact ids, `[uncited]` for none."""
        numbers = sorted({self.numbers[i] for i in ids if i in self.numbers})
        return "[" + ", ".join(str(n) for n in numbers) + "]" if numbers else "[uncited]"
