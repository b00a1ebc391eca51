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
    MetricPeriod,
    MetricType,
    MetricUnit,
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
                target="not set",
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
    # and its number, grounded by nothing it cites, is named where the bundle states it
    assert _kinds(warnings) == [
        (WarningKind.UNCITED, "findings[0].evidence"),
        (WarningKind.OTHER_FACT, "findings[0].description"),
    ]
    assert warnings[1].facts == [LIST.id]


def test_a_kpi_not_tracked_yet_needs_no_citation() -> None:
    report = _report(kpi_value=None)
    report.kpis[0].evidence = []
    assert check_grounding(report, BUNDLE) == []


@pytest.mark.parametrize(
    ("summary", "grounded"),
    [
        ("Burn is $7.4K a month.", True),
        ("Burn is $7K a month.", False),
        ("Burn is about $7K a month.", True),
        ("Burn is ~$7K a month.", True),
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
        target="not set",
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
    flagged = check_grounding(_report(summary="The lens selected 7 facts."), bundle, persona)
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


QDN_MARGIN = Fact.create(
    collector="ledger",
    kind="finance.gross_margin",
    source=Source(path="books/ledger.csv", section="quickdumpnow"),
    title="QuickDumpNow: gross margin 43.8%",
    entity="quickdumpnow",
    metrics={"gross_margin_pct": 43.8, "revenue_usd": 24355.0},
)
RENTAL_BURN = Fact.create(
    collector="ledger",
    kind="finance.burn_monthly",
    source=Source(path="books/ledger.csv", section="rental"),
    title="3028 51st St rental: no net burn (net inflow 1,063.55)",
    entity="rental",
    metrics={"burn_monthly_usd": -1063.55},
)
NO_WAF = Fact.create(
    collector="aws_inventory",
    kind="aws.cloudfront.no_waf",
    source=Source(resource="E2QOSDEXAMPLE01"),
    title="CloudFront E2QOSDEXAMPLE01 has no WAF web ACL",
)
TYPED = Fact.create(
    collector="analysis",
    kind="analysis.margin",
    source=Source(section="analysis"),
    title="Margin",
    metrics={"margin": 43.8, "fees": 2850.0},
    metric_types={
        "margin": MetricType(unit=MetricUnit.PERCENT),
        "fees": MetricType(unit=MetricUnit.USD, period=MetricPeriod.MONTH),
    },
)
WIDE = BUNDLE.model_copy(update={"facts": [*BUNDLE.facts, QDN_MARGIN, RENTAL_BURN, NO_WAF, TYPED]})


def _claim(text: str, cites: list[str], place: str = "description") -> list[GroundingWarning]:
    report = _report(evidence=cites)
    report.summary = "Nothing to add."
    setattr(report.findings[0], place, text)
    return check_grounding(report, WIDE)


def test_a_number_only_another_fact_states_is_named_where_it_appears() -> None:
    (warning,) = _claim("JADA keeps a 43.8% gross margin.", [BURN.id])
    assert warning.kind is WarningKind.OTHER_FACT
    assert warning.facts == [QDN_MARGIN.id]
    assert warning.cited == [BURN.id]
    assert QDN_MARGIN.id in warning.detail and "QuickDumpNow: gross margin" in warning.detail
    assert warning.claim == "JADA keeps a 43.8% gross margin."


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Burn is $7.4K a month.", None),
        ("Burn is $89K a year.", None),
        ("Burn is $1.71K a week.", None),
        ("Burn is $7.4K a week.", WarningKind.PERIOD_MISMATCH),
        ("Burn is $7.4K a year.", WarningKind.PERIOD_MISMATCH),
    ],
)
def test_a_period_must_be_the_facts_or_converted_from_it(
    text: str, kind: WarningKind | None
) -> None:
    assert [w.kind for w in _claim(text, [BURN.id])] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The margin is 43.8%.", None),
        ("The margin is $43.8.", WarningKind.UNIT_MISMATCH),
        ("The margin is 43.8 charters.", WarningKind.UNIT_MISMATCH),
        ("Fees are $2,850 a month.", None),
        ("Fees are $2,850 x 12 = $34,200 a year.", None),
        ("Fees are $34,200 a year.", None),
        ("Fees are $2,850 a week.", WarningKind.PERIOD_MISMATCH),
    ],
)
def test_metric_types_given_by_the_fact_are_honoured(text: str, kind: WarningKind | None) -> None:
    assert [w.kind for w in _claim(text, [TYPED.id])] == ([kind] if kind else [])


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The rental brings in a net $1,063.55 a month.", None),
        ("The rental has a net inflow of about $1.1K a month.", None),
        ("The rental burns $1,063.55 a month.", WarningKind.SIGN_MISMATCH),
        ("The rental's net burn is $1,063.55 a month.", WarningKind.SIGN_MISMATCH),
        ("The rental loses $1,064 a month.", WarningKind.SIGN_MISMATCH),
    ],
)
def test_a_signed_figure_keeps_its_direction(text: str, kind: WarningKind | None) -> None:
    assert [w.kind for w in _claim(text, [RENTAL_BURN.id])] == ([kind] if kind else [])


