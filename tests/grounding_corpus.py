"""The labelled grounding corpus: claims placed in reports and run through the checker.

Shared by tests/test_grounding_corpus.py (one assertion per label) and
benchmarks/grounding.py (flagged share per kind, recall, false-flag rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from execbrief.grounding import GroundingIndex
from execbrief.models import (
    Bundle,
    Fact,
    Finding,
    GroundingWarning,
    Kpi,
    KpiStatus,
    Persona,
    Recommendation,
    Report,
    ReportSection,
    Severity,
)
from execbrief.persona_files import load_persona_file, shipped_persona_dir

CORPUS = Path(__file__).resolve().parent / "data" / "grounding"
SUPPORTED = ("exact", "reformatted", "derived")
UNSUPPORTED = (
    "invented", "other_fact", "unit_period", "sign", "contradiction", "place", "citation"
)  # fmt: skip
KINDS = SUPPORTED + UNSUPPORTED
UNKNOWN_ID = "f_000000000000"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when built


def _load(name: str) -> Any:
    return yaml.load((CORPUS / name).read_text(), Loader=_LOADER)  # noqa: S506 - a SafeLoader


@dataclass(frozen=True)
class Claim:
    number: int
    persona: str
    kind: str
    place: str
    text: str
    cites: list[str]
    kpi: dict[str, Any]
    known: str | None = None  # why the checker gets this one wrong, when it does

    @property
    def flagged(self) -> bool:
        """The label: a reviewer flags every unsupported claim and no supported one."""
        return self.kind in UNSUPPORTED


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    warnings: list[GroundingWarning]

    @property
    def flagged(self) -> bool:
        return bool(self.warnings)


def load_bundle() -> Bundle:
    return Bundle.model_validate_json((CORPUS / "bundle.json").read_text())


def resolve_facts(bundle: Bundle) -> dict[str, str]:
    """Each corpus name -> the id of the one fact it describes in this bundle."""
    specs: dict[str, dict[str, Any]] = _load("facts.yaml")
    ids = {}
    for name, spec in specs.items():
        matches = [fact for fact in bundle.facts if _fits(fact, spec)]
        if len(matches) != 1:
            raise LookupError(f"{name}: {len(matches)} facts match {spec}")
        ids[name] = matches[0].id
    return ids


def _fits(fact: Fact, spec: dict[str, Any]) -> bool:
    if fact.collector != spec["collector"] or fact.kind != spec["kind"]:
        return False
    if "entity" in spec and fact.entity != spec["entity"]:
        return False
    return spec.get("title", "") in fact.title


def load_claims(name: str = "claims.yaml") -> list[Claim]:
    """The tuning corpus (claims.yaml) or the holdout written after it (holdout.yaml)."""
    raw: list[dict[str, Any]] = _load(name)
    return [
        Claim(
            number=i + 1,
            persona=entry["persona"],
            kind=entry["kind"],
            place=entry["place"],
            text=entry.get("text", ""),
            cites=list(entry["cites"]),
            kpi={k: entry[k] for k in ("name", "value", "unit") if k in entry},
            known=entry.get("known"),
        )
        for i, entry in enumerate(raw)
    ]


def _neutral_finding(evidence: list[str]) -> Finding:
    return Finding(
        category="review",
        severity=Severity.MEDIUM,
        title="See the evidence",
        description="The cited facts say what this is about.",
        impact="Worth a look.",
        evidence=evidence,
    )


def build_report(claim: Claim, ids: dict[str, str]) -> Report:
    """A report that makes this claim in its place and states nothing else."""
    cited = [ids.get(name, UNKNOWN_ID) for name in claim.cites]
    text = claim.text
    for name, fact_id in ids.items():
        text = text.replace("{" + name + "}", fact_id)
    place = claim.place
    finding = _neutral_finding(cited)
    if place.startswith("finding."):
        finding = finding.model_copy(update={place.split(".")[1]: text})
    findings = [finding]
    kpis = []
    if place.startswith("kpi."):
        kpis = [
            Kpi(
                name=claim.kpi["name"],
                value=claim.kpi["value"],
                unit=claim.kpi["unit"],
                target=text if place == "kpi.target" else "not set",
                status=KpiStatus.AT_RISK,
                evidence=cited,
            )
        ]
        findings = [_neutral_finding(cited or [UNKNOWN_ID])] if not cited else findings
    recommendations = []
    if place.startswith("rec."):
        fields = {"action": "Review it.", "impact": "Less risk."}
        fields[place.split(".")[1]] = text
        recommendations = [Recommendation(owner="Owner", due_in_days=30, evidence=cited, **fields)]
    sections = [ReportSection(id="notes", markdown="Nothing else to add.")]
    if place.startswith("section"):
        sections = [ReportSection(id="notes", markdown=text)]
    if place.startswith(("section", "rec.", "kpi.")) and not cited:
        findings = []
    return Report(
        subject=text if place == "subject" else "Portfolio review",
        summary=text if place == "summary" else "The findings below say what matters.",
        findings=findings,
        kpis=kpis,
        recommendations=recommendations,
        sections=sections,
    )


def personas() -> dict[str, Persona]:
    folder = shipped_persona_dir()
    return {path.stem: load_persona_file(path) for path in sorted(folder.glob("*.yaml"))}


class Checker(Protocol):
    def check(self, report: Report, persona: Persona | None = None) -> list[GroundingWarning]: ...


def run_corpus(
    bundle: Bundle | None = None, name: str = "claims.yaml", checker: Checker | None = None
) -> list[Outcome]:
    """Every claim of the corpus checked (by `GroundingIndex`, or another checker with the
    same `check`); the warnings it drew."""
    bundle = bundle or load_bundle()
    ids = resolve_facts(bundle)
    index = checker or GroundingIndex(bundle)
    lenses = personas()
    return [
        Outcome(claim, index.check(build_report(claim, ids), lenses[claim.persona]))
        for claim in load_claims(name)
    ]
