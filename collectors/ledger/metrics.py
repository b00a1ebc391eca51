"""Finance metrics from ledger entries: monthly totals, burn, runway, margin, break-even.

Each metric becomes a fact whose detail spells out the formula and its inputs, so a brief
can cite the number and a reader can redo the arithmetic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from execbrief.models import Entity, Fact, Gap, MetricType, MetricUnit, Severity, Source

from .books import COLLECTOR, ChartOfAccounts, Entry

_TOTAL_USD = MetricType(unit=MetricUnit.USD)
_COUNT = MetricType(unit=MetricUnit.COUNT)
BURN_WINDOW = 3
"""Complete months the burn and break-even average over."""
PORTFOLIO = "portfolio"
CENT = Decimal("0.01")
ZERO = Decimal(0)

Bucket = Literal["revenue", "cost_of_sales", "expense", "excluded"]
Figure = Literal["revenue", "expenses", "cost_of_sales"]


def bucket(entry: Entry, chart: ChartOfAccounts | None) -> Bucket:
    """Where an entry counts: by its account's type in the chart, else by its sign."""
    account = chart.account_for(entry) if chart is not None else None
    if account is None:
        return "revenue" if entry.sale or entry.amount > 0 else "expense"
    if account.type in ("revenue", "cost_of_sales", "expense"):
        return account.type
    return "excluded"


@dataclass
class MonthTotals:
    revenue: Decimal = ZERO
    cost_of_sales: Decimal = ZERO
    operating: Decimal = ZERO
    """Expenses other than cost of sales: what break-even treats as fixed."""

    @property
    def expenses(self) -> Decimal:
        return self.cost_of_sales + self.operating

    @property
    def net_outflow(self) -> Decimal:
        return self.expenses - self.revenue

    def add(self, where: Bucket, amount: Decimal) -> None:
        # Revenue is money in; costs are money out, so their sign flips to count up.
        if where == "revenue":
            self.revenue += amount
        elif where == "cost_of_sales":
            self.cost_of_sales -= amount
        elif where == "expense":
            self.operating -= amount


CATEGORY_TYPES = ("revenue", "cost_of_sales", "expense", "asset", "liability", "equity")
"""The types a category's entries post to: its chart account's type, else (no chart, or a
category the chart does not map) revenue or expense by the entry's sign."""
UNCATEGORIZED_KEY = "uncategorized"


@dataclass
class CategoryTotal:
    """One ledger category of one scope, over the complete months."""

    total: Decimal = ZERO
    """Revenue and balance-sheet moves as booked (money in positive); costs as spent."""
    entries: int = 0
    months: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)


def category_type(entry: Entry, chart: ChartOfAccounts | None) -> tuple[str, str]:
    """The type the entry posts to and its account as `code name`, or "" without one."""
    account = chart.account_for(entry) if chart is not None else None
    if account is None:
        return ("revenue" if entry.sale or entry.amount > 0 else "expense"), ""
    return account.type, f"{account.code} {account.name}"


@dataclass
class Scope:
    """The figures of one entity, or of the whole portfolio."""

    key: str
    label: str
    entity: str | None
    months: dict[str, MonthTotals]
    streams: dict[str, Decimal] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    """Categories and accounts of its costs, to tell which units of sale the scope pays for."""
    categories: dict[tuple[str, str], CategoryTotal] = field(default_factory=dict)
    """(type, category) -> its totals over the complete months; type `uncategorized` holds
    the entries without a category, as gross (absolute) amounts."""

    def add_category(self, entry: Entry, chart: ChartOfAccounts | None) -> None:
        kind, account = category_type(entry, chart)
        if entry.uncategorized:
            key, amount = (UNCATEGORIZED_KEY, UNCATEGORIZED_KEY), abs(entry.amount)
        else:
            costs = kind in ("cost_of_sales", "expense")
            key, amount = (kind, entry.category), -entry.amount if costs else entry.amount
        total = self.categories.setdefault(key, CategoryTotal())
        total.total += amount
        total.entries += 1
        total.months.add(entry.month)
        if account:
            total.accounts.add(account)


