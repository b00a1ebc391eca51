"""Check a brief against its evidence: every claim cites facts, every number is found.

`check_grounding` reports, in the report's order:

- UNCITED: a finding, KPI or recommendation that cites no fact. A KPI with no value
  (not tracked yet) states nothing and may stand without one.
- UNKNOWN_FACT: a cited id that is not in the bundle, once per id and place.
- UNGROUNDED_NUMBER: an amount, percentage or count in the subject, summary, a
  finding's title, description or impact, a recommendation's action or impact, a
  section's Markdown or a KPI's value that the bundle does not state: not in a fact's
  title, detail or metrics, an entity's name, a gap, nor a count of facts (in all, or
  by severity, kind, kind family, entity or tag; also within the persona's lens when
  the persona is given: "16 high-severity facts", "six security gaps").

Numbers are compared after normalisation (`execbrief.numbers`), by absolute value (a
loss of $1,200 is the ledger's -1200), within the precision the brief wrote them to:
"$7.4K" stands for 7,350-7,450, so 7,412 grounds it, while "$7,400" stands for 7,400
alone; after a hedge ("about $7,400") trailing zeros count as rounding. A KPI value is
read as its shortest decimal, rounded ("7400" is exact to 100). A percentage matches
the same ratio written as a fraction in the evidence (19% and 0.19), and a percentage
KPI may give its value as that fraction.

What is not a claim is not checked: dates, years, times, versions, ordinals (see
`execbrief.numbers`), anything inside code spans, fenced code and link targets (quoted
identifiers and paths), the word "one" (mostly a pronoun: "no one", "the one that"),
planning horizons (7, 14, 30, 45, 60, 90, 120, 180 or 365 followed by day(s) or
week(s): "30-day agenda", "within 90 days"), and labels such as "Phase 2", "Top 3",
"Step 1", "Day 1". A KPI's target is the brief's proposal, not a claim about the
evidence, and is not checked. Any other number must be found: an invented "$12,500"
is always flagged.

`missing_sections` lists the persona's sections that the report leaves out or empty.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator

from execbrief.models import Bundle, Fact, GroundingWarning, Kpi, Persona, Report, WarningKind
from execbrief.numbers import FoundNumber, NumberKind, find_numbers, from_value

__all__ = ["GroundingIndex", "check_grounding", "claims", "missing_sections"]

_HORIZONS = {7, 14, 30, 45, 60, 90, 120, 180, 365}
_HORIZON_UNIT = re.compile(r"^[-\s]?(?:day|days|week|weeks)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"\b(?:top|phase|step|tier|stage|level|priority|option|day|week|sprint|round|wave"
    r"|part|item|no\.|number|p)\s*$",
    re.IGNORECASE,
)
_QUOTED = re.compile(
    r"```.*?```|~~~.*?~~~|`[^`\n]*`|\]\([^)\s]*\)|<https?://[^>\s]*>|https?://\S+",
    re.DOTALL,
)


def _blank_quoted(text: str) -> str:
    """Code and link targets replaced by spaces, so offsets into `text` stay valid."""
    return _QUOTED.sub(lambda match: " " * len(match.group(0)), text)


def _is_structural(number: FoundNumber, text: str) -> bool:
    """A number that organises the brief rather than stating something about the portfolio."""
    if number.kind is not NumberKind.COUNT:
        return False
    if number.in_words and number.value == 1:
        return True
    start, end = number.span
    if number.value in _HORIZONS and _HORIZON_UNIT.match(text[end:]):
        return True
    return bool(_LABEL.search(text[max(0, start - 12) : start]))


def claims(text: str) -> list[FoundNumber]:
    """The numbers in a brief's text that must be found in the evidence."""
    visible = _blank_quoted(text)
    return [number for number in find_numbers(visible) if not _is_structural(number, visible)]


class _Evidence:
    """Every number the bundle states, sorted, so a claim is looked up by range."""

    def __init__(self, values: Iterable[float]) -> None:
        self.values = sorted({abs(value) for value in values})

    def _has(self, target: float, tolerance: float) -> bool:
        index = bisect_left(self.values, target - tolerance)
        return index < len(self.values) and self.values[index] <= target + tolerance

    def holds(self, number: FoundNumber) -> bool:
        target = abs(number.value)
        slack = number.tolerance + 1e-9 * max(1.0, target)
        if self._has(target, slack):
            return True
        return number.kind is NumberKind.PERCENT and self._has(target / 100, slack / 100)


def _bundle_texts(bundle: Bundle) -> Iterator[str]:
    yield bundle.portfolio
    for entity in bundle.entities:
        yield entity.name
        yield from entity.aliases
    for fact in bundle.facts:
        yield fact.title
        yield fact.detail
    for gap in bundle.gaps:
        yield gap.source
        yield gap.reason
        yield gap.hint or ""


def _counts(facts: list[Fact]) -> list[float]:
    """How many facts there are in all, and by severity, kind, kind family, entity, tag."""
    counter: Counter[tuple[str, str | None]] = Counter()
    for fact in facts:
        keys = {
            ("severity", fact.severity.value),
            ("kind", fact.kind),
            ("family", fact.kind.partition(".")[0]),
            ("entity", fact.entity),
            *(("tag", tag) for tag in fact.tags),
        }
        counter.update(keys)
    return [len(facts), *counter.values()]


