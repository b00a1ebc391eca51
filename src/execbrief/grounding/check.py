"""Check a brief against its evidence: every claim is read against the facts it cites.

`check_grounding` (or `GroundingIndex.check`, to check many reports against one bundle)
reads every place of a report: the subject, the summary, each section's Markdown (tables,
lists, code spans and fenced code included), each finding's title, description and
impact, each KPI's name, value and target, each recommendation's action and impact. Each
place is cut into claims (a sentence, a list item, a table row with its headers) and each
claim is read against the facts it cites:

- a finding, KPI or recommendation cites its own evidence;
- a sentence of the summary or a section cites the fact ids written nearest it (in the
  sentence, else its paragraph, list or table, else its section); what those do not
  ground must be found in the persona's cited facts (every id the report cites);
- the subject is read against the persona's cited facts.

Warnings, in the report's order (`WarningKind`):

- UNCITED: a finding, KPI or recommendation that cites no fact (a KPI with no value, not
  tracked yet, may stand without one). UNKNOWN_FACT: a cited or written id not in the bundle.
- UNGROUNDED_NUMBER: a number no fact of the bundle states.
- OTHER_FACT: a number the cited facts do not state but another fact does; the warning
  names that fact ("43.8% is f_... QuickDumpNow: gross margin 43.8%").
- UNIT_MISMATCH / PERIOD_MISMATCH: the number is a cited value in another unit ("$43.8"
  for 43.8 %) or over another period ("$7K a week" for $7,412/month); a period the claim
  converts correctly ($2,850/month written as $34,200 a year) is grounded.
- SIGN_MISMATCH: the cited value runs the other way ("net burn of $1,063" where the fact
  is a net inflow of 1,063.55; "-$180" for +180).
- CONTRADICTION: the claim asserts the opposite of a condition a cited fact states
  ("sits behind a WAF" where the fact says no WAF; see `polarity`).
- DERIVATION: written arithmetic that does not hold, or an operand of it the cited facts
  do not state (see `derivations`).

How numbers are read is `execbrief.numbers`; what a fact states is `fact_values`.
A number matches within the precision written ("$7.2K" is 7,150-7,250); "$7K" is read
that loosely only after a hedge ("about", "~"), else it means 7,000 within 1 %. A
percentage matches the same ratio stored as a fraction (19 % and 0.19). Named
derivations (a total, an average, a difference, a ratio or share, a change) of the
cited values ground a number whose words name them.

What is not a claim is not checked: dates, years, times, versions, ordinals, digits glued
to identifiers, link targets, entity names ("3028 51st St"), the word "one", planning
horizons (7, 14, 30, 45, 60, 90, 120, 180 or 365 followed by day(s) or week(s)), and
labels such as "Phase 2", "Top 3", "Step 1". Counts of the cited facts (in all, by
severity, kind, kind family, entity, tag) and of the persona's lens (in all and by
severity) are evidence: "five unauthenticated endpoints", "16 high-severity facts".

`missing_sections` lists the persona's sections that the report leaves out or empty.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from execbrief.grounding.claim_units import (
    IDS,
    Claim,
    ids_in,
    prose_claims,
    report_citations,
    section_claims,
)
from execbrief.grounding.derivations import find_arithmetic, named_derivation
from execbrief.grounding.fact_values import Direction, Stated, direction_near, stated_values
from execbrief.grounding.number_match import (
    AT_LEAST,
    AT_MOST,
    POINTS,
    WEEKS_OR_YEARS,
    candidates,
    named_metrics,
    names_metric,
    precision_slack,
    unit_fits,
)
from execbrief.grounding.polarity import contradictions
from execbrief.models import (
    Bundle,
    Fact,
    GroundingWarning,
    Kpi,
    MetricPeriod,
    MetricUnit,
    Persona,
    Report,
    WarningKind,
)
from execbrief.numbers import FoundNumber, NumberKind, find_numbers, format_number, from_value

__all__ = ["GroundingIndex", "check_grounding", "claims", "missing_sections"]

_HORIZONS = {7, 14, 30, 45, 60, 90, 120, 180, 365}
_HORIZON_UNIT = re.compile(r"^[-\s]?(?:day|days|week|weeks)\b", re.IGNORECASE)
# "in the last 24 hours", "within 48h": a window, like a planning horizon
_HOUR_WINDOWS = {1, 12, 24, 48, 72}
_HOURS = re.compile(r"^[-\s]?(?:h|hrs?|hours?)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"\b(?:top|phase|step|tier|stage|level|priority|option|day|week|sprint|round|wave"
    r"|part|item|no\.|number|p)\s*$",
    re.IGNORECASE,
)
# "the two repairs", "the first three years": which ones, not how many there are
_DETERMINER = re.compile(r"\b(?:the|first|last|these|those|next|both|all)\s+$", re.IGNORECASE)
_LINKS = re.compile(r"\]\([^)\s]*\)|<https?://[^>\s]*>|https?://\S+")
_TIMES_GLUED = re.compile(r"(?<=[\s(])[x×](?=\d)")
_PER_YEAR = {
    MetricPeriod.DAY: 365.0,
    MetricPeriod.WEEK: 52.0,
    MetricPeriod.MONTH: 12.0,
    MetricPeriod.QUARTER: 4.0,
    MetricPeriod.YEAR: 1.0,
}


def _blank(pattern: re.Pattern[str], text: str) -> str:
    """Matches replaced by spaces, so offsets into `text` stay valid."""
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _is_structural(number: FoundNumber, text: str) -> bool:
    """A number that organises the brief rather than stating something about the portfolio."""
    if number.kind is not NumberKind.COUNT:
        return False
    if number.in_words and number.value == 1:
        return True
    if number.in_words and number.value <= 10 and _DETERMINER.search(text[: number.span[0]]):
        return True
    start, end = number.span
    if number.value in _HORIZONS and _HORIZON_UNIT.match(text[end:]):
        return True
    if number.value in _HOUR_WINDOWS and _HOURS.match(text[end:]):
        return True
    return bool(_LABEL.search(text[max(0, start - 12) : start]))


def claims(text: str) -> list[FoundNumber]:
    """The numbers in a brief's text that must be found in the evidence."""
    visible = _TIMES_GLUED.sub("×", _blank(_LINKS, text))
    return [number for number in find_numbers(visible) if not _is_structural(number, visible)]