@dataclass(frozen=True)
class UnitEconomics:
    unit: str
    price: Decimal
    variable_cost: Decimal


def parse_unit_economics(
    values: dict[str, float], source: str
) -> tuple[list[UnitEconomics], list[Gap]]:
    """`<unit>_price` and `<unit>_variable_cost` pairs; a key without its pair is a gap."""
    prices: dict[str, Decimal] = {}
    costs: dict[str, Decimal] = {}
    gaps: list[Gap] = []
    for key, value in sorted(values.items()):
        amount = Decimal(repr(float(value)))
        if key.endswith("_variable_cost"):
            costs[key.removesuffix("_variable_cost")] = amount
        elif key.endswith("_price"):
            prices[key.removesuffix("_price")] = amount
        else:
            reason = f"unit_economics key {key!r} is neither <unit>_price nor <unit>_variable_cost"
            gaps.append(Gap(collector=COLLECTOR, source=source, reason=reason))
    units = []
    for unit in sorted(prices.keys() | costs.keys()):
        if unit in prices and unit in costs:
            units.append(UnitEconomics(unit, prices[unit], costs[unit]))
            continue
        missing = f"{unit}_variable_cost" if unit in prices else f"{unit}_price"
        reason = f"unit_economics has no {missing}; break-even for {unit} not computed"
        gaps.append(Gap(collector=COLLECTOR, source=source, reason=reason))
    return units, gaps


def month_span(first: str, last: str) -> list[str]:
    """Every YYYY-MM from first to last inclusive."""
    year, month = int(first[:4]), int(first[5:])
    months = []
    while (label := f"{year:04d}-{month:02d}") <= last:
        months.append(label)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def build_scopes(
    entries: Sequence[Entry],
    chart: ChartOfAccounts | None,
    entities: Sequence[Entity],
    portfolio: str,
    complete: Sequence[str],
) -> list[Scope]:
    """The portfolio first, then each entity with entries, over the books' month span."""
    months = month_span(min(e.month for e in entries), max(e.month for e in entries))
    scopes = {PORTFOLIO: Scope(PORTFOLIO, portfolio, None, {m: MonthTotals() for m in months})}
    for entity in entities:
        if any(e.entity == entity.id for e in entries):
            totals = {m: MonthTotals() for m in months}
            scopes[entity.id] = Scope(entity.id, entity.name, entity.id, totals)
    complete_set = set(complete)
    for entry in entries:
        where = bucket(entry, chart)
        keys = [PORTFOLIO] if entry.entity is None else [PORTFOLIO, entry.entity]
        for key in keys:
            scope = scopes[key]
            scope.months[entry.month].add(where, entry.amount)
            if where in ("cost_of_sales", "expense"):
                scope.names.update(n.casefold() for n in (entry.category, entry.account) if n)
            if where == "revenue" and entry.month in complete_set:
                stream = entry.category or "uncategorized"
                scope.streams[stream] = scope.streams.get(stream, ZERO) + entry.amount
            if entry.month in complete_set:
                scope.add_category(entry, chart)
    return list(scopes.values())


def to_cent(value: Decimal) -> Decimal:
    # Adding zero turns a negative zero into zero, so nothing prints as -0.00.
    return value.quantize(CENT) + ZERO


def cents(value: Decimal) -> float:
    return float(to_cent(value))


def money(value: Decimal) -> str:
    return f"{to_cent(value):,}"


def metric_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_") or "uncategorized"


def mean(values: Iterable[Decimal]) -> Decimal:
    items = list(values)
    return sum(items, ZERO) / len(items)


def average_formula(name: str, parts: Sequence[Decimal]) -> str:
    """`name = (a + b + c) / 3 = avg`, the arithmetic a reader can redo."""
    terms = " + ".join(money(p) for p in parts)
    return f"{name} = ({terms}) / {len(parts)} = {money(mean(parts))}"


