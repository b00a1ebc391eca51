"""The offline provider: a complete, deterministic report built from the facts alone.

It is how the example runs on a fresh machine and how most tests run. Each section is
written from the analyses it declares (offline_sections.py), every row cites its facts,
so its briefs are grounded by design; each says that no model wrote it.
"""

from __future__ import annotations

import re

from execbrief.config import LlmConfig
from execbrief.errors import ProviderError
from execbrief.llm.base import BriefRequest, BriefResult, FirstByte, Question
from execbrief.llm.offline_sections import (
    NAME_UNITS,
    Context,
    metric_unit,
    write_section,
)
from execbrief.models import (
    Fact,
    Finding,
    Kpi,
    KpiStatus,
    Persona,
    Recommendation,
    Report,
    ReportSection,
    Severity,
)

OFFLINE_MODEL = "offline"
MAX_FINDINGS = 12
MAX_KPIS = 12
KPIS_PER_FACT = 3
MAX_RECOMMENDATIONS = 10
DETAIL_CHARS = 600

_DUE_DAYS = {Severity.CRITICAL: 7, Severity.HIGH: 30, Severity.MEDIUM: 60}
_IMPACT = {
    Severity.CRITICAL: "Critical: exposes the business now; act this week.",
    Severity.HIGH: "High: material risk or cost; fix within the month.",
    Severity.MEDIUM: "Medium: weakens the operation; schedule it this quarter.",
    Severity.LOW: "Low: worth tracking.",
    Severity.INFO: "Context for the decisions in this brief.",
}


class OfflineProvider:
    name = "offline"

    def __init__(self, config: LlmConfig | None = None) -> None:
        self.config = config

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        if on_first_byte is not None:
            on_first_byte()
        report = build_offline_report(request.persona, request.facts, request.note)
        return BriefResult(text=report.model_dump_json(), model=OFFLINE_MODEL)

    def count_tokens(self, request: BriefRequest) -> int | None:
        """None: no model reads the prompt, so nothing is counted or billed."""
        return None

    def small_model(self) -> str | None:
        """None: there is no model to ask for a second opinion, so llm.verify is off."""
        return None

    def ask(self, question: Question) -> BriefResult:
        raise ProviderError("the offline provider has no model to ask", provider=self.name)


def _ranked(facts: list[Fact]) -> list[Fact]:
    return sorted(facts, key=lambda f: (f.severity.rank, f.kind, f.id))


def build_offline_report(persona: Persona, facts: list[Fact], note: str | None = None) -> Report:
    """A report built section by section from the lens's facts and analyses, every
    statement cited; the analyst's note is shown as a note no model acted on."""
    ranked = _ranked(facts)
    ctx = Context(persona=persona, facts=ranked)
    sections = [
        ReportSection(id=section.id, markdown=write_section(ctx, section))
        for section in persona.sections
    ]
    findings = _findings(ranked)
    recommendations = ctx.recommendations[:MAX_RECOMMENDATIONS] or _recommendations(ctx, ranked)
    kpis = ctx.kpis[:MAX_KPIS] or _kpis(persona, ranked)
    counts = {s: sum(1 for f in facts if f.severity is s) for s in Severity}
    worst = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n) or "no facts"
    summary = (
        f"Written without a model (offline provider): each section below is built from the "
        f"evidence bundle's facts and analyses selected by the {persona.title} lens, cited "
        f"by id. The lens selected {len(facts)} facts ({worst})."
    )
    if findings:
        summary += f" First in line: {findings[0].title.rstrip('.')}."
    if note:
        summary += (
            f" Analyst's note: \u201c{_clip(note)}\u201d. No model acted on it: the offline "
            "provider shows the note but does not follow instructions."
        )
    return Report(
        subject=f"{len(facts)} facts in view ({worst})",
        summary=summary,
        findings=findings,
        kpis=kpis,
        recommendations=recommendations,
        sections=sections,
    )