def _bundle_values(bundle: Bundle) -> list[float]:
    values = [value for fact in bundle.facts for value in fact.metrics.values()]
    for text in _bundle_texts(bundle):
        values.extend(number.value for number in find_numbers(text))
    return [*values, *_counts(bundle.facts), len(bundle.gaps)]


class GroundingIndex:
    """A bundle's numbers and ids, read once, to check any number of reports against."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.known = set(bundle.fact_index())
        self.values = _bundle_values(bundle)

    def evidence(self, persona: Persona | None) -> _Evidence:
        if persona is None:
            return _Evidence(self.values)
        lens = [fact for fact in self.bundle.facts if persona.evidence.matches(fact)]
        return _Evidence([*self.values, *_counts(lens)])

    def check(self, report: Report, persona: Persona | None = None) -> list[GroundingWarning]:
        """Every citation, and every number the report states, checked against the bundle
        (and the counts of the persona's lens, when it is given)."""
        known = self.known
        evidence = self.evidence(persona)

        def numbers(where: str, text: str) -> list[GroundingWarning]:
            return _ungrounded(where, claims(text), evidence)

        warnings = numbers("subject", report.subject) + numbers("summary", report.summary)
        for i, finding in enumerate(report.findings):
            warnings += _citations(f"findings[{i}].evidence", finding.evidence, known)
            warnings += numbers(f"findings[{i}].title", finding.title)
            warnings += numbers(f"findings[{i}].description", finding.description)
            warnings += numbers(f"findings[{i}].impact", finding.impact)
        for i, kpi in enumerate(report.kpis):
            if kpi.value is not None or kpi.evidence:
                warnings += _citations(f"kpis[{i}].evidence", kpi.evidence, known)
            if kpi.value is not None:
                warnings += _kpi_value(f"kpis[{i}].value", kpi, evidence)
        for i, recommendation in enumerate(report.recommendations):
            warnings += _citations(f"recommendations[{i}].evidence", recommendation.evidence, known)
            warnings += numbers(f"recommendations[{i}].action", recommendation.action)
            warnings += numbers(f"recommendations[{i}].impact", recommendation.impact)
        for i, section in enumerate(report.sections):
            warnings += numbers(f"sections[{i}].markdown", section.markdown)
        return warnings


def _kpi_kind(unit: str) -> NumberKind:
    lowered = unit.lower()
    if "%" in lowered or "percent" in lowered or "pct" in lowered:
        return NumberKind.PERCENT
    if "$" in lowered or "usd" in lowered:
        return NumberKind.MONEY
    return NumberKind.COUNT


def _kpi_value(where: str, kpi: Kpi, evidence: _Evidence) -> list[GroundingWarning]:
    """A KPI's value; a percentage KPI may give its ratio as a fraction (0.19 for 19%)."""
    assert kpi.value is not None
    stated = from_value(kpi.value, _kpi_kind(kpi.unit))
    if stated.kind is NumberKind.PERCENT and abs(kpi.value) <= 1:
        as_percent = from_value(kpi.value * 100, NumberKind.PERCENT)
        if evidence.holds(as_percent):
            return []
    return _ungrounded(where, [stated], evidence)


def _citations(where: str, evidence: list[str], known: set[str]) -> list[GroundingWarning]:
    if not evidence:
        return [GroundingWarning(kind=WarningKind.UNCITED, where=where, detail="cites no fact")]
    return [
        GroundingWarning(
            kind=WarningKind.UNKNOWN_FACT,
            where=where,
            detail=f"cites {fact_id!r}, which is not in the bundle",
        )
        for fact_id in dict.fromkeys(evidence)
        if fact_id not in known
    ]


def _ungrounded(
    where: str, numbers: list[FoundNumber], evidence: _Evidence
) -> list[GroundingWarning]:
    warnings: dict[str, GroundingWarning] = {}
    for number in numbers:
        if number.text in warnings or evidence.holds(number):
            continue
        warnings[number.text] = GroundingWarning(
            kind=WarningKind.UNGROUNDED_NUMBER,
            where=where,
            detail=f"{number.text!r} ({number.value:g}, {number.kind.value}) is not stated "
            "by any fact in the bundle",
            text=number.text,
        )
    return list(warnings.values())


def check_grounding(
    report: Report, bundle: Bundle, persona: Persona | None = None
) -> list[GroundingWarning]:
    """One report checked against a bundle; see `GroundingIndex` to check many."""
    return GroundingIndex(bundle).check(report, persona)


def missing_sections(report: Report, persona: Persona) -> list[GroundingWarning]:
    """The persona's required sections that the report leaves out or leaves empty."""
    written = {section.id for section in report.sections if section.markdown.strip()}
    return [
        GroundingWarning(
            kind=WarningKind.MISSING_SECTION,
            where=f"sections.{section.id}",
            detail=f"the {section.title!r} section is missing or empty",
        )
        for section in persona.sections
        if section.id not in written
    ]
