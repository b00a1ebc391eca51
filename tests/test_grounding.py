"""The grounding check: citations exist, and every number a brief states is in the evidence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from execbrief.grounding import check_grounding, claims, missing_sections
from execbrief.models import (
    Bundle,
    Delivery,
    Entity,
    EvidenceSelector,
    Fact,
    Finding,
    Gap,
    GroundingWarning,
    Kpi,
    KpiStatus,
    Persona,
    PersonaSection,
    Recommendation,
    Report,
    ReportSection,
    Severity,
    Source,
    WarningKind,
)

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)

BURN = Fact.create(
    collector="ledger",
    kind="finance.burn_monthly",
    source=Source(path="books/ledger.csv"),
    severity=Severity.MEDIUM,
    title="JADA: burn 7,412.50 USD/month (last 3 months)",
    entity="jada",
    metrics={"burn_usd": 7412.5, "gross_margin": 0.19},
    tags=["finance", "burn"],
    observed_at=NOW,
)
LIST = Fact.create(
    collector="handoffs",
    kind="handoff.section",
    source=Source(path="handoffs/jada.md", line=79, section="Marketing"),
    title="JADA handoff: Marketing",
    detail="- Email list: **3,676** contacts. Break-even at six charters a month.",
    entity="jada",
    metrics={"email_list": 3676},
    tags=["marketing"],
)
KEY = Fact.create(
    collector="code_audit",
    kind="secret.hardcoded",
    source=Source(path="lambda/lambda_function.py", line=42),
    severity=Severity.HIGH,
    title="Stripe live key in lambda/lambda_function.py:42",
    entity="queenofsandiego",
    tags=["security", "secrets"],
)
BUNDLE = Bundle(
    portfolio="Harbor & Hill Holdings",
    collected_at=NOW,
    entities=[Entity(id="jada", name="JADA"), Entity(id="rental", name="3028 51st St rental")],
    facts=[BURN, LIST, KEY],
    gaps=[Gap(collector="aws_inventory", source="ce:GetCostAndUsage", reason="AccessDenied")],
)


def _report(
    *,
    summary: str = "JADA burns about $7.4K a month against a list of 3,676 past guests.",
    description: str = "Break-even needs six charters a month.",
    evidence: list[str] | None = None,
    kpi_value: float | None = 7412.5,
    action: str = "Email the 3,676-person list within 30 days.",
    section: str = "## 30-day agenda\n\n1. Rotate the key in `lambda_function.py:42`.",
) -> Report:
    cited = [BURN.id, LIST.id] if evidence is None else evidence
    return Report(
        subject="JADA: $7.4K monthly burn, 1 live key in code",
        summary=summary,
        findings=[
            Finding(
                category="finance",
                severity=Severity.HIGH,
                title="Burn outruns bookings",
                description=description,
                impact="Cash falls every month.",
                evidence=cited,
            )
        ],
        kpis=[
            Kpi(
                name="Monthly burn",
                value=kpi_value,
                unit="USD/month",
                target="under $6K",
                status=KpiStatus.OFF_TRACK,
                evidence=[BURN.id],
            )
        ],
        recommendations=[
            Recommendation(
                action=action,
                owner="CMO",
                due_in_days=30,
                impact="Holiday bookings.",
                evidence=[LIST.id],
            )
        ],
        sections=[ReportSection(id="agenda", markdown=section)],
    )


def _kinds(warnings: list[GroundingWarning]) -> list[tuple[WarningKind, str]]:
    return [(w.kind, w.where) for w in warnings]


def test_a_clean_report_has_no_warnings() -> None:
    assert check_grounding(_report(), BUNDLE) == []


def test_an_invented_number_and_an_unknown_fact_id_are_flagged() -> None:
    report = _report(
        description="A $12,500 retainer closes the gap.", evidence=[BURN.id, "f_000000000000"]
    )
    warnings = check_grounding(report, BUNDLE)
    assert _kinds(warnings) == [
        (WarningKind.UNKNOWN_FACT, "findings[0].evidence"),
        (WarningKind.UNGROUNDED_NUMBER, "findings[0].description"),
    ]
    assert "'f_000000000000'" in warnings[0].detail
    assert warnings[1].detail.startswith("'$12,500' (12500, money)")


def test_an_item_that_cites_nothing_is_uncited() -> None:
    warnings = check_grounding(_report(evidence=[]), BUNDLE)
    assert _kinds(warnings) == [(WarningKind.UNCITED, "findings[0].evidence")]


def test_a_kpi_not_tracked_yet_needs_no_citation() -> None:
    report = _report(kpi_value=None)
    report.kpis[0].evidence = []
    assert check_grounding(report, BUNDLE) == []


@pytest.mark.parametrize(
    ("summary", "grounded"),
    [
        ("Burn is $7.4K a month.", True),
        ("Burn is $7K a month.", True),
        ("Burn is $7,412.50 a month.", True),
        ("Burn is about $7,400 a month.", True),
        ("Burn is $7,400 a month.", False),
        ("Burn is $7.5K a month.", False),
        ("Burn is $7.41K a month.", True),
        ("Margin is 19%.", True),
        ("Margin is 21%.", False),
        ("A loss of -$7.4K a month.", True),
        ("Break-even needs 6 charters.", True),
        ("Break-even needs seven charters.", False),
    ],
)
def test_rounding_is_accepted_within_the_stated_precision(summary: str, grounded: bool) -> None:
    warnings = check_grounding(_report(summary=summary), BUNDLE)
    assert (warnings == []) is grounded


@pytest.mark.parametrize(
    "text",
    [
        "A 30-day agenda, then a 90-day plan; review within 14 days.",
        "Phase 2 starts after the top 3 fixes; step 4 is optional.",
        "Q1 2026 ends on 2026-03-31 at 17:00.",
        "No one has read `config.py:1234` or https://example.com/x?id=987.",
        "1. First\n2. Second\n",
        "Python 3.11 on us-west-2.",
    ],
)
def test_structural_numbers_are_not_claims(text: str) -> None:
    assert claims(text) == []


def test_kpi_value_must_be_in_the_evidence() -> None:
    assert check_grounding(_report(kpi_value=7400), BUNDLE) == []
    warnings = check_grounding(_report(kpi_value=12500), BUNDLE)
    assert _kinds(warnings) == [(WarningKind.UNGROUNDED_NUMBER, "kpis[0].value")]


def test_a_percentage_kpi_may_state_its_value_as_a_fraction() -> None:
    report = _report()
    report.kpis[0] = Kpi(
        name="Gross margin",
        value=0.19,
        unit="%",
        target="30%",
        status=KpiStatus.AT_RISK,
        evidence=[BURN.id],
    )
    assert check_grounding(report, BUNDLE) == []


def test_counts_of_facts_and_entity_names_are_evidence() -> None:
    summary = "3 facts, 1 high-severity and 1 gap; the 3028 51st St rental is quiet."
    assert check_grounding(_report(summary=summary), BUNDLE) == []


def test_counts_within_the_persona_lens_are_evidence_when_the_persona_is_given() -> None:
    persona = _persona(["agenda"])
    persona.evidence = EvidenceSelector(tags=["finance", "marketing"], entities=["jada"])
    summary = "The lens selected 2 facts, 1 medium."
    facts = [*BUNDLE.facts, *(_noise(n) for n in range(5))]
    bundle = BUNDLE.model_copy(update={"facts": facts})
    assert check_grounding(_report(summary=summary), bundle, persona) == []
    flagged = check_grounding(_report(summary="The lens selected 4 facts."), bundle, persona)
    assert _kinds(flagged) == [(WarningKind.UNGROUNDED_NUMBER, "summary")]


def _noise(n: int) -> Fact:
    return Fact.create(
        collector="handoffs",
        kind="handoff.todo",
        source=Source(path="handoffs/qdn.md", line=n + 1),
        title="call back",
        entity="quickdumpnow",
    )


def test_every_text_field_is_checked_with_its_place() -> None:
    report = _report(action="Spend $9,999 on ads.", section="## Agenda\n\nHire 17 crew.")
    report.subject = "Burn at 88%"
    warnings = check_grounding(report, BUNDLE)
    assert _kinds(warnings) == [
        (WarningKind.UNGROUNDED_NUMBER, "subject"),
        (WarningKind.UNGROUNDED_NUMBER, "recommendations[0].action"),
        (WarningKind.UNGROUNDED_NUMBER, "sections[0].markdown"),
    ]


def _persona(section_ids: list[str]) -> Persona:
    return Persona(
        id="cfo",
        title="Chief Financial Officer",
        audience="The owner.",
        lens="Cash.",
        priorities=["burn"],
        evidence=EvidenceSelector(),
        sections=[
            PersonaSection(id=sid, title=sid.title(), guidance="Be brief.") for sid in section_ids
        ],
        deliver=Delivery(to=["owner@example.com"], subject="{{ persona.title }}"),
    )


def test_missing_and_empty_sections_are_reported() -> None:
    report = _report()
    report.sections.append(ReportSection(id="capital", markdown="  \n"))
    warnings = missing_sections(report, _persona(["agenda", "capital", "targets"]))
    assert _kinds(warnings) == [
        (WarningKind.MISSING_SECTION, "sections.capital"),
        (WarningKind.MISSING_SECTION, "sections.targets"),
    ]
    assert "'Targets'" in warnings[1].detail
    assert missing_sections(_report(), _persona(["agenda"])) == []
