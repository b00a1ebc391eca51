"""The KPI catalogue each lens needs: present with its value and source, or missing with
the cheapest source that would produce it. Never filled with a benchmark or an estimate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from execbrief.models import Bundle, Fact, MetricType, Severity

from .common import (
    COUNT,
    COUNT_MONTH,
    MONTHS,
    PERCENT,
    USD,
    USD_MONTH,
    derived,
    entity_names,
    money,
    of_kind,
)

FIELDS = ("KPI", "Value", "Formula", "Source", "Decision")


@dataclass(frozen=True)
class Reading:
    """One KPI's value for one entity (None: the portfolio), and where it comes from."""

    entity: str | None
    value: float | None
    unit: MetricType
    formula: str
    inputs: list[str]
    target: float | None = None


@dataclass(frozen=True)
class KpiSpec:
    key: str
    name: str
    """Dashboard name; `{entity}` and `{unit}` are filled in."""
    lenses: tuple[str, ...]
    source: str
    """The cheapest data source that would produce it when missing."""
    decision: str
    read: Callable[[Bundle], list[Reading]]
    per_seller: bool = False
    """Also reported missing for each entity that sells units (bookings or unit economics)."""


def _metric_readings(
    bundle: Bundle, match: Callable[[str], bool], unit: MetricType, *, total: bool = False
) -> list[Reading]:
    """Readings from handoff-note table metrics whose names match, per entity."""
    found: dict[str | None, list[tuple[str, float, str]]] = {}
    for fact in of_kind(bundle, "handoff.section"):
        for name, value in sorted(fact.metrics.items()):
            if match(name):
                found.setdefault(fact.entity, []).append((name, value, fact.id))
    out = []
    for entity, hits in found.items():
        if total:
            value = sum(v for _, v, _ in hits)
            formula = " + ".join(f"{n} {money(v)}" for n, v, _ in hits) + f" = {money(value)}"
        else:
            name, value, _ = hits[0]
            formula = f"{name} as the note states it"
        out.append(Reading(entity, value, unit, formula, sorted({i for _, _, i in hits})))
    return out


def _portfolio(read: Callable[[Bundle], list[Reading]]) -> Callable[[Bundle], list[Reading]]:
    """Only the readings for the whole portfolio, not those of one entity."""
    return lambda bundle: [r for r in read(bundle) if r.entity is None]


def _analysis_metric(kind: str, metric: str, unit: MetricType) -> Callable[[Bundle], list[Reading]]:
    def read(bundle: Bundle) -> list[Reading]:
        return [
            Reading(f.entity, f.metrics[metric], unit, f"{metric} of {f.id}", [f.id])
            for f in of_kind(bundle, kind)
            if metric in f.metrics and (f.entity is None or kind != "analysis.aws_spend")
        ]

    return read


def _entity_revenue(bundle: Bundle) -> list[Reading]:
    return [
        Reading(
            f.entity,
            f.metrics["revenue_avg_monthly_usd"],
            USD_MONTH,
            f"revenue_avg_monthly_usd of {f.id}",
            [f.id],
        )
        for f in of_kind(bundle, "analysis.monthly")
        if f.entity is not None and "revenue_avg_monthly_usd" in f.metrics
    ]


def _units_vs_break_even(bundle: Bundle) -> list[Reading]:
    out = []
    for f in of_kind(bundle, "analysis.break_even"):
        if "actual_units_monthly" in f.metrics:
            out.append(
                Reading(
                    f.entity,
                    f.metrics["actual_units_monthly"],
                    COUNT_MONTH,
                    f"actual_units_monthly against break_even_units_whole of {f.id}",
                    [f.id],
                    f.metrics.get("break_even_units_whole"),
                )
            )
        elif "not_computed" in f.tags:
            out.append(Reading(f.entity, None, COUNT_MONTH, f.title, [f.id]))
    return out


def _booking_conversion(bundle: Bundle) -> list[Reading]:
    out = []
    for f in of_kind(bundle, "aws.dynamodb.items"):
        total = f.metrics.get("total", 0.0)
        paid = sum(
            v
            for k, v in f.metrics.items()
            if k.startswith("status_") and ("paid" in k or "confirmed" in k or "sailed" in k)
        )
        if total > 0:
            out.append(
                Reading(
                    f.entity,
                    paid / total * 100,
                    PERCENT,
                    f"paid or confirmed items / all items = {paid:.0f} / {total:.0f} x 100",
                    [f.id],
                )
            )
    return out


def _pipeline(bundle: Bundle) -> list[Reading]:
    out = _metric_readings(bundle, lambda n: n == "pipeline_value_usd", USD)
    stated = {r.entity for r in out}
    for f in of_kind(bundle, "handoff.section"):
        counts = [v for k, v in f.metrics.items() if k.endswith("_count")]
        if "pipeline" in f.tags and f.entity not in stated and counts and not any(counts):
            out.append(
                Reading(f.entity, 0.0, USD, "every stage of the note's pipeline table is 0", [f.id])
            )
    return out


