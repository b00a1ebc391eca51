"""Money: gross and net burn, runway, revenue and expenses per month, margin, break-even.

Read from the ledger's finance facts; what the ledger cannot tell (fixed versus variable
costs without a chart of accounts, break-even for a portfolio of different units) is said,
not computed.
"""

from __future__ import annotations

import math

from execbrief.models import Bundle, Fact, MetricPeriod, MetricType, MetricUnit, Severity

from .common import (
    COUNT_MONTH,
    MONTHS,
    PERCENT,
    PORTFOLIO,
    USD,
    USD_MONTH,
    derived,
    entity_names,
    money,
    month_series,
    of_kind,
)

SINGLE_STREAM_SHARE = 90.0
"""Actual units are revenue / price only when one stream is at least this share of revenue."""


def _by_entity(facts: list[Fact]) -> dict[str | None, Fact]:
    return {fact.entity: fact for fact in facts}


def burn(bundle: Bundle) -> list[Fact]:
    """Gross burn (expenses) and net burn (expenses - revenue) per entity and portfolio."""
    names = entity_names(bundle)
    out = []
    for fact in of_kind(bundle, "finance.burn_monthly"):
        gross = fact.metrics.get("gross_burn_monthly_usd")
        net = fact.metrics.get("burn_monthly_usd")
        months = int(fact.metrics.get("months", 0))
        if gross is None or net is None:
            continue
        net_words = f"net burn {money(net)}" if net > 0 else f"net inflow {money(-net)}"
        out.append(
            derived(
                bundle,
                "analysis.burn",
                f"burn {fact.entity or PORTFOLIO}",
                entity=fact.entity,
                title=f"{names[fact.entity]}: gross burn {money(gross)} USD/month, {net_words}",
                detail=(
                    f"gross_burn_monthly_usd = average monthly expenses over the last {months} "
                    f"complete months = {money(gross)}; net_burn_monthly_usd = average of "
                    f"(expenses - revenue) = {money(net)}; a negative net burn is a net inflow; "
                    f"gross_burn_weekly_usd = {money(gross)} x 12 / 52 = {money(gross * 12 / 52)}. "
                    f"From {fact.id}."
                ),
                inputs=[fact.id],
                metrics={
                    "gross_burn_monthly_usd": (gross, USD_MONTH),
                    "gross_burn_weekly_usd": (
                        gross * 12 / 52,
                        MetricType(unit=MetricUnit.USD, period=MetricPeriod.WEEK),
                    ),
                    "net_burn_monthly_usd": (net, USD_MONTH),
                    "months": (months, MONTHS),
                },
                tags=["finance", "burn"],
            )
        )
    return out


def runway(bundle: Bundle) -> list[Fact]:
    """The portfolio's months of cash at net burn, and at gross burn if revenue stopped."""
    runway_facts = _by_entity(of_kind(bundle, "finance.runway"))
    burns = _by_entity(of_kind(bundle, "finance.burn_monthly"))
    source, burn_fact = runway_facts.get(None), burns.get(None)
    if source is None or burn_fact is None or "cash_balance_usd" not in source.metrics:
        return []
    cash = source.metrics["cash_balance_usd"]
    net = burn_fact.metrics.get("burn_monthly_usd", 0.0)
    gross = burn_fact.metrics.get("gross_burn_monthly_usd", 0.0)
    metrics = {"cash_balance_usd": (cash, USD)}
    steps = []
    if net > 0:
        metrics["runway_months"] = (cash / net, MONTHS)
        steps.append(
            f"runway_months = cash / net burn = {money(cash)} / {money(net)} = {cash / net:.1f}"
        )
        title = f"{bundle.portfolio}: {cash / net:.1f} months of runway at net burn"
    else:
        steps.append(f"net burn is {money(net)} (a net inflow), so cash is not being drawn down")
        title = f"{bundle.portfolio}: no runway limit at current net inflow"
    if gross > 0:
        metrics["runway_if_revenue_stops_months"] = (cash / gross, MONTHS)
        steps.append(
            f"runway_if_revenue_stops_months = cash / gross burn = {money(cash)} / "
            f"{money(gross)} = {cash / gross:.1f}"
        )
        title += f"; {cash / gross:.1f} months if revenue stopped"
    return [
        derived(
            bundle,
            "analysis.runway",
            f"runway {PORTFOLIO}",
            title=title,
            detail="; ".join(steps) + f". Cash is the configured balance ({source.id}).",
            inputs=[source.id, burn_fact.id],
            metrics=metrics,
            severity=Severity.HIGH if net > 0 and cash / net < 3 else Severity.INFO,
            tags=["finance"],
        )
    ]


