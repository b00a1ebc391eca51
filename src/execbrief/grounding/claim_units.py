"""Where a brief's claims stand: its places cut into sentences, list items and table rows,
each with the fact ids written nearest it.

A table row is read with its column headers ("Net burn / month: $2,365;"), a list item
with its continuation lines, a paragraph sentence by sentence; fenced code is read line
by line. Ids are the nearest citations: those in the unit, else in its paragraph, list
or table, else in its section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from execbrief.models import Report

__all__ = ["IDS", "Claim", "ids_in", "prose_claims", "report_citations", "section_claims"]

IDS = re.compile(r"\b[a-z]{1,3}_[0-9a-f]{8,}\b")


@dataclass(frozen=True)
class Claim:
    """One sentence, list item or table row, and the ids nearest it."""

    where: str
    text: str
    nearest: tuple[str, ...]
    fallback: bool  # what `nearest` does not ground may be found in the persona's citations


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_`(\[\"'$0-9])")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")


def _sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _blocks(markdown: str) -> Iterator[list[str]]:
    """Paragraphs, lists, tables and fenced code: runs of lines that belong together."""
    block: list[str] = []
    fenced = False
    for line in markdown.splitlines():
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not line.strip() and not fenced:
            if block:
                yield block
            block = []
            continue
        block.append(line)
    if block:
        yield block


def _units(block: list[str]) -> list[str]:
    """A table's rows with their headers ("Burn: $2,365"), a list's items, a paragraph's
    sentences."""
    if len(block) >= 2 and block[0].lstrip().startswith("|") and _TABLE_RULE.match(block[1]):
        headers = _cells(block[0])
        rows = [_cells(row) for row in block[2:]]
        units = [block[0]]
        for cells in rows:
            pairs = [
                f"{header}: {cell}" if header else cell
                for header, cell in zip(headers, cells, strict=False)
            ]
            units.append("; ".join(pairs) + ";")
        return units
    if any(re.match(r"^\s*(?:[-*+]|\d+[.)])\s", line) for line in block):
        items: list[str] = []
        for line in block:
            if re.match(r"^\s*(?:[-*+]|\d+[.)])\s", line) or not items:
                items.append(line)
            else:
                items[-1] += " " + line.strip()
        return [sentence for item in items for sentence in _sentences(item)]
    return _sentences(" ".join(line.strip() for line in block))


def ids_in(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(IDS.findall(text)))


def section_claims(where: str, markdown: str) -> list[Claim]:
    section_ids = ids_in(markdown)
    found = []
    for block in _blocks(markdown):
        block_ids = ids_in("\n".join(block))
        for unit in _units(block):
            nearest = ids_in(unit) or block_ids or section_ids
            found.append(Claim(where, unit, nearest, fallback=True))
    return found


def prose_claims(where: str, text: str, cited: Iterable[str], fallback: bool) -> list[Claim]:
    cited = tuple(cited)
    return [
        Claim(where, sentence, ids_in(sentence) or cited, fallback)
        for block in _blocks(text)
        for sentence in _units(block)
    ]


def report_citations(report: Report) -> tuple[str, ...]:
    """Every id the report cites or writes: the persona's cited facts."""
    ids: list[str] = []
    for finding in report.findings:
        ids += finding.evidence
    for kpi in report.kpis:
        ids += kpi.evidence
    for rec in report.recommendations:
        ids += rec.evidence
    ids += ids_in(report.summary)
    for section in report.sections:
        ids += ids_in(section.markdown)
    return tuple(dict.fromkeys(ids))