@dataclass
class FinanceFacts:
    """Turns scopes into finance facts; one instance per collection."""

    books: str
    observed_at: datetime
    complete: list[str]
    has_chart: bool
    units: list[UnitEconomics]
    cash_balance: Decimal | None

    @property
    def window(self) -> list[str]:
        return self.complete[-BURN_WINDOW:]

    def facts(self, scopes: Sequence[Scope]) -> list[Fact]:
        """Every finance fact for every scope, in a stable order."""
        out: list[Fact] = []
        for scope in scopes:
            out += [self.revenue_monthly(scope), self.expenses_monthly(scope)]
            if self.complete:
                out.append(self.burn(scope))
                out += self.gross_margin(scope) + self.revenue_by_stream(scope)
                out += self.category_totals(scope)
                if scope.key == PORTFOLIO and self.units:
                    out.append(self.no_portfolio_break_even(scope, scopes))
                out += [
                    self.break_even(scope, unit) for unit in self.units if deals_in(scope, unit)
                ]
            if self.complete and self.cash_balance is not None:
                burning = self.burn_value(scope) > 0
                if scope.key == PORTFOLIO or burning:
                    out.append(self.runway(scope, self.cash_balance))
        return out

    def _fact(self, kind: str, scope: Scope, section: str, **fields: object) -> Fact:
        return Fact.create(
            collector=COLLECTOR,
            kind=kind,
            source=Source(path=self.books, section=section),
            entity=scope.entity,
            observed_at=self.observed_at,
            **fields,
        )

    def _month_lines(self, scope: Scope, value: Figure) -> tuple[list[str], dict[str, float]]:
        lines, metrics = [], {}
        for month, totals in scope.months.items():
            amount: Decimal = getattr(totals, value)
            partial = "" if month in self.complete else " (month not complete)"
            lines.append(f"- {month}: {money(amount)}{partial}")
            metrics[f"{value}_usd_{metric_key(month)}"] = cents(amount)
        return lines, metrics

    def _average(self, scope: Scope, value: Figure) -> tuple[str, dict[str, float]]:
        if not self.complete:
            return "No complete month yet, so no average.", {}
        parts = [getattr(scope.months[m], value) for m in self.complete]
        total = sum(parts, ZERO)
        text = (
            f"Over the {len(parts)} complete months {self.complete[0]}..{self.complete[-1]}: "
            f"{value}_total_usd = {money(total)}; "
            f"{value}_avg_monthly_usd = {money(total)} / {len(parts)} = {money(mean(parts))}."
        )
        metrics = {
            f"{value}_total_usd": cents(total),
            f"{value}_avg_monthly_usd": cents(mean(parts)),
        }
        return text, metrics

    def revenue_monthly(self, scope: Scope) -> Fact:
        lines, metrics = self._month_lines(scope, "revenue")
        average, avg_metrics = self._average(scope, "revenue")
        months = list(scope.months)
        return self._fact(
            "finance.revenue_monthly",
            scope,
            scope.key,
            title=f"{scope.label}: revenue by month, {months[0]} to {months[-1]}",
            detail="Revenue in USD per month:\n" + "\n".join(lines) + "\n" + average,
            metrics=metrics | avg_metrics,
            tags=["finance", "revenue"],
        )

    def expenses_monthly(self, scope: Scope) -> Fact:
        lines, metrics = self._month_lines(scope, "expenses")
        average, avg_metrics = self._average(scope, "expenses")
        detail = "Expenses in USD per month (cost of sales included):\n" + "\n".join(lines)
        if self.has_chart:
            cos_lines, cos_metrics = self._month_lines(scope, "cost_of_sales")
            detail += "\nOf which cost of sales:\n" + "\n".join(cos_lines)
            metrics |= cos_metrics
        months = list(scope.months)
        return self._fact(
            "finance.expenses_monthly",
            scope,
            scope.key,
            title=f"{scope.label}: expenses by month, {months[0]} to {months[-1]}",
            detail=detail + "\n" + average,
            metrics=metrics | avg_metrics,
            tags=["finance", "expenses"],
        )

    def burn_value(self, scope: Scope) -> Decimal:
        return mean(scope.months[m].net_outflow for m in self.window)

    def burn(self, scope: Scope) -> Fact:
        window = self.window
        net = [scope.months[m].net_outflow for m in window]
        gross = [scope.months[m].expenses for m in window]
        steps = "; ".join(
            f"{m}: {money(scope.months[m].expenses)} - {money(scope.months[m].revenue)} "
            f"= {money(scope.months[m].net_outflow)}"
            for m in window
        )
        detail = (
            f"Burn is the average monthly net outflow (expenses - revenue) over the last "
            f"{len(window)} complete months ({', '.join(window)}). {steps}. "
            f"{average_formula('burn_monthly_usd', net)}. Gross burn counts expenses only: "
            f"{average_formula('gross_burn_monthly_usd', gross)}. A negative burn means the "
            "scope took in more than it spent."
        )
        metrics = {
            f"net_outflow_usd_{metric_key(m)}": cents(v) for m, v in zip(window, net, strict=True)
        }
        return self._fact(
            "finance.burn_monthly",
            scope,
            scope.key,
            title=burn_title(scope.label, mean(net), mean(gross), len(window)),
            detail=detail,
            metrics=metrics
            | {
                "burn_monthly_usd": cents(mean(net)),
                "gross_burn_monthly_usd": cents(mean(gross)),
                "months": float(len(window)),
            },
            tags=["finance", "burn"],
        )

    def runway(self, scope: Scope, cash: Decimal) -> Fact:
        burn = self.burn_value(scope)
        metrics = {"cash_balance_usd": cents(cash), "burn_monthly_usd": cents(burn)}
        # One cash balance serves the workspace; for an entity, runway reads as how long
        # that cash would last if it funded this entity's burn alone.
        whose = "the portfolio's" if scope.key == PORTFOLIO else f"{scope.label}'s"
        if burn <= 0:
            title = f"{scope.label}: no runway limit, it is not burning cash"
            detail = (
                f"Burn is {money(burn)} USD/month (see the burn fact), so the cash balance "
                f"of {money(cash)} USD is not being drawn down; runway_months is not set."
            )
            severity = Severity.INFO
        else:
            months = cash / burn
            title = f"{scope.label}: {months:.1f} months of runway at {money(burn)} USD/month burn"
            detail = (
                f"runway_months = cash_balance_usd / burn_monthly_usd = {money(cash)} / "
                f"{money(burn)} = {months:.2f}. The cash balance is the workspace's configured "
                f"sources.ledger.cash_balance; the burn is {whose} trailing average."
            )
            metrics["runway_months"] = float(round(months, 2))
            severity = (
                Severity.HIGH if months < 3 else Severity.MEDIUM if months < 6 else Severity.INFO
            )
        return self._fact(
            "finance.runway",
            scope,
            scope.key,
            title=title,
            detail=detail,
            severity=severity,
            metrics=metrics,
            tags=["finance"],
        )

    def gross_margin(self, scope: Scope) -> list[Fact]:
        revenue = sum((scope.months[m].revenue for m in self.complete), ZERO)
        if not self.has_chart or revenue <= 0:
            return []
        cost = sum((scope.months[m].cost_of_sales for m in self.complete), ZERO)
        margin = (revenue - cost) / revenue * 100
        detail = (
            f"Over the complete months {self.complete[0]}..{self.complete[-1]}: "
            f"gross_margin_pct = (revenue_usd - cost_of_sales_usd) / revenue_usd x 100 = "
            f"({money(revenue)} - {money(cost)}) / {money(revenue)} x 100 = {margin:.1f}. "
            "Cost of sales is every entry in an account of type cost_of_sales in the chart."
        )
        return [
            self._fact(
                "finance.gross_margin",
                scope,
                scope.key,
                title=f"{scope.label}: gross margin {margin:.1f}%",
                detail=detail,
                metrics={
                    "gross_margin_pct": float(round(margin, 1)),
                    "revenue_usd": cents(revenue),
                    "cost_of_sales_usd": cents(cost),
                    "gross_profit_usd": cents(revenue - cost),
                },
                tags=["finance"],
            )
        ]

    def revenue_by_stream(self, scope: Scope) -> list[Fact]:
        total = sum(scope.streams.values(), ZERO)
        if not scope.streams or total <= 0:
            return []
        ranked = sorted(scope.streams.items(), key=lambda item: (-item[1], item[0]))
        lines, metrics = [], {}
        for stream, amount in ranked:
            share = amount / total * 100
            lines.append(f"- {stream}: {money(amount)} ({share:.1f}% of {money(total)})")
            metrics[f"{metric_key(stream)}_usd"] = cents(amount)
            metrics[f"{metric_key(stream)}_share_pct"] = float(round(share, 1))
        top = ranked[0][0]
        return [
            self._fact(
                "finance.revenue_by_stream",
                scope,
                scope.key,
                title=f"{scope.label}: revenue by stream, led by {top}",
                detail=f"Revenue by category over the complete months {self.complete[0]}.."
                f"{self.complete[-1]} (share = stream / total x 100):\n" + "\n".join(lines),
                metrics=metrics | {"revenue_total_usd": cents(total)},
                tags=["finance", "revenue"],
            )
        ]

    def category_totals(self, scope: Scope) -> list[Fact]:
        """Every ledger category of the scope with its type, account, total, entries and
        the complete months it appears in: the chart of accounts the books imply."""
        if not scope.categories:
            return []
        order = {kind: n for n, kind in enumerate((*CATEGORY_TYPES, UNCATEGORIZED_KEY))}
        ranked = sorted(scope.categories.items(), key=lambda i: (order[i[0][0]], i[0][1]))
        lines = []
        metrics: dict[str, float] = {}
        types: dict[str, MetricType] = {}
        for (kind, category), total in ranked:
            name = kind if kind == UNCATEGORIZED_KEY else f"{kind}_{metric_key(category)}"
            account = f" ({', '.join(sorted(total.accounts))})" if total.accounts else ""
            shown = "entries without a category (gross)" if kind == UNCATEGORIZED_KEY else category
            lines.append(
                f"- {kind.replace('_', ' ')}: {shown}{account}: {money(total.total)} USD, "
                f"{plural_entries(total.entries)} in {len(total.months)} of "
                f"{len(self.complete)} complete months"
            )
            metrics |= {
                f"{name}_usd": cents(total.total),
                f"{name}_months_seen": float(len(total.months)),
            }
            types |= {f"{name}_usd": _TOTAL_USD, f"{name}_months_seen": _COUNT}
        return [
            self._fact(
                "finance.category_totals",
                scope,
                f"{scope.key} categories",
                title=f"{scope.label}: totals by ledger category, {self.complete[0]}.."
                f"{self.complete[-1]}",
                detail=(
                    "Each category's entries over the complete months, by the type of the "
                    "account it posts to (the chart's; without one, revenue or expense by "
                    "sign). Costs are amounts spent; revenue, asset, liability and equity "
                    "amounts are as booked (money in positive):\n" + "\n".join(lines)
                ),
                metrics=metrics | {"complete_months": float(len(self.complete))},
                metric_types=types | {"complete_months": _COUNT},
                tags=["finance", "accounting"],
            )
        ]

    def break_even(self, scope: Scope, unit: UnitEconomics) -> Fact:
        contribution = unit.price - unit.variable_cost
        metrics = {
            "unit_price_usd": cents(unit.price),
            "unit_variable_cost_usd": cents(unit.variable_cost),
            "contribution_margin_usd": cents(contribution),
        }
        margin = (
            f"contribution_margin_usd = {unit.unit}_price - {unit.unit}_variable_cost = "
            f"{money(unit.price)} - {money(unit.variable_cost)} = {money(contribution)}. "
        )
        if not self.has_chart:
            # Without cost-of-sales accounts every expense would count as fixed, and the
            # break-even would divide variable costs by the margin: a figure, but a wrong one.
            return self._fact(
                "finance.break_even",
                scope,
                f"{scope.key} {unit.unit}",
                title=(
                    f"{scope.label}: break-even in {unit.unit}s not computed, "
                    "fixed vs variable costs unknown"
                ),
                detail=margin
                + "Without a chart of accounts the ledger cannot tell fixed costs from cost "
                "of sales, so no break-even volume is computed. Needed: a chart of accounts "
                f"(sources.ledger.chart_of_accounts) with cost_of_sales accounts for the "
                f"{unit.unit} costs.",
                severity=Severity.LOW,
                metrics=metrics,
                tags=["finance", "not_computed"],
            )
        window = self.window
        fixed_parts = [scope.months[m].operating for m in window]
        fixed = mean(fixed_parts)
        metrics = {"fixed_costs_monthly_usd": cents(fixed)} | metrics
        detail = (
            "Fixed costs are the monthly average of expenses in accounts of type expense "
            f"(cost of sales left out), over {', '.join(window)}: "
            f"{average_formula('fixed_costs_monthly_usd', fixed_parts)}. " + margin
        )
        severity = Severity.INFO
        if contribution <= 0:
            title = f"{scope.label}: no break-even, each {unit.unit} costs more than its price"
            detail += "The price does not cover the variable cost, so no volume breaks even."
            severity = Severity.HIGH
        else:
            units = fixed / contribution
            title = f"{scope.label}: break-even at {units:.1f} {unit.unit}s a month"
            detail += (
                f"break_even_units = fixed_costs_monthly_usd / contribution_margin_usd = "
                f"{money(fixed)} / {money(contribution)} = {units:.2f} {unit.unit}s per month."
            )
            metrics["break_even_units"] = float(round(units, 2))
        return self._fact(
            "finance.break_even",
            scope,
            f"{scope.key} {unit.unit}",
            title=title,
            detail=detail,
            severity=severity,
            metrics=metrics,
            tags=["finance"],
        )

    def no_portfolio_break_even(self, portfolio: Scope, scopes: Sequence[Scope]) -> Fact:
        """Why the portfolio has no break-even: its entities sell different units, and
        one unit's margin cannot cover another business's fixed costs."""
        sellers = [
            f"{scope.label} ({unit.unit})"
            for unit in self.units
            for scope in scopes
            if scope.key != PORTFOLIO and deals_in(scope, unit)
        ]
        units = ", ".join(unit.unit for unit in self.units)
        per_entity = (
            f"Break-even is computed per entity, from that entity's own unit economics: "
            f"{', '.join(sellers)}."
            if sellers
            else f"No entity's cost entries name a unit of unit_economics ({units}), so no "
            "entity's break-even is computed either."
        )
        return self._fact(
            "finance.break_even",
            portfolio,
            PORTFOLIO,
            title=f"{portfolio.label}: no portfolio break-even, its entities sell different units",
            detail=(
                f"{per_entity} A portfolio break-even would divide every entity's fixed costs "
                "by one unit's contribution margin, adding units of different businesses "
                "(charters to dumpster rentals), so it is not computed."
            ),
            tags=["finance", "not_computed"],
        )


def plural_entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def burn_title(label: str, net: Decimal, gross: Decimal, months: int) -> str:
    # Handoff notes often say "burn" for gross spend, so the title names both.
    tail = f"gross burn {money(gross)} USD/month (last {months} months)"
    if net <= 0:
        return f"{label}: no net burn (net inflow {money(-net)}), {tail}"
    return f"{label}: net burn {money(net)}, {tail}"


def deals_in(scope: Scope, unit: UnitEconomics) -> bool:
    """An entity when one of its cost categories or accounts names the unit (charter_fuel
    for charter): it bears the unit's variable cost. Never the portfolio, whose entities
    sell different units."""
    name = unit.unit.casefold()
    return scope.key != PORTFOLIO and any(name in seen for seen in scope.names)
