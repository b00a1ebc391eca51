"""The offline briefs of the example portfolio, section by section: what each contains."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief import pipeline
from execbrief.config import load_workspace
from execbrief.generate import select_facts
from execbrief.grounding import GroundingIndex
from execbrief.llm.offline import build_offline_report
from execbrief.models import Bundle, Fact, Report

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CORE = ("ceo", "cto", "cfo", "cmo", "accounting")
ALL = (*CORE, "rental", "yacht_delivery", "client_portfolio")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bundle, dict[str, Report]]:
    root = tmp_path_factory.mktemp("offline") / "examples" / "portfolio"
    shutil.copytree(EXAMPLE, root)
    workspace = load_workspace(root)
    _, bundle = pipeline.collect(workspace, now=NOW)
    reports = {
        p.id: build_offline_report(p, select_facts(p, bundle))
        for p in pipeline.personas_for(workspace, [])
    }
    return bundle, reports


def _section(report: Report, section_id: str) -> str:
    return next(s.markdown for s in report.sections if s.id == section_id)


def _one(bundle: Bundle, kind: str, entity: str | None, *words: str) -> Fact:
    [fact] = [
        f
        for f in bundle.facts
        if f.kind == kind and f.entity == entity and all(w in f.title for w in words)
    ]
    return fact


@pytest.mark.parametrize("persona", ALL)
def test_no_two_sections_of_a_brief_are_the_same(
    example: tuple[Bundle, dict[str, Report]], persona: str
) -> None:
    sections = [s.markdown for s in example[1][persona].sections]

    assert len(set(sections)) == len(sections)


@pytest.mark.parametrize("persona", ALL)
def test_recommendation_owners_are_roles_not_the_persona(
    example: tuple[Bundle, dict[str, Report]], persona: str
) -> None:
    report = example[1][persona]

    assert {r.owner for r in report.recommendations} <= {
        "owner",
        "developer (contractor)",
        "bookkeeper",
    }


def test_ceo_brief_inventories_every_asset_and_ranks_business_shortfalls(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    ceo = reports["ceo"]
    inventory = _section(ceo, "asset_inventory")
    zones = [f for f in bundle.facts if f.kind == "aws.route53.zone"]
    buckets = [f for f in bundle.facts if f.kind == "aws.s3.bucket"]

    assert len(zones) == 5 and len(buckets) == 4
    assert all(f"`{f.id}`" in inventory for f in zones + buckets)
    assert "| DynamoDB table | qosd-bookings |" in inventory
    assert "**Unattributed**" in inventory

    shortfalls = _section(ceo, "critical_shortfalls")
    assert shortfalls.startswith("1. **QueenofSanDiego** — Stripe secrets readable in 3 places")
    ota = _one(bundle, "analysis.shortfall", "jada", "Marketing at zero")
    empty_pipeline = _one(bundle, "analysis.shortfall", "dangerouscentaur", "Pipeline at zero")
    assert f"`{ota.id}`" in shortfalls and f"`{empty_pipeline.id}`" in shortfalls

    kpis = _section(ceo, "missing_kpis")
    assert kpis.startswith("| KPI | Value | Source | Decision it informs | Evidence |")
    assert "| JADA customer acquisition cost | missing |" in kpis
    assert "| Monthly AWS spend | 67.74 USD/month |" in kpis
    assert "Count (jada)" not in kpis and "_usd" not in kpis.split("| Evidence |")[0]

    agenda = _section(ceo, "thirty_day_agenda")
    assert "| developer (contractor) | day 7 | delegate |" in agenda
    assert agenda != shortfalls
    assert ceo.recommendations[0].owner in {"owner", "developer (contractor)"}


def test_cfo_brief_states_gross_and_net_burn_and_break_even_per_entity(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    cfo = reports["cfo"]
    jada_burn = _one(bundle, "analysis.burn", "jada")
    jada_be = _one(bundle, "analysis.break_even", "jada")

    qdn_burn = _one(bundle, "analysis.burn", "quickdumpnow")

    burn = _section(cfo, "burn_model")
    assert "| Net burn / month | Net cash in / month |" in burn
    assert (
        f"| JADA | 7,648.67 | 2,365.33 | — | 6 units/month | `{jada_burn.id}` `{jada_be.id}` |"
        in burn
    )
    # a negative net burn is written as the cash it brings in, never as "-1,282.00"
    assert f"| QuickDumpNow | 2,728.00 | — | 1,282.00 | not computed | `{qdn_burn.id}`" in burn
    assert not re.search(r"\| -\d", burn)
    assert "Runway:" in burn

    break_even = _section(cfo, "break_even")
    assert break_even.startswith("- **JADA**: break-even at 5.7 charters a month (6 whole)")
    assert "QuickDumpNow**: break-even not computed, no unit economics" in break_even
    assert "Harbor & Hill Holdings: break-even" not in break_even

    targets = _section(cfo, "monthly_targets")
    assert "| JADA | 5,833.33 | 8,700.00 | break-even, 6 units |" in targets
    assert "no lifecycle" not in _section(cfo, "capital_deployment")


def test_cmo_brief_has_a_channel_matrix_and_the_notes_ota_sequence(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    cmo = reports["cmo"]

    assert "| JADA | email list | 3,676 |" in _section(cmo, "channel_matrix")
    sequence = _section(cmo, "ota_sequencing")
    assert sequence.index("1. Sailo first") < sequence.index("2. GetMyBoat second")
    assert sequence.index("2. GetMyBoat") < sequence.index("3. Viator / GetYourGuide last")
    milestones = _section(cmo, "milestones")
    sailo = _one(bundle, "analysis.milestone", "jada", "Sailo listing copy")
    assert milestones.startswith("- **By day 30**")
    assert f"`{sailo.id}`" in milestones.split("**By day 60**")[0]


def test_accounting_brief_has_a_chart_of_accounts_and_journal_templates(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    accounting = reports["accounting"]
    chart = _one(bundle, "analysis.chart_of_accounts", None)

    assert f"`{chart.id}`" in _section(accounting, "chart_of_accounts")
    assert "| stripe_sales | revenue | JADA | 35,000.00 |" in _section(
        accounting, "chart_of_accounts"
    )
    assert "**Stripe sale**: Dr Stripe clearing" in _section(accounting, "general_ledger_design")
    roadmap = _section(accounting, "quarterly_roadmap")
    assert "2027-01-31 (DangerousCentaur client portfolio): Bayline Dental" in roadmap
    assert "(3028 51st St rental)" not in roadmap  # a roof repair is not the books' plan


def test_cto_brief_puts_cost_and_savings_apart_from_security(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    cto = reports["cto"]
    saving = _one(bundle, "analysis.aws_savings", "queenofsandiego", "Savings of 25.00")

    cost = _section(cto, "aws_cost")
    assert f"25.00 USD/month `{saving.id}`" in cost
    assert "is public" not in cost
    assert "SES in us-west-2 is in the sandbox" not in _section(cto, "ux_gaps")
    assert _section(cto, "engineering_actions") != _section(cto, "security_gaps")


def test_an_offline_note_is_shown_as_the_analysts_and_not_acted_on(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, _ = example
    workspace_persona = next(
        p for p in pipeline.personas_for(load_workspace(EXAMPLE), ["ceo"]) if p.id == "ceo"
    )

    report = build_offline_report(
        workspace_persona, select_facts(workspace_persona, bundle), "Focus on JADA."
    )

    assert "Analyst's note: \u201cFocus on JADA.\u201d. No model acted on it" in report.summary


def test_the_offline_briefs_of_every_persona_are_grounding_clean(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    lenses = {p.id: p for p in pipeline.personas_for(load_workspace(EXAMPLE), [])}
    index = GroundingIndex(bundle)

    warnings = {
        persona: [f"{w.kind.value} {w.where}: {w.text!r} ({w.detail})" for w in found]
        for persona, report in reports.items()
        if (found := index.check(report, lenses[persona]))
    }

    assert set(reports) == set(ALL)
    assert warnings == {}


def test_a_kpi_carries_the_unit_its_fact_states(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    repeat = _one(bundle, "analysis.kpi", "dc_client_portfolio", "repeat-booking")
    [kpi] = [k for k in reports["cmo"].kpis if k.evidence == [repeat.id]]
    assert (kpi.value, kpi.unit) == (25.0, "%")
    burn = [k for k in reports["cfo"].kpis if k.unit == "USD/month"]
    assert burn, [(k.name, k.unit) for k in reports["cfo"].kpis]


def test_cmo_email_campaign_is_audience_channel_and_a_gated_sequence(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    campaign = _section(reports["cmo"], "email_campaign")
    marketing = _one(bundle, "handoff.section", "jada", "Marketing")
    sandbox = _one(bundle, "aws.ses.sandbox", None)

    assert campaign.startswith("**Audience**")
    assert "Email list: 3,676 contacts (past guests, event sign-ups, the 2024 boat show " in (
        campaign
    )
    assert f"No sends since. `{marketing.id}`" in campaign
    assert "| sandbox | SES in us-west-2 is in the sandbox |" in campaign
    sequence = campaign.split("**Sequence and milestones**")[1]
    consent = sequence.index("Confirm the list's consent")
    gate = sequence.index("Request SES production access: SES in us-west-2 is in the sandbox")
    send = sequence.index("Send the first campaign to the email list (3,676)")
    assert consent < gate < send < sequence.index("Measure:")
    assert f"`{sandbox.id}`" in sequence
    assert "~$49K" in campaign.split("**The notes' own model**")[1]


def test_cto_security_gaps_are_grouped_by_system_with_owner_and_fix(
    example: tuple[Bundle, dict[str, Report]],
) -> None:
    bundle, reports = example
    gaps = _section(reports["cto"], "security_gaps")
    routes = [
        f
        for f in bundle.facts
        if f.kind == "auth.endpoint_unauthenticated" and f.title.startswith("Lambda route")
    ]

    assert gaps.startswith("**repository queenofsandiego-app** (queenofsandiego)")
    [row] = [line for line in gaps.splitlines() if "Lambda route" in line]
    assert row.startswith("| Put authentication in front of it | high |")
    assert f"({len(routes)} alike)" in row and "| developer (contractor) |" in row
    assert all(f"`{f.id}`" in row for f in routes)
    assert "**Lambda qosd-ship-captain-crew** (queenofsandiego)" in gaps
    assert "**S3 bucket quickdumpnow-site** (quickdumpnow)" in gaps
    spanning = gaps.split("One problem in several systems")[1]
    assert "Stripe secrets readable in 3 places" in spanning
    assert "Lambda qosd-ship-captain-crew, repository queenofsandiego-app" in spanning