def monthly(bundle: Bundle) -> list[Fact]:
    """Revenue, expenses and net per month, with gross margin, per entity and portfolio."""
    names = entity_names(bundle)
    revenue = _by_entity(of_kind(bundle, "finance.revenue_monthly"))
    expenses = _by_entity(of_kind(bundle, "finance.expenses_monthly"))
    margins = _by_entity(of_kind(bundle, "finance.gross_margin"))
    out = []
    for entity, rev_fact in revenue.items():
        exp_fact = expenses.get(entity)
        if exp_fact is None:
            continue
        rev = month_series(rev_fact, "revenue_usd")
        exp = month_series(exp_fact, "expenses_usd")
        metrics: dict[str, tuple[float, MetricType]] = {}
        lines = []
        for month in rev:
            if month not in exp:
                continue
            net = rev[month] - exp[month]
            key = month.replace("-", "_")
            metrics[f"revenue_usd_{key}"] = (rev[month], USD_MONTH)
            metrics[f"expenses_usd_{key}"] = (exp[month], USD_MONTH)
            metrics[f"net_usd_{key}"] = (net, USD_MONTH)
            lines.append(f"| {month} | {money(rev[month])} | {money(exp[month])} | {money(net)} |")
        inputs = [rev_fact.id, exp_fact.id]
        margin = margins.get(entity)
        tail = "Gross margin: not computed (no chart of accounts, or no revenue)."
        if margin is not None and "gross_margin_pct" in margin.metrics:
            metrics["gross_margin_pct"] = (margin.metrics["gross_margin_pct"], PERCENT)
            tail = f"Gross margin {margin.metrics['gross_margin_pct']:.1f}% ({margin.id})."
            inputs.append(margin.id)
        for name in ("revenue_avg_monthly_usd", "expenses_avg_monthly_usd"):
            source = rev_fact if name.startswith("revenue") else exp_fact
            if name in source.metrics:
                metrics[name] = (source.metrics[name], USD_MONTH)
        out.append(
            derived(
                bundle,
                "analysis.monthly",
                f"monthly {entity or PORTFOLIO}",
                entity=entity,
                title=f"{names[entity]}: revenue, expenses and net by month",
                detail=(
                    "net_usd = revenue_usd - expenses_usd, per month:\n"
                    "| Month | Revenue | Expenses | Net |\n| --- | --- | --- | --- |\n"
                    + "\n".join(lines)
                    + "\n\n"
                    + tail
                ),
                inputs=inputs,
                metrics=metrics,
                tags=["finance"],
            )
        )
    return out


def split_known(bundle: Bundle, entity: str | None) -> bool:
    """Whether the ledger tells fixed from variable costs: a chart of accounts puts cost of
    sales apart, and the expenses fact then carries cost-of-sales figures."""
    for fact in of_kind(bundle, "finance.expenses_monthly"):
        if fact.entity == entity:
            return any(name.startswith("cost_of_sales_usd_") for name in fact.metrics)
    return False