# --- what the evidence states ---------------------------------------------------------


def _counts(facts: list[Fact], *, detailed: bool) -> list[Stated]:
    """How many facts there are in all and by severity; with `detailed`, also by kind,
    kind family, entity and tag."""
    counter: Counter[tuple[str, str | None]] = Counter()
    for fact in facts:
        keys: set[tuple[str, str | None]] = {("severity", fact.severity.value)}
        if detailed:
            keys |= {
                ("kind", fact.kind),
                ("family", fact.kind.partition(".")[0]),
                ("entity", fact.entity),
                *(("tag", tag) for tag in fact.tags),
            }
        counter.update(keys)
    counts = [(len(facts), "facts")] + [(n, f"facts with {a} {b}") for (a, b), n in counter.items()]
    return [Stated(float(n), MetricUnit.COUNT, None, None, None, what) for n, what in counts]


_FINDINGS = re.compile(r"^(?:findings?|issues?|risks?|items?|facts?|problems?|gaps?|concerns?)$")


def _names_lens_count(number: FoundNumber, clause: str, count: Stated) -> bool:
    """A count of the persona's lens grounds "22 findings", "14 high-severity findings" or
    "(2 high, 28 low)", not "14 unauthenticated endpoints": the words after the number
    must name the severity the count is of, or findings for the count of them all."""
    words = re.findall(r"[a-z]+", clause[number.span[1] :].lower())[:3]
    severity = count.source.removeprefix("facts with severity ")
    if severity != count.source:
        return severity in words
    return any(_FINDINGS.match(word) for word in words)


@dataclass(frozen=True)
class _Verdict:
    kind: WarningKind | None  # None: grounded
    detail: str = ""
    expected: str | None = None
    facts: tuple[str, ...] = ()


_GROUNDED = _Verdict(None)


def _fact_label(fact: Fact | None, stated: Stated) -> str:
    if fact is None:
        return stated.source
    return f"{fact.id} ({fact.title})"