def _receivables(bundle: Bundle) -> list[Reading]:
    """A note's stated total when it has one, else the per-client balances of one table."""
    stated = _metric_readings(
        bundle, lambda n: "receivable" in n and "total" in n and n.endswith("_usd"), USD
    )
    have = {r.entity for r in stated}
    best: dict[str | None, Fact] = {}
    for fact in of_kind(bundle, "handoff.section"):
        count = sum(1 for n in fact.metrics if "receivable" in n and n.endswith("_usd"))
        if count and fact.entity not in have:
            current = best.get(fact.entity)
            if current is None or count > sum(1 for n in current.metrics if "receivable" in n):
                best[fact.entity] = fact
    for entity, fact in best.items():
        parts = {
            n: v
            for n, v in sorted(fact.metrics.items())
            if "receivable" in n and n.endswith("_usd")
        }
        total = sum(parts.values())
        formula = " + ".join(f"{n} {money(v)}" for n, v in parts.items()) + f" = {money(total)}"
        stated.append(Reading(entity, total, USD, formula, [fact.id]))
    return stated


CATALOGUE: tuple[KpiSpec, ...] = (
    KpiSpec(
        "aws_spend",
        "Monthly AWS spend",
        ("ceo", "cto", "cfo"),
        "Cost Explorer via sources.aws (ce:GetCostAndUsage)",
        "which AWS savings to take first",
        _analysis_metric("analysis.aws_spend", "avg_monthly_usd", USD_MONTH),
    ),
    KpiSpec(
        "gross_burn",
        "Portfolio gross burn",
        ("ceo", "cfo"),
        "the bank and Stripe exports in sources.ledger",
        "the monthly spending ceiling",
        _portfolio(_analysis_metric("analysis.burn", "gross_burn_monthly_usd", USD_MONTH)),
    ),
    KpiSpec(
        "net_burn",
        "Portfolio net burn",
        ("ceo", "cfo"),
        "the bank and Stripe exports in sources.ledger",
        "how much cash each month draws down",
        _portfolio(_analysis_metric("analysis.burn", "net_burn_monthly_usd", USD_MONTH)),
    ),
    KpiSpec(
        "runway",
        "Runway if revenue stopped",
        ("ceo", "cfo"),
        "sources.ledger.cash_balance in execbrief.yaml",
        "how much risk the next investment may take",
        _analysis_metric("analysis.runway", "runway_if_revenue_stops_months", MONTHS),
    ),
    KpiSpec(
        "revenue",
        "{entity} monthly revenue",
        ("ceo", "cfo", "accounting"),
        "ledger rows carrying the entity id",
        "which entity to push, hold or wind down",
        _entity_revenue,
    ),
    KpiSpec(
        "units_vs_break_even",
        "{entity} sales per month vs break-even",
        ("ceo", "cfo", "cmo"),
        "unit economics (<unit>_price, <unit>_variable_cost) and a chart of accounts",
        "whether to spend on demand or on cost",
        _units_vs_break_even,
    ),
    KpiSpec(
        "booking_conversion",
        "{entity} booking conversion (inquiry to paid)",
        ("ceo", "cmo", "cto"),
        "a status attribute on the bookings table (sources.aws.project_table)",
        "whether to fix the funnel before buying traffic",
        _booking_conversion,
        per_seller=True,
    ),
    KpiSpec(
        "average_booking_value",
        "{entity} average booking value",
        ("ceo", "cmo", "cfo"),
        "a Stripe export with a booking id on each charge",
        "pricing and which packages to promote",
        lambda b: _metric_readings(
            b,
            lambda n: (
                "average" in n
                and n.endswith("_usd")
                and any(w in n for w in ("price", "ticket", "booking", "fee"))
            ),
            USD,
        ),
        per_seller=True,
    ),
    KpiSpec(
        "cac",
        "{entity} customer acquisition cost",
        ("ceo", "cmo", "cfo"),
        "marketing spend per channel (the ledger's marketing category) and new customers "
        "per channel",
        "which channel gets the next marketing dollar",
        lambda b: _metric_readings(
            b, lambda n: "cac" in n.split("_") or "cost_per_acquired" in n, USD
        ),
        per_seller=True,
    ),
    KpiSpec(
        "ltv",
        "{entity} customer lifetime value",
        ("ceo", "cmo"),
        "a Stripe customer export (customer id on every charge)",
        "how much a new customer is worth acquiring",
        lambda b: _metric_readings(b, lambda n: "lifetime" in n or "ltv" in n.split("_"), USD),
        per_seller=True,
    ),
    KpiSpec(
        "repeat_rate",
        "{entity} repeat-booking rate",
        ("ceo", "cmo"),
        "the guest's email on each item of the bookings table",
        "whether to invest in the existing list or in new reach",
        lambda b: _metric_readings(
            b,
            lambda n: (
                any(w in n for w in ("repeat", "churn", "retention"))
                and (n.endswith("_pct") or "rate" in n)
            ),
            PERCENT,
        ),
        per_seller=True,
    ),
    KpiSpec(
        "pipeline_value",
        "{entity} pipeline value",
        ("ceo", "cfo"),
        "a pipeline table (stage, value) in the entity's handoff note",
        "where owner selling time goes",
        _pipeline,
    ),
    KpiSpec(
        "receivables",
        "{entity} receivables outstanding",
        ("ceo", "cfo", "accounting"),
        "an invoice export (open invoices with due dates)",
        "which balance to chase first",
        _receivables,
    ),
    KpiSpec(
        "email_list",
        "{entity} email list size",
        ("cmo",),
        "the mailing-list export",
        "whether an email campaign can fill the calendar",
        lambda b: _metric_readings(b, lambda n: n in ("email_list", "email_list_contacts"), COUNT),
    ),
    KpiSpec(
        "ota_listings",
        "{entity} OTA listings live",
        ("cmo", "ceo"),
        "the OTA partner dashboards",
        "which marketplace to list on next",
        lambda b: _metric_readings(b, lambda n: n == "ota_listings", COUNT),
    ),
)