def _findings(ranked: list[Fact]) -> list[Finding]:
    """The merged shortfalls when the lens has them, else the worst facts themselves."""
    index = {f.id: f for f in ranked}
    merged = sorted(
        (f for f in ranked if f.kind == "analysis.shortfall" and any(i in index for i in f.inputs)),
        key=lambda f: f.metrics.get("rank", 0),
    )
    if merged:
        return [
            Finding(
                category=index[f.inputs[0]].kind.split(".")[0]
                if f.inputs[0] in index
                else "shortfall",
                severity=f.severity,
                title=f.title,
                description=_describe(index[f.inputs[0]]) if f.inputs[0] in index else f.detail,
                impact=_IMPACT[f.severity],
                evidence=[f.id, *[i for i in f.inputs if i in index]],
            )
            for f in merged[:MAX_FINDINGS]
        ]
    plain = [f for f in ranked if not f.kind.startswith("analysis.")]
    serious = [f for f in plain if f.severity.rank <= Severity.MEDIUM.rank]
    return [
        Finding(
            category=fact.kind.split(".")[0],
            severity=fact.severity,
            title=fact.title,
            description=_describe(fact),
            impact=_IMPACT[fact.severity],
            evidence=[fact.id],
        )
        for fact in _diverse(serious or plain, MAX_FINDINGS)
    ]


def _recommendations(ctx: Context, ranked: list[Fact]) -> list[Recommendation]:
    """Without an agenda section: one action per serious fact, owned by a role."""
    return [
        Recommendation(
            action=_action(fact),
            owner=ctx.role(fact),
            due_in_days=_DUE_DAYS[fact.severity],
            impact=_IMPACT[fact.severity],
            evidence=[fact.id],
        )
        for fact in ranked
        if fact.severity in _DUE_DAYS and not fact.kind.startswith("analysis.")
    ][:MAX_RECOMMENDATIONS]


_SERIES_METRIC = re.compile(r"_\d{4}_\d{2}$")


def _lens_order(persona: Persona, fact: Fact) -> int:
    """How central a fact is to the lens: the place of the first kind pattern it matches."""
    for index, pattern in enumerate(persona.evidence.kinds):
        if pattern == fact.kind or (pattern.endswith(".*") and fact.kind.startswith(pattern[:-1])):
            return index
    return len(persona.evidence.kinds)


def _diverse(ranked: list[Fact], limit: int) -> list[Fact]:
    """The worst facts, one per kind and entity until each has had a turn, so that five
    alike findings about one system do not crowd out a different problem elsewhere."""
    firsts: dict[tuple[str, str | None], Fact] = {}
    for fact in ranked:
        firsts.setdefault((fact.kind, fact.entity), fact)
    first_ids = {f.id for f in firsts.values()}
    order = [f for f in ranked if f.id in first_ids] + [f for f in ranked if f.id not in first_ids]
    picked = {f.id for f in order[:limit]}
    return [f for f in ranked if f.id in picked]


def _kpis(persona: Persona, ranked: list[Fact]) -> list[Kpi]:
    """Headline figures: the lens's own kinds first, portfolio-wide before per entity.

    Month-by-month series metrics (`..._2026_05`) are left to the charts and sections.
    """
    candidates = sorted(
        (f for f in ranked if f.metrics),
        key=lambda f: (_lens_order(persona, f), f.entity is not None, f.kind, f.id),
    )
    kpis: list[Kpi] = []
    for fact in candidates:
        headline = [(n, v) for n, v in sorted(fact.metrics.items()) if not _SERIES_METRIC.search(n)]
        for name, value in headline[:KPIS_PER_FACT]:
            kpis.append(
                Kpi(
                    name=f"{_humanise(name)} ({fact.entity or 'portfolio'})",
                    value=value,
                    unit=metric_unit(fact, name),
                    target="not set",
                    status=KpiStatus.NO_TARGET,
                    evidence=[fact.id],
                )
            )
            if len(kpis) == MAX_KPIS:
                return kpis
    return kpis


_LABEL = re.compile(r"^(?:risk|todo|blocked|blocker|decision)\s*:\s*", re.IGNORECASE)
_VERBS = {
    "secret": "Rotate the key and move it to a secret store",
    "auth": "Put authentication in front of it",
    "http": "Restrict it to the sites that need it",
    "handoff.blocker": "Unblock",
    "handoff.todo": "Do",
}


def _action(fact: Fact) -> str:
    """An imperative line for a fact: a verb for its kind, then what it is about."""
    family = fact.kind.split(".")[0]
    verb = _VERBS.get(fact.kind) or _VERBS.get(family) or "Resolve"
    return f"{verb}: {_LABEL.sub('', fact.title)}"


def _describe(fact: Fact) -> str:
    detail = _clip(fact.detail)
    if not detail or detail.rstrip(".") == fact.title.rstrip("."):
        return f"Seen in `{fact.source.label()}`."
    return detail


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1].rstrip() + "…"


def _humanise(metric: str) -> str:
    words = metric.split("_")
    if words[-1] in NAME_UNITS and len(words) > 1:
        words = words[:-1]
    return " ".join(words).capitalize()