def break_even(bundle: Bundle) -> list[Fact]:
    """Units a month each entity must sell, from its own unit economics only."""
    names = entity_names(bundle)
    revenue = _by_entity(of_kind(bundle, "finance.revenue_monthly"))
    streams = _by_entity(of_kind(bundle, "finance.revenue_by_stream"))
    computed = {f.entity for f in of_kind(bundle, "finance.break_even")}
    out = []
    for fact in of_kind(bundle, "finance.break_even"):
        if fact.entity is None:
            continue  # a portfolio break-even would add charters to dumpster rentals
        unit = (fact.source.section or "").split(" ")[-1] or "unit"
        label = names[fact.entity]
        subject = f"break_even {fact.entity} {unit}"
        if not split_known(bundle, fact.entity):
            out.append(
                derived(
                    bundle,
                    "analysis.break_even",
                    subject,
                    entity=fact.entity,
                    title=(
                        f"{label}: break-even in {unit}s not computed, "
                        "fixed vs variable costs unknown"
                    ),
                    detail=(
                        "The ledger has no chart of accounts that puts cost of sales apart, so "
                        "its expenses cannot be split into fixed and variable; dividing all of "
                        "them by the contribution margin would count variable costs as fixed. "
                        "Needed: a chart of accounts with cost_of_sales accounts for the "
                        f"{unit} costs."
                    ),
                    inputs=[fact.id],
                    severity=Severity.LOW,
                    tags=["finance", "not_computed"],
                )
            )
            continue
        units = fact.metrics.get("break_even_units")
        price = fact.metrics.get("unit_price_usd", 0.0)
        fixed = fact.metrics.get("fixed_costs_monthly_usd", 0.0)
        contribution = fact.metrics.get("contribution_margin_usd", 0.0)
        if units is None or contribution <= 0:
            continue
        needed = math.ceil(units)
        metrics = {
            "break_even_units": (units, COUNT_MONTH),
            "break_even_units_whole": (needed, COUNT_MONTH),
            "break_even_revenue_usd": (needed * price, USD_MONTH),
            "fixed_costs_monthly_usd": (fixed, USD_MONTH),
            "contribution_margin_usd": (contribution, USD),
            "unit_price_usd": (price, USD),
        }
        detail = (
            f"break_even_units = fixed costs / (price - variable cost) = {money(fixed)} / "
            f"{money(contribution)} = {units:.2f} {unit}s a month, so {needed} whole {unit}s "
            f"({needed} x {money(price)} = {money(needed * price)} USD of revenue). Fixed "
            f"costs are the entity's operating expenses; cost of sales is variable ({fact.id})."
        )
        inputs = [fact.id]
        rev, mix = revenue.get(fact.entity), streams.get(fact.entity)
        top_share = max(
            (v for k, v in (mix.metrics.items() if mix else []) if k.endswith("_share_pct")),
            default=0.0,
        )
        title = f"{label}: break-even at {units:.1f} {unit}s a month ({needed} whole)"
        if rev is not None and mix is not None and top_share >= SINGLE_STREAM_SHARE and price > 0:
            avg = rev.metrics.get("revenue_avg_monthly_usd", 0.0)
            actual = avg / price
            metrics["actual_units_monthly"] = (actual, COUNT_MONTH)
            metrics["units_short_of_break_even"] = (max(needed - actual, 0.0), COUNT_MONTH)
            detail += (
                f" actual_units_monthly = average monthly revenue / price = {money(avg)} / "
                f"{money(price)} = {actual:.1f}, assuming its revenue ({top_share:.0f}% one "
                f"stream) is {unit}s ({rev.id}, {mix.id})."
            )
            inputs += [rev.id, mix.id]
            title += f"; selling {actual:.1f}"
        out.append(
            derived(
                bundle,
                "analysis.break_even",
                subject,
                entity=fact.entity,
                title=title,
                detail=detail,
                inputs=inputs,
                metrics=metrics,
                tags=["finance"],
            )
        )
    for entity, rev in revenue.items():
        if (
            entity is None
            or entity in computed
            or rev.metrics.get("revenue_avg_monthly_usd", 0) <= 0
        ):
            continue
        out.append(
            derived(
                bundle,
                "analysis.break_even",
                f"break_even {entity}",
                entity=entity,
                title=f"{names[entity]}: break-even not computed, no unit economics",
                detail=(
                    "Needed: the price of what it sells and the variable cost of one unit, as "
                    "`<unit>_price` and `<unit>_variable_cost` in sources.ledger.unit_economics, "
                    "with that unit's costs in cost_of_sales accounts."
                ),
                inputs=[rev.id],
                tags=["finance", "not_computed"],
            )
        )
    return out