class GroundingIndex:
    """A bundle's facts, their values and ids, read once, to check any number of reports."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.facts = bundle.fact_index()
        self.values = {fact.id: stated_values(fact) for fact in bundle.facts}
        everything = [value for values in self.values.values() for value in values]
        everything.sort(key=lambda value: value.magnitude)
        self._sorted = everything
        self._magnitudes = [value.magnitude for value in everything]
        names = [bundle.portfolio]
        self._entity_names: dict[str | None, list[str]] = {None: [bundle.portfolio, "portfolio"]}
        for entity in bundle.entities:
            self._entity_names[entity.id] = [entity.name, *entity.aliases]
            names += [entity.name, *entity.aliases]
        names = sorted({name for name in names if any(c.isdigit() for c in name)}, key=len)
        self._names = (
            re.compile("|".join(re.escape(n) for n in reversed(names)), re.IGNORECASE)
            if names
            else None
        )
        self._lenses: dict[str, list[Stated]] = {}
        self._gaps = [Stated(float(len(bundle.gaps)), MetricUnit.COUNT, None, None, None, "gaps")]

    # -- reading a claim ----------------------------------------------------------------

    def _visible(self, text: str) -> str:
        text = _blank(_LINKS, text)
        text = _blank(IDS, text)
        if self._names is not None:
            text = _blank(self._names, text)
        return _TIMES_GLUED.sub("×", text)

    def _names_of(self, fact: Fact) -> list[str]:
        return self._entity_names.get(fact.entity, [])

    def _cited_values(self, ids: Iterable[str], extra: list[Stated]) -> list[Stated]:
        facts = [self.facts[i] for i in ids if i in self.facts]
        values = [value for fact in facts for value in self.values[fact.id]]
        return values + _counts(facts, detailed=True) + extra

    def _elsewhere(self, number: FoundNumber, cited: set[str]) -> Stated | None:
        targets = [abs(number.value)]
        if number.unit is MetricUnit.PERCENT:
            targets.append(abs(number.value) / 100)
        for target in targets:
            slack = precision_slack(number) * (1 if target == abs(number.value) else 0.01)
            lo = bisect_left(self._magnitudes, target - slack)
            hi = bisect_right(self._magnitudes, target + slack)
            for value in self._sorted[lo:hi]:
                if value.fact_id in cited or value.fact_id is None:
                    continue
                as_percent = target != abs(number.value)
                if as_percent and value.unit not in (None, MetricUnit.RATIO, MetricUnit.COUNT):
                    continue
                if as_percent or unit_fits(number.unit, value.unit):
                    return value
        return None

    def _judge(
        self, number: FoundNumber, clause: str, values: list[Stated]
    ) -> tuple[_Verdict, list[_Verdict]]:
        """Grounded or not against these values; the near misses, best first."""
        named = named_metrics(number, clause, values)
        if named:
            # a fact that counts the thing by name is read by that count alone
            counting = {value.fact_id for value in named}
            rest = [value for value in values if value.fact_id not in counting]
            verdict, misses = self._judge_values(number, clause, named + rest)
            if verdict.kind is None:
                return verdict, misses
            shown = ", ".join(f"{v.source} = {v.value:g} ({v.fact_id})" for v in named[:3])
            return verdict, misses or [
                _Verdict(
                    WarningKind.UNGROUNDED_NUMBER,
                    f"{number.text!r} counts what the cited facts count otherwise: {shown}",
                    format_number(named[0].value),
                    tuple(dict.fromkeys(v.fact_id for v in named if v.fact_id)),
                )
            ]
        return self._judge_values(number, clause, values)

    def _judge_values(
        self, number: FoundNumber, clause: str, values: list[Stated]
    ) -> tuple[_Verdict, list[_Verdict]]:
        slack = precision_slack(number)
        target = abs(number.value)
        claimed_direction = direction_near(clause, *number.span)
        before = clause[max(0, number.span[0] - 24) : number.span[0]]
        at_most, at_least = bool(AT_MOST.search(before)), bool(AT_LEAST.search(before))
        bare_noun = number.unit is MetricUnit.COUNT and not POINTS.match(clause[number.span[1] :])
        weeks_or_years = WEEKS_OR_YEARS.match(clause[number.span[1] :])
        duration = weeks_or_years[1].lower() if weeks_or_years and number.period is None else None
        misses: list[_Verdict] = []
        for stated in values:
            for magnitude, unit in candidates(number, stated, duration):
                converted = magnitude
                period_clash = False
                if number.period is not None and stated.period is not None:
                    if stated.period is MetricPeriod.NONE:
                        period_clash = number.period is not MetricPeriod.NONE
                    elif number.period is not stated.period and number.period in _PER_YEAR:
                        converted = magnitude * _PER_YEAR[stated.period] / _PER_YEAR[number.period]
                hit = abs(converted - target) <= slack and not period_clash
                if (at_most and converted > target + 1e-9) or (
                    at_least and converted < target - 1e-9
                ):
                    hit = False
                    if abs(magnitude - target) <= slack:
                        continue
                if not hit and abs(magnitude - target) > slack:
                    continue
                fact = self.facts.get(stated.fact_id or "")
                shown = format_number(stated.value, unit or MetricUnit.COUNT, stated.period)
                if not unit_fits(number.unit, unit, bare_noun):
                    misses.append(
                        _Verdict(
                            WarningKind.UNIT_MISMATCH,
                            f"{_fact_label(fact, stated)} states it as {shown} "
                            f"({stated.source}), not in {number.unit.value}",
                            shown,
                            (stated.fact_id,) if stated.fact_id else (),
                        )
                    )
                    continue
                if not hit:
                    per = (number.period.value if number.period else "") or "one-off"
                    misses.append(
                        _Verdict(
                            WarningKind.PERIOD_MISMATCH,
                            f"{_fact_label(fact, stated)} states {shown} ({stated.source}); "
                            f"the claim gives it per {per}",
                            shown,
                            (stated.fact_id,) if stated.fact_id else (),
                        )
                    )
                    continue
                clash = self._sign_clash(number, clause, claimed_direction, stated)
                if clash:
                    misses.insert(
                        0,
                        _Verdict(
                            WarningKind.SIGN_MISMATCH,
                            f"{_fact_label(fact, stated)} states {clash} ({stated.source} "
                            f"{stated.value:g})",
                            clash,
                            (stated.fact_id,) if stated.fact_id else (),
                        ),
                    )
                    continue
                return _GROUNDED, []
        return _Verdict(WarningKind.UNGROUNDED_NUMBER), misses

    @staticmethod
    def _sign_clash(
        number: FoundNumber, clause: str, claimed: Direction | None, stated: Stated
    ) -> str | None:
        if number.value < 0 and names_metric(number, clause, stated):
            # "Net burn / month: -1,063.55" is the signed metric itself: signs must agree
            if stated.value < 0:
                return None
            claimed = Direction.IN if stated.direction is Direction.OUT else Direction.OUT
        if claimed is not None and stated.direction is not None and claimed is not stated.direction:
            amount = format_number(stated.magnitude, stated.unit or MetricUnit.COUNT)
            return (
                "a net inflow of " if stated.direction is Direction.IN else "a burn of "
            ) + amount
        if number.value < 0 < stated.value and stated.direction is None:
            return format_number(stated.value, stated.unit or MetricUnit.COUNT)
        return None

    def _ground(
        self,
        number: FoundNumber,
        clause: str,
        claim: Claim,
        union: tuple[str, ...],
        lens: list[Stated],
        computed: list[Stated],
    ) -> _Verdict:
        lens = [value for value in lens if _names_lens_count(number, clause, value)]
        extra = [*lens, *self._gaps, *computed]
        nearest = self._cited_values(claim.nearest, extra)
        verdict, misses = self._judge(number, clause, nearest)
        cited_ids = set(claim.nearest)
        if verdict.kind is not None and claim.fallback:
            wider, wider_misses = self._judge(number, clause, self._cited_values(union, extra))
            if wider.kind is None:
                return _GROUNDED
            misses = misses or wider_misses
            cited_ids |= set(union)
        if verdict.kind is None:
            return verdict
        ids = claim.nearest if not claim.fallback or claim.nearest else union
        derivation = named_derivation(number, clause, self._cited_values(ids, computed))
        if derivation is None and claim.fallback:
            derivation = named_derivation(number, clause, self._cited_values(union, computed))
        if derivation is not None:
            return _GROUNDED
        if misses:
            return misses[0]
        other = self._elsewhere(number, cited_ids)
        if other is not None and other.fact_id is not None:
            fact = self.facts[other.fact_id]
            shown = format_number(other.value, other.unit or MetricUnit.COUNT, other.period)
            return _Verdict(
                WarningKind.OTHER_FACT,
                f"{number.text!r} is {shown} in {fact.id} ({fact.title}; {other.source}), "
                "which the claim does not cite",
                shown,
                (fact.id,),
            )
        return _Verdict(
            WarningKind.UNGROUNDED_NUMBER,
            f"{number.text!r} ({number.value:g}, {number.kind.value}) is not stated by the "
            "cited facts nor by any other fact in the bundle",
        )

    def _check_claim(
        self, claim: Claim, union: tuple[str, ...], lens: list[Stated]
    ) -> list[GroundingWarning]:
        text = self._visible(claim.text)
        warnings: list[GroundingWarning] = []
        cited = list(claim.nearest if claim.nearest or not claim.fallback else union)

        def warn(
            kind: WarningKind,
            detail: str,
            words: str,
            expected: str | None = None,
            facts: list[str] | None = None,
        ) -> None:
            warnings.append(
                GroundingWarning(
                    kind=kind,
                    where=claim.where,
                    detail=detail,
                    text=words,
                    claim=claim.text.strip(),
                    cited=cited,
                    expected=expected,
                    facts=facts or [],
                )
            )

        for unknown in (i for i in ids_in(claim.text) if i not in self.facts):
            warn(
                WarningKind.UNKNOWN_FACT, f"names {unknown!r}, which is not in the bundle", unknown
            )
        skip: set[tuple[int, int]] = set()
        operands: dict[tuple[int, int], str] = {}
        computed: list[Stated] = []  # results the claim's own arithmetic verified
        for arithmetic in find_arithmetic(text):
            skip |= {item.span for item in arithmetic.constants + arithmetic.results}
            operands |= {item.span: arithmetic.text for item in arithmetic.operands}
            if not arithmetic.failure:
                computed += [
                    Stated(r.number.value, r.number.unit, r.number.period, None, None, "computed")
                    for r in arithmetic.results
                ]
            if arithmetic.failure:
                warn(
                    WarningKind.DERIVATION,
                    f"the arithmetic does not hold: {arithmetic.failure}",
                    claim.text[arithmetic.span[0] : arithmetic.span[1]],
                    expected=arithmetic.expected,
                )
        for number in claims(text):
            if any(lo <= number.span[0] < hi for lo, hi in skip):
                continue
            verdict = self._ground(number, text, claim, union, lens, computed)
            if verdict.kind is None:
                continue
            words = claim.text[number.span[0] : number.span[1]]
            within = next(
                (t for (lo, hi), t in operands.items() if lo <= number.span[0] < hi), None
            )
            if within is not None:
                detail = f"operand {words!r} of {within!r}: " + (
                    verdict.detail or "not stated by the cited facts"
                )
                warn(WarningKind.DERIVATION, detail, words, expected=verdict.expected,
                     facts=list(verdict.facts))  # fmt: skip
                continue
            warn(verdict.kind, verdict.detail, words, expected=verdict.expected,
                 facts=list(verdict.facts))  # fmt: skip
        for found in contradictions(
            text, (self.facts[i] for i in cited if i in self.facts), self._names_of
        ):
            warn(
                WarningKind.CONTRADICTION,
                f"{found.text!r} contradicts {found.fact.id} ({found.fact.title}), which "
                f"{found.condition.states}",
                found.text,
                expected=found.condition.states,
                facts=[found.fact.id],
            )
        return warnings

    def _check_kpi_value(self, where: str, kpi: Kpi, lens: list[Stated]) -> list[GroundingWarning]:
        assert kpi.value is not None
        unit, period = _kpi_unit(kpi.unit)
        kind = {
            MetricUnit.USD: NumberKind.MONEY,
            MetricUnit.PERCENT: NumberKind.PERCENT,
            MetricUnit.RATIO: NumberKind.RATIO,
        }.get(unit, NumberKind.COUNT)
        stated = from_value(kpi.value, kind, unit, period)
        values = self._cited_values(kpi.evidence, lens)
        tries = [stated]
        if unit is MetricUnit.PERCENT and abs(kpi.value) <= 1:
            tries.insert(0, from_value(kpi.value * 100, kind, unit, period))
        verdict = _GROUNDED
        for attempt in tries:
            verdict, misses = self._judge(attempt, kpi.name, values)
            if verdict.kind is None:
                return []
            verdict = misses[0] if misses else verdict
        if verdict.kind is WarningKind.UNGROUNDED_NUMBER:
            other = self._elsewhere(stated, set(kpi.evidence))
            verdict = _Verdict(
                WarningKind.OTHER_FACT
                if other and other.fact_id
                else WarningKind.UNGROUNDED_NUMBER,
                f"the value {stated.text} {kpi.unit} is not stated by the cited facts"
                + (f"; {other.fact_id} states it" if other and other.fact_id else ""),
                None,
                (other.fact_id,) if other and other.fact_id else (),
            )
        return [
            GroundingWarning(
                kind=verdict.kind or WarningKind.UNGROUNDED_NUMBER,
                where=where,
                detail=verdict.detail,
                text=stated.text,
                claim=f"{kpi.name}: {stated.text} {kpi.unit}",
                cited=list(kpi.evidence),
                expected=verdict.expected,
                facts=list(verdict.facts),
            )
        ]

    # -- the report -------------------------------------------------------------------

    def _lens_counts(self, persona: Persona) -> list[Stated]:
        key = persona.evidence.model_dump_json()
        if key not in self._lenses:
            in_lens = [fact for fact in self.bundle.facts if persona.evidence.matches(fact)]
            self._lenses[key] = _counts(in_lens, detailed=False)
        return self._lenses[key]

    def check(self, report: Report, persona: Persona | None = None) -> list[GroundingWarning]:
        """Every citation, and every claim the report makes, checked against the facts it
        cites (and the counts of the persona's lens, when it is given)."""
        lens = self._lens_counts(persona) if persona is not None else []
        union = report_citations(report)
        warnings: list[GroundingWarning] = []

        def read(claims_: list[Claim]) -> None:
            for claim in claims_:
                warnings.extend(self._check_claim(claim, union, lens))

        read(prose_claims("subject", report.subject, union, fallback=True))
        read(prose_claims("summary", report.summary, union, fallback=True))
        # the lens's counts describe the brief as a whole: only its headline states them
        lens = []
        for i, finding in enumerate(report.findings):
            warnings.extend(_citations(f"findings[{i}].evidence", finding.evidence, self.facts))
            for name in ("title", "description", "impact"):
                text = getattr(finding, name)
                read(prose_claims(f"findings[{i}].{name}", text, finding.evidence, False))
        for i, kpi in enumerate(report.kpis):
            if kpi.value is not None or kpi.evidence:
                warnings.extend(_citations(f"kpis[{i}].evidence", kpi.evidence, self.facts))
            read(prose_claims(f"kpis[{i}].name", kpi.name, kpi.evidence, False))
            if kpi.value is not None:
                warnings.extend(self._check_kpi_value(f"kpis[{i}].value", kpi, lens))
            read(prose_claims(f"kpis[{i}].target", kpi.target, kpi.evidence, False))
        for i, rec in enumerate(report.recommendations):
            warnings.extend(_citations(f"recommendations[{i}].evidence", rec.evidence, self.facts))
            for name in ("action", "impact"):
                text = getattr(rec, name)
                read(prose_claims(f"recommendations[{i}].{name}", text, rec.evidence, False))
        for i, section in enumerate(report.sections):
            read(section_claims(f"sections[{i}].markdown", section.markdown))
        return _dedupe(warnings)


_KPI_PERIOD = re.compile(r"/\s*(day|week|month|mo|quarter|year|yr)\b|\bper (day|week|month|year)\b")


def _kpi_unit(unit: str) -> tuple[MetricUnit, MetricPeriod | None]:
    """A KPI's unit string ("USD/month", "%", "charters/month", "months") as unit and period."""
    lowered = unit.lower()
    match = _KPI_PERIOD.search(lowered)
    period = None
    if match:
        word = match.group(1) or match.group(2)
        period = {
            "day": MetricPeriod.DAY, "week": MetricPeriod.WEEK, "month": MetricPeriod.MONTH,
            "mo": MetricPeriod.MONTH, "quarter": MetricPeriod.QUARTER,
            "year": MetricPeriod.YEAR, "yr": MetricPeriod.YEAR,
        }[word]  # fmt: skip
    if "%" in lowered or "percent" in lowered or "pct" in lowered:
        return MetricUnit.PERCENT, period
    if "$" in lowered or "usd" in lowered:
        return MetricUnit.USD, period
    if re.fullmatch(r"\s*(?:x|ratio|times)\s*", lowered):
        return MetricUnit.RATIO, period
    if lowered.strip() in ("months", "month"):
        return MetricUnit.MONTHS, None
    if lowered.strip() in ("days", "day"):
        return MetricUnit.DAYS, None
    return MetricUnit.COUNT, period


def _citations(where: str, evidence: list[str], known: dict[str, Fact]) -> list[GroundingWarning]:
    if not evidence:
        return [GroundingWarning(kind=WarningKind.UNCITED, where=where, detail="cites no fact")]
    return [
        GroundingWarning(
            kind=WarningKind.UNKNOWN_FACT,
            where=where,
            detail=f"cites {fact_id!r}, which is not in the bundle",
            text=fact_id,
            cited=list(evidence),
        )
        for fact_id in dict.fromkeys(evidence)
        if fact_id not in known
    ]


def _dedupe(warnings: list[GroundingWarning]) -> list[GroundingWarning]:
    seen: set[tuple[str, str, str | None]] = set()
    kept = []
    for warning in warnings:
        key = (warning.kind.value, warning.where, warning.text)
        if key not in seen:
            seen.add(key)
            kept.append(warning)
    return kept


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
