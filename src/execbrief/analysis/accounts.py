"""The chart of accounts the ledger implies and journal-entry templates for the recurring
entry types it shows."""

from __future__ import annotations

from execbrief.models import Bundle, Fact, MetricType, Severity

from .common import COUNT, PERCENT, USD, derived, entity_names, money, of_kind


def chart_of_accounts(bundle: Bundle) -> list[Fact]:
    """Revenue categories with totals, expenses per entity, and the uncategorized share."""
    names = entity_names(bundle)
    streams = [f for f in of_kind(bundle, "finance.revenue_by_stream") if f.entity is not None]
    expenses = [f for f in of_kind(bundle, "finance.expenses_monthly") if f.entity is not None]
    if not streams and not expenses:
        return []
    loose = of_kind(bundle, "finance.uncategorized")
    unknown = of_kind(bundle, "finance.unknown_account")
    lines = [
        "| Account (ledger category) | Type | Entity | Total USD |",
        "| --- | --- | --- | --- |",
    ]
    revenue_total = 0.0
    for fact in streams:
        for name, value in sorted(fact.metrics.items()):
            if (
                name.endswith("_usd")
                and not name.endswith("_share_pct")
                and name != "revenue_total_usd"
            ):
                lines.append(
                    f"| {name.removesuffix('_usd')} | revenue | {names[fact.entity]} "
                    f"| {money(value)} |"
                )
                revenue_total += value
    expense_total = 0.0
    for fact in expenses:
        total = fact.metrics.get("expenses_total_usd", 0.0)
        expense_total += total
        lines.append(
            f"| expenses (all categories) | expense | {names[fact.entity]} | {money(total)} |"
        )
    loose_usd = sum(f.metrics.get("gross_usd", 0.0) for f in loose)
    loose_n = sum(f.metrics.get("entries", 0.0) for f in loose)
    unknown_n = sum(f.metrics.get("entries", 0.0) for f in unknown)
    volume = revenue_total + expense_total
    share = loose_usd / volume * 100 if volume else 0.0
    metrics: dict[str, tuple[float, MetricType]] = {
        "revenue_accounts": (sum(1 for line in lines if "| revenue |" in line), COUNT),
        "uncategorized_entries": (loose_n, COUNT),
        "uncategorized_gross_usd": (loose_usd, USD),
        "uncategorized_share_pct": (share, PERCENT),
        "unknown_account_entries": (unknown_n, COUNT),
    }
    return [
        derived(
            bundle,
            "analysis.chart_of_accounts",
            "chart_of_accounts portfolio",
            title=(
                "Chart of accounts implied by the ledger: "
                f"{metrics['revenue_accounts'][0]:.0f} revenue "
                f"accounts; {loose_n:.0f} uncategorized entries ({share:.2f}% of ledger volume)"
            ),
            detail=(
                "Revenue accounts are the ledger categories revenue was booked to (totals over "
                "the complete months); expense categories are not in the bundle, so expenses "
                "show as one total per entity. uncategorized_share_pct = uncategorized gross "
                f"{money(loose_usd)} / (revenue {money(revenue_total)} + expenses "
                f"{money(expense_total)}) x 100 = {share:.2f}.\n" + "\n".join(lines)
            ),
            inputs=[f.id for f in streams + expenses + loose + unknown],
            metrics=metrics,
            severity=Severity.LOW if loose_n or unknown_n else Severity.INFO,
            tags=["accounting"],
        )
    ]


def journal_templates(bundle: Bundle) -> list[Fact]:
    """One template per recurring entry type the evidence shows."""
    streams: dict[str, list[str]] = {}
    for fact in of_kind(bundle, "finance.revenue_by_stream"):
        if fact.entity is None:
            continue
        for name in fact.metrics:
            if (
                name.endswith("_usd")
                and name != "revenue_total_usd"
                and name != "uncategorized_usd"
            ):
                streams.setdefault(name.removesuffix("_usd"), []).append(fact.id)
    templates: list[tuple[str, str, list[str]]] = []
    for stream, ids in sorted(streams.items()):
        if stream.startswith("stripe"):
            templates.append(
                (
                    "Stripe sale",
                    "Dr Stripe clearing (gross charge); Cr revenue for the entity's sales "
                    "(the booking id in the memo). Then Dr payment processing fees, "
                    "Cr Stripe clearing "
                    "for Stripe's fee; on payout Dr operating cash, Cr Stripe clearing.",
                    ids,
                )
            )
        else:
            templates.append(
                (
                    f"{stream.replace('_', ' ').capitalize()} received",
                    f"Dr operating cash; Cr {stream.replace('_', ' ')} revenue, "
                    "with the entity and "
                    "the invoice or period in the memo.",
                    ids,
                )
            )
    aws = [f.id for f in of_kind(bundle, "analysis.aws_spend")]
    if aws:
        templates.append(
            (
                "Monthly AWS invoice",
                "Dr hosting and cloud, split by entity in the tagged shares (untagged to the "
                "platform entity); Cr operating cash.",
                aws,
            )
        )
    loose = [f.id for f in of_kind(bundle, "finance.uncategorized", "finance.unknown_account")]
    if loose:
        templates.append(
            (
                "Reclassify an uncategorized entry",
                "Dr the expense account the receipt shows; Cr suspense (uncategorized), with the "
                "original date and memo.",
                loose,
            )
        )
    return [
        derived(
            bundle,
            "analysis.journal_template",
            f"journal_template {name}",
            title=f"Journal-entry template: {name}",
            detail=f"{entry} Recurring in the evidence: {len(ids)} source fact(s).",
            inputs=ids,
            tags=["accounting"],
        )
        for name, entry, ids in templates
    ]
