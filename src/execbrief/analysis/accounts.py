"""The chart of accounts the ledger implies and journal-entry templates for the recurring
entry types it shows, both read from the ledger's `finance.category_totals` facts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from execbrief.models import Bundle, Fact, MetricType, Severity

from .common import COUNT, PERCENT, USD, derived, entity_names, entity_order, money, of_kind

TYPE_ORDER = ("revenue", "cost_of_sales", "expense", "asset", "liability", "equity")
UNCATEGORIZED = "uncategorized"
COSTS = ("cost_of_sales", "expense")
RECURRING_MONTHS = 2
"""An entry type is recurring when its category has entries in this many complete months."""
CENT = 0.005


@dataclass(frozen=True)
class CategoryLine:
    """One category of one entity (None: entries no entity claims) over complete months."""

    kind: str
    category: str
    entity: str | None
    total: float
    months: int
    fact: str


def category_lines(fact: Fact) -> list[CategoryLine]:
    """The `<type>_<category>_usd` metrics of a category-totals fact, as lines."""
    # Longest prefix first, so cost_of_sales_x is not read as a type "cost".
    prefixes = sorted(TYPE_ORDER, key=len, reverse=True)
    lines = []
    for name, value in fact.metrics.items():
        if not name.endswith("_usd"):
            continue
        stem = name.removesuffix("_usd")
        if stem == UNCATEGORIZED:
            kind, category = UNCATEGORIZED, UNCATEGORIZED
        else:
            found = next((t for t in prefixes if stem.startswith(t + "_")), None)
            if found is None:
                continue
            kind, category = found, stem.removeprefix(found + "_")
        months = int(fact.metrics.get(f"{stem}_months_seen", 0))
        lines.append(CategoryLine(kind, category, fact.entity, value, months, fact.id))
    return lines


def _lines(bundle: Bundle) -> tuple[list[CategoryLine], list[Fact]]:
    """Every entity's category lines, plus the portfolio's remainder as unattributed."""
    facts = of_kind(bundle, "finance.category_totals")
    lines = [line for f in facts if f.entity is not None for line in category_lines(f)]
    attributed: dict[tuple[str, str], float] = defaultdict(float)
    for line in lines:
        attributed[(line.kind, line.category)] += line.total
    for fact in (f for f in facts if f.entity is None):
        for line in category_lines(fact):
            rest = line.total - attributed[(line.kind, line.category)]
            if abs(rest) >= CENT:
                lines.append(
                    CategoryLine(line.kind, line.category, None, rest, line.months, fact.id)
                )
    return lines, facts


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def chart_of_accounts(bundle: Bundle) -> list[Fact]:
    """Every ledger category with its type and total per entity, the uncategorized share
    of the ledger's volume, overall and per entity."""
    lines, facts = _lines(bundle)
    if not facts:
        return []
    names = entity_names(bundle)
    names[None] = "Unattributed"
    order = entity_order(bundle)
    kinds = {kind: n for n, kind in enumerate((*TYPE_ORDER, UNCATEGORIZED))}
    lines.sort(key=lambda c: (kinds[c.kind], c.category, order[c.entity]))
    table = [
        "| Account (ledger category) | Type | Entity | Total USD |",
        "| --- | --- | --- | --- |",
    ]
    for line in lines:
        shown = "(no category)" if line.kind == UNCATEGORIZED else line.category
        table.append(
            f"| {shown} | {_label(line.kind)} | {names[line.entity]} | {money(line.total)} |"
        )
    revenue = sum(c.total for c in lines if c.kind == "revenue")
    costs = sum(c.total for c in lines if c.kind in COSTS)
    loose = sum(c.total for c in lines if c.kind == UNCATEGORIZED)
    volume = revenue + costs + loose
    share = loose / volume * 100 if volume else 0.0
    per_entity = _entity_shares(lines, names, order)
    categorised = {(c.kind, c.category) for c in lines if c.kind != UNCATEGORIZED}
    unknown = of_kind(bundle, "finance.unknown_account")
    loose_facts = of_kind(bundle, "finance.uncategorized")
    loose_n = sum(f.metrics.get("entries", 0.0) for f in loose_facts)
    unknown_n = sum(f.metrics.get("entries", 0.0) for f in unknown)
    metrics: dict[str, tuple[float, MetricType]] = {
        "categories": (len(categorised), COUNT),
        "revenue_categories": (sum(1 for k, _ in categorised if k == "revenue"), COUNT),
        "cost_categories": (sum(1 for k, _ in categorised if k in COSTS), COUNT),
        "revenue_usd": (revenue, USD),
        "costs_usd": (costs, USD),
        "uncategorized_entries": (loose_n, COUNT),
        "uncategorized_gross_usd": (loose, USD),
        "uncategorized_share_pct": (share, PERCENT),
        "unknown_account_entries": (unknown_n, COUNT),
    }
    if categorised:
        what = (
            f"{len(categorised)} ledger categories ({metrics['revenue_categories'][0]:.0f} "
            f"revenue, {metrics['cost_categories'][0]:.0f} cost)"
        )
    else:
        what = "no categories, every entry is uncategorized"
    return [
        derived(
            bundle,
            "analysis.chart_of_accounts",
            "chart_of_accounts portfolio",
            title=(
                f"Chart of accounts implied by the ledger: {what}; uncategorized "
                f"{share:.2f}% of ledger volume"
            ),
            detail=(
                "Each ledger category with the type of the account it posts to (the chart "
                "of accounts'; without one, revenue or expense by sign) and its total per "
                "entity over the complete months; costs as spent, balance-sheet moves as "
                f"booked. uncategorized_share_pct = uncategorized gross {money(loose)} / "
                f"(revenue {money(revenue)} + costs {money(costs)} + uncategorized gross "
                f"{money(loose)}) x 100 = {share:.2f}. "
                f"Per entity: {per_entity}.\n" + "\n".join(table)
            ),
            inputs=[f.id for f in facts + loose_facts + unknown],
            metrics=metrics,
            severity=Severity.LOW if loose or loose_n or unknown_n else Severity.INFO,
            tags=["accounting"],
        )
    ]


