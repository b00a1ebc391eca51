"""The analysis stage on small hand-made bundles: formulas, inputs, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

from execbrief.analysis import analyze
from execbrief.models import Bundle, Entity, Fact, MetricPeriod, MetricUnit, Severity, Source

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _fact(kind: str, entity: str | None, section: str, **fields: object) -> Fact:
    return Fact.create(
        collector="ledger" if kind.startswith("finance.") else "test",
        kind=kind,
        source=Source(path="books", section=section),
        entity=entity,
        title=str(fields.pop("title", f"{kind} {entity}")),
        **fields,
    )


def _bundle(*facts: Fact) -> Bundle:
    return Bundle(
        portfolio="Tiny Holdings",
        collected_at=NOW,
        entities=[Entity(id="boats", name="Boats"), Entity(id="labs", name="Labs")],
        facts=list(facts),
    )


def _ledger(entity: str, *, with_chart: bool) -> list[Fact]:
    expenses = {"expenses_usd_2026_10": 10075.0, "expenses_total_usd": 10075.0}
    if with_chart:
        expenses["cost_of_sales_usd_2026_10"] = 2000.0
    return [
        _fact(
            "finance.burn_monthly",
            entity,
            entity,
            metrics={"burn_monthly_usd": 2075.0, "gross_burn_monthly_usd": 10075.0, "months": 1},
        ),
        _fact("finance.expenses_monthly", entity, entity, metrics=expenses),
        _fact(
            "finance.revenue_monthly",
            entity,
            entity,
            metrics={"revenue_usd_2026_10": 8000.0, "revenue_avg_monthly_usd": 8000.0},
        ),
        _fact(
            "finance.revenue_by_stream",
            entity,
            entity,
            metrics={"repairs_usd": 8000.0, "repairs_share_pct": 100.0},
        ),
        _fact(
            "finance.break_even",
            entity,
            f"{entity} repair",
            metrics={
                "fixed_costs_monthly_usd": 8075.0,
                "unit_price_usd": 400.0,
                "unit_variable_cost_usd": 100.0,
                "contribution_margin_usd": 300.0,
                "break_even_units": 26.92,
            },
        ),
    ]


def _of(bundle: Bundle, kind: str) -> list[Fact]:
    return [f for f in bundle.facts if f.kind == kind]


def test_break_even_is_refused_when_fixed_and_variable_costs_are_not_split() -> None:
    bundle = analyze(_bundle(*_ledger("boats", with_chart=False)))

    [fact] = _of(bundle, "analysis.break_even")

    assert "not computed, fixed vs variable costs unknown" in fact.title
    assert "break_even_units" not in fact.metrics
    assert "not_computed" in fact.tags
    kpi = next(f for f in _of(bundle, "analysis.kpi") if "vs break-even" in f.title)
    assert "missing" in kpi.tags


def test_break_even_with_a_chart_states_formula_inputs_and_actual_units() -> None:
    ledger = _ledger("boats", with_chart=True)
    bundle = analyze(_bundle(*ledger))

    [fact] = _of(bundle, "analysis.break_even")

    assert fact.metrics["break_even_units_whole"] == 27
    assert fact.metrics["break_even_revenue_usd"] == 27 * 400
    assert fact.metrics["actual_units_monthly"] == 20  # 8,000 / 400
    assert "8,075.00 / 300.00 = 26.92" in fact.detail
    assert ledger[-1].id in fact.inputs
    assert fact.metric_types["break_even_revenue_usd"].unit is MetricUnit.USD
    assert fact.metric_types["break_even_units"].period is MetricPeriod.MONTH


def test_no_break_even_is_given_for_the_portfolio() -> None:
    portfolio = _fact(
        "finance.break_even",
        None,
        "portfolio charter",
        metrics={"contribution_margin_usd": 1.0, "break_even_units": 3.0},
    )
    bundle = analyze(_bundle(*_ledger("boats", with_chart=True), portfolio))

    assert [f.entity for f in _of(bundle, "analysis.break_even")] == ["boats"]


def test_an_entity_without_a_ledger_gets_assets_but_no_money_facts() -> None:
    zone = Fact.create(
        collector="aws_inventory",
        kind="aws.route53.zone",
        source=Source(resource="arn:aws:route53:::hostedzone/Z1"),
        entity="labs",
        title="Route53 zone labs.example.com (3 records)",
    )
    stray = Fact.create(
        collector="aws_inventory",
        kind="aws.s3.bucket",
        source=Source(resource="arn:aws:s3:::orphan-bucket"),
        title="S3 bucket orphan-bucket",
    )
    bundle = analyze(_bundle(*_ledger("boats", with_chart=True), zone, stray))

    inventory = {f.entity: f for f in _of(bundle, "analysis.inventory")}
    assert inventory["labs"].metrics == {"assets": 1, "domains": 1}
    assert "labs.example.com" in inventory["labs"].detail
    assert inventory[None].title.startswith("Unattributed: 1 assets")
    assert "orphan-bucket" in inventory[None].detail
    money_kinds = ("analysis.burn", "analysis.monthly", "analysis.break_even")
    assert not [f for f in bundle.facts if f.kind in money_kinds and f.entity == "labs"]


def test_burn_gives_gross_and_net_with_their_source() -> None:
    ledger = _ledger("boats", with_chart=True)
    bundle = analyze(_bundle(*ledger))

    [burn] = _of(bundle, "analysis.burn")

    assert burn.metrics["gross_burn_monthly_usd"] == 10075
    assert burn.metrics["net_burn_monthly_usd"] == 2075
    assert burn.inputs == [ledger[0].id]
    assert burn.title == "Boats: gross burn 10,075.00 USD/month, net burn 2,075.00"


def test_secrets_in_code_and_in_lambda_env_are_one_shortfall_ranked_above_blockers() -> None:
    key = Fact.create(
        collector="code_audit",
        kind="secret.hardcoded",
        source=Source(path="app.py", line=3, resource="app"),
        entity="boats",
        severity=Severity.CRITICAL,
        title="Stripe live secret key in app.py:3",
        key="abc",
    )
    env = Fact.create(
        collector="aws_inventory",
        kind="aws.lambda.secret_env_name",
        source=Source(resource="arn:aws:lambda:us-west-2:1:function:app", section="env:STRIPE"),
        entity="boats",
        severity=Severity.HIGH,
        title="Lambda app keeps a secret in environment variable STRIPE_SECRET_KEY",
    )
    blocker = Fact.create(
        collector="handoffs",
        kind="handoff.blocker",
        source=Source(path="handoffs/boats.md", line=9, section="Pipeline"),
        entity="boats",
        severity=Severity.HIGH,
        title="Blocked: listing needs the captain's license scan.",
        tags=["blocker", "pipeline"],
    )
    bundle = analyze(_bundle(blocker, env, key))

    shortfalls = sorted(_of(bundle, "analysis.shortfall"), key=lambda f: f.metrics["rank"])

    assert len(shortfalls) == 2
    assert set(shortfalls[0].inputs) == {key.id, env.id}
    assert shortfalls[0].severity is Severity.CRITICAL
    assert shortfalls[1].inputs == [blocker.id]
    assert "stops money coming in" in shortfalls[1].detail


def test_a_numbered_list_in_a_note_becomes_an_ordered_sequence() -> None:
    section = Fact.create(
        collector="handoffs",
        kind="handoff.section",
        source=Source(path="handoffs/boats.md", line=4, section="Marketing"),
        entity="boats",
        title="Boats handoff: Marketing",
        detail="### OTA sequencing\n\n1. Sailo first.\n2. GetMyBoat second,\n   once reviewed.\n"
        "3. Viator last.\n\n- TODO: list on Sailo (by 2026-12-20).",
        tags=["marketing"],
    )
    bundle = analyze(_bundle(section))

    [sequence] = _of(bundle, "analysis.sequence")
    [milestone] = _of(bundle, "analysis.milestone")

    assert sequence.detail.endswith(
        "1. Sailo first.\n2. GetMyBoat second, once reviewed.\n3. Viator last."
    )
    assert "ota_sequencing" in sequence.tags
    assert milestone.title.startswith("2026-12-20 (Boats)")
    assert milestone.metrics["days_from_collection"] == 19


def test_analyze_is_idempotent() -> None:
    once = analyze(_bundle(*_ledger("boats", with_chart=True)))

    assert analyze(once) == once