def kpi_field(fact: Fact, field: str) -> str:
    """One `Field: text` line of a KPI fact's detail (KPI, Value, Formula, Source, Decision)."""
    prefix = f"{field}: "
    for line in fact.detail.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    return ""


def _render(spec: KpiSpec, entity_label: str) -> str:
    return spec.name.replace("{entity}", entity_label).strip()


def kpi_catalogue(bundle: Bundle) -> list[Fact]:
    """Every catalogue KPI: one fact per entity it was read for, or one `missing` fact."""
    names = entity_names(bundle)
    out: list[Fact] = []
    sellers = [
        f.entity for f in of_kind(bundle, "aws.dynamodb.items", "finance.break_even") if f.entity
    ]
    for spec in CATALOGUE:
        readings = spec.read(bundle)
        if spec.per_seller:
            read_for = {r.entity for r in readings}
            for entity in dict.fromkeys(sellers):
                if entity not in read_for:
                    readings.append(Reading(entity, None, USD, "", []))
        for reading in readings or [Reading(None, None, USD, "", [])]:
            out.append(_fact(bundle, spec, reading, names))
    return out


def _fact(bundle: Bundle, spec: KpiSpec, r: Reading, names: dict[str | None, str]) -> Fact:
    label = names[r.entity] if r.entity else ("Portfolio" if "{entity}" in spec.name else "")
    name = _render(spec, label)
    missing = r.value is None
    value_text = "missing" if missing else _shown(r.value or 0.0, r.unit)
    if r.target is not None and not missing:
        value_text += f" (break-even {r.target:.0f})"
    metrics: dict[str, tuple[float, MetricType]] = {}
    if r.value is not None:
        metrics["value"] = (r.value, r.unit)
    if r.target is not None:
        metrics["target"] = (r.target, r.unit)
    lines = {
        "KPI": name,
        "Value": value_text,
        "Formula": r.formula or "not in the evidence",
        "Source": spec.source if missing else "the cited facts",
        "Decision": spec.decision,
    }
    return derived(
        bundle,
        "analysis.kpi",
        f"kpi {spec.key} {r.entity or 'portfolio'}",
        entity=r.entity,
        title=f"{name}: {value_text}",
        detail="\n".join(f"{k}: {v}" for k, v in lines.items()),
        inputs=r.inputs,
        metrics=metrics,
        severity=Severity.LOW if missing else Severity.INFO,
        tags=["kpi", "missing" if missing else "present", *spec.lenses],
    )


def _shown(value: float, unit: MetricType) -> str:
    text = {
        "usd": f"{money(value)} USD",
        "percent": f"{value:.1f}%",
        "months": f"{value:.1f} months",
    }
    shown = text.get(unit.unit.value, f"{value:,.1f}".removesuffix(".0"))
    return shown + ("/month" if unit.period.value == "month" else "")


def iter_kpis(facts: list[Fact]) -> Iterator[Fact]:
    """KPI facts among `facts`, present ones first, in catalogue order."""
    order = {spec.key: i for i, spec in enumerate(CATALOGUE)}
    kpis = [f for f in facts if f.kind == "analysis.kpi"]

    def rank(f: Fact) -> tuple[bool, int, str]:
        key = (f.source.section or "").split(" ")[1] if f.source.section else ""
        return ("missing" in f.tags, order.get(key, len(order)), f.title)

    yield from sorted(kpis, key=rank)