def _entity_shares(
    lines: list[CategoryLine], names: dict[str | None, str], order: dict[str | None, int]
) -> str:
    volume: dict[str | None, float] = defaultdict(float)
    loose: dict[str | None, float] = defaultdict(float)
    for line in lines:
        if line.kind in (*COSTS, "revenue", UNCATEGORIZED):
            volume[line.entity] += line.total
        if line.kind == UNCATEGORIZED:
            loose[line.entity] += line.total
    shares = [
        f"{names[entity]} {loose[entity] / total * 100:.2f}% uncategorized"
        for entity, total in sorted(volume.items(), key=lambda item: order[item[0]])
        if total > 0 and loose[entity]
    ]
    return "; ".join(shares) or "no entity has uncategorized entries"


def journal_templates(bundle: Bundle) -> list[Fact]:
    """One template per recurring entry type the ledger shows (a category with entries in
    two or more complete months), plus the AWS invoice and reclassifying loose entries."""
    lines, facts = _lines(bundle)
    names = entity_names(bundle)
    names[None] = "unattributed"
    order = entity_order(bundle)
    complete = max((int(f.metrics.get("complete_months", 0)) for f in facts), default=0)
    recurring: dict[tuple[str, str], list[CategoryLine]] = defaultdict(list)
    for line in lines:
        if line.kind != UNCATEGORIZED and line.months >= RECURRING_MONTHS:
            recurring[(line.kind, line.category)].append(line)

    def seen(group: list[CategoryLine]) -> str:
        at: dict[str | None, list[str]] = defaultdict(list)
        for line in sorted(group, key=lambda c: order[c.entity]):
            at[line.entity].append(f"{line.category} {line.months}/{complete}")
        where = "; ".join(f"{names[e]}: {', '.join(cats)}" for e, cats in at.items())
        return f"Recurring (months with entries, of the complete months): {where}."

    stripe = any(kind == "revenue" and cat.startswith("stripe") for kind, cat in recurring)
    templates: list[tuple[str, str, list[str]]] = []
    costs: dict[str, list[CategoryLine]] = defaultdict(list)
    for (kind, category), group in sorted(
        recurring.items(), key=lambda item: (TYPE_ORDER.index(item[0][0]), item[0][1])
    ):
        ids = [c.fact for c in group]
        words = category.replace("_", " ")
        if kind == "revenue" and category.startswith("stripe"):
            entry = (
                "Dr Stripe clearing (gross charge); Cr revenue for the entity's sales (the "
                "booking id in the memo). Then Dr payment processing fees, Cr Stripe clearing "
                "for Stripe's fee; on payout Dr operating cash, Cr Stripe clearing."
            )
            templates.append(("Stripe sale", f"{entry} {seen(group)}", ids))
        elif kind == "revenue":
            account = words if words.endswith(("revenue", "income")) else f"{words} revenue"
            entry = (
                f"Dr operating cash; Cr {account}, with the entity and the invoice or period "
                "in the memo."
            )
            templates.append((f"{words.capitalize()} received", f"{entry} {seen(group)}", ids))
        elif kind in COSTS:
            if not (stripe and category.startswith("stripe")):
                costs[kind] += group
        elif not (stripe and category.startswith("stripe")):
            templates.append(_balance_sheet(kind, words, group, seen(group)))
    for kind, group in sorted(costs.items(), key=lambda item: TYPE_ORDER.index(item[0])):
        categories = ", ".join(dict.fromkeys(c.category for c in group))
        entry = (
            f"Dr the {_label(kind)} account of the category ({categories}), one line per "
            "entity; Cr operating cash, with the vendor and the period"
            + (" or the sale it served" if kind == "cost_of_sales" else "")
            + " in the memo."
        )
        name = "Recurring cost of sales" if kind == "cost_of_sales" else "Recurring expense"
        templates.append((name, f"{entry} {seen(group)}", [c.fact for c in group]))
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
            detail=f"{entry} From {len(set(ids))} source fact(s).",
            inputs=ids,
            tags=["accounting"],
        )
        for name, entry, ids in templates
    ]


def _balance_sheet(
    kind: str, words: str, group: list[CategoryLine], seen: str
) -> tuple[str, str, list[str]]:
    """A recurring asset, liability or equity movement; its sign says which way it goes."""
    money_in = sum(c.total for c in group) >= 0
    if kind == "equity":
        entry = (
            f"Dr operating cash; Cr {words} (equity): an owner's money in, not revenue."
            if money_in
            else f"Dr {words} (equity), an owner's draw, not an expense; Cr operating cash."
        )
    elif money_in:
        entry = f"Dr operating cash; Cr {words} ({kind})."
    else:
        entry = f"Dr {words} ({kind}); Cr operating cash; not an expense."
    return words.capitalize(), f"{entry} {seen}", [c.fact for c in group]