def test_written_arithmetic_is_evaluated_and_says_which_step_failed() -> None:
    assert _claim("Annualised: $7,412.50 x 12 = $88,950.", [BURN.id]) == []
    (wrong,) = _claim("Annualised: $7,412.50 x 12 = $98,950.", [BURN.id])
    assert wrong.kind is WarningKind.DERIVATION
    assert "$7,412.50 × 12 is $88,950" in wrong.detail
    assert wrong.expected == "$88,950"
    (operand,) = _claim("Annualised: $7,999 x 12 = $95,988.", [BURN.id])
    assert operand.kind is WarningKind.DERIVATION
    assert operand.detail.startswith("operand '$7,999'")


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("The distribution sits behind a WAF.", True),
        ("CloudFront is protected by a web application firewall.", True),
        ("The distribution has no WAF.", False),
        ("Nothing sits in front of it: no WAF web ACL.", False),
        ("Attach a WAF web ACL.", False),
        ("It should sit behind a WAF within 30 days.", False),
    ],
)
def test_a_claim_asserting_the_opposite_of_a_cited_condition_is_a_contradiction(
    text: str, flagged: bool
) -> None:
    warnings = _claim(text, [NO_WAF.id])
    assert [w.kind for w in warnings] == ([WarningKind.CONTRADICTION] if flagged else [])
    if flagged:
        assert warnings[0].facts == [NO_WAF.id]


def test_a_condition_is_only_held_against_claims_that_cite_it() -> None:
    assert _claim("The distribution sits behind a WAF.", [BURN.id]) == []


def test_the_subject_kpi_name_and_target_code_spans_and_tables_are_read() -> None:
    report = _report()
    report.subject = "JADA burns $9.1K a month"
    report.kpis[0].name = "Burn under $5K"
    report.kpis[0].target = "11 charters a month"
    report.sections[
        0
    ].markdown = "Burn is `$9,100` a month.\n\n| Entity | Burn |\n| --- | --- |\n| JADA | $8,800 |"
    assert _kinds(check_grounding(report, BUNDLE)) == [
        (WarningKind.UNGROUNDED_NUMBER, "subject"),
        (WarningKind.UNGROUNDED_NUMBER, "kpis[0].name"),
        (WarningKind.UNGROUNDED_NUMBER, "kpis[0].target"),
        (WarningKind.UNGROUNDED_NUMBER, "sections[0].markdown"),
        (WarningKind.UNGROUNDED_NUMBER, "sections[0].markdown"),
    ]


def test_a_section_sentence_is_read_against_the_ids_written_nearest_it() -> None:
    report = _report()
    report.sections[0].markdown = (
        f"- The list has 3,676 contacts [{LIST.id}].\n- QuickDumpNow keeps 43.8% [{LIST.id}].\n"
        "- A ghost fact [f_0123456789ab]."
    )
    warnings = check_grounding(report, WIDE)
    assert _kinds(warnings) == [
        (WarningKind.OTHER_FACT, "sections[0].markdown"),
        (WarningKind.UNKNOWN_FACT, "sections[0].markdown"),
    ]
    assert warnings[0].cited == [LIST.id]
    assert warnings[0].facts == [QDN_MARGIN.id]
    assert warnings[1].text == "f_0123456789ab"
