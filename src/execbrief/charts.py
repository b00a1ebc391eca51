"""Charts an executive would rather look at than read, drawn from bundle facts.

- AWS cost by service over the months collected (facts `aws.cost.monthly`).
- The portfolio's monthly revenue against expenses (facts `finance.revenue_monthly`,
  `finance.expenses_monthly`).

A persona gets a chart when its lens selects the facts the chart is drawn from. PNGs
are deterministic (no timestamps in their metadata), so re-rendering changes nothing.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from execbrief.models import Bundle, Fact, Persona

_MONTH_METRIC = re.compile(r"^(revenue|expenses)_usd_(\d{4})_(\d{2})$")
_SKIP_COST_METRICS = {"total_usd", "untagged_usd"}
_PALETTE = [
    "#14324f", "#3b6e8f", "#6fa3c7", "#d4570b", "#9a7b00", "#5f6b7a", "#b3261e", "#1f7a3a",
    "#8e5ea2",
]  # fmt: skip
WIDTH_PX, HEIGHT_PX, DPI = 552, 300, 100


@dataclass(frozen=True)
class Chart:
    """One rendered chart and the facts it was drawn from."""

    name: str
    title: str
    png: bytes
    evidence: list[str]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _figure(title: str) -> tuple[Figure, Axes]:
    figure, axes = plt.subplots(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    axes.set_title(title, fontsize=10, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=8)
    axes.yaxis.set_major_formatter(lambda value, _: f"${value:,.0f}")
    return figure, axes


def aws_cost_chart(facts: list[Fact]) -> Chart | None:
    """Stacked monthly AWS cost by service, from the account-level cost facts."""
    months = sorted(
        (f for f in facts if f.kind == "aws.cost.monthly" and "by_entity" not in f.tags),
        key=lambda f: f.source.section or "",
    )
    if not months:
        return None
    services = sorted(
        {name for f in months for name in f.metrics if name not in _SKIP_COST_METRICS},
        key=lambda name: -sum(f.metrics.get(name, 0.0) for f in months),
    )
    labels = [f.source.section or "" for f in months]
    figure, axes = _figure("AWS cost by service (USD per month)")
    bottom = [0.0] * len(months)
    for index, service in enumerate(services):
        values = [f.metrics.get(service, 0.0) for f in months]
        colour = _PALETTE[index % len(_PALETTE)]
        label = service.removesuffix("_usd").replace("_", " ")
        axes.bar(labels, values, bottom=bottom, label=label, color=colour, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    return Chart("aws-cost", "AWS cost by service", _png(figure), [f.id for f in months])


def burn_chart(facts: list[Fact]) -> Chart | None:
    """Portfolio revenue against expenses by month."""
    portfolio = [f for f in facts if f.entity is None]
    revenue = next((f for f in portfolio if f.kind == "finance.revenue_monthly"), None)
    expenses = next((f for f in portfolio if f.kind == "finance.expenses_monthly"), None)
    if revenue is None or expenses is None:
        return None
    series: dict[str, dict[str, float]] = {"revenue": {}, "expenses": {}}
    for fact in (revenue, expenses):
        for name, value in fact.metrics.items():
            if match := _MONTH_METRIC.match(name):
                series[match.group(1)][f"{match.group(2)}-{match.group(3)}"] = value
    months = sorted(series["revenue"].keys() | series["expenses"].keys())
    if not months:
        return None
    figure, axes = _figure("Revenue vs expenses (USD per month)")
    positions = range(len(months))
    axes.bar([p - 0.2 for p in positions], [series["expenses"].get(m, 0) for m in months],
             width=0.4, color="#b3261e", label="expenses")  # fmt: skip
    axes.bar([p + 0.2 for p in positions], [series["revenue"].get(m, 0) for m in months],
             width=0.4, color="#1f7a3a", label="revenue")  # fmt: skip
    axes.set_xticks(list(positions), months)
    axes.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    # No break-even line: the ledger computes break-even per entity only, never for a
    # portfolio whose entities sell different units.
    return Chart("burn", "Revenue and expenses", _png(figure), [revenue.id, expenses.id])


def charts_for(persona: Persona, bundle: Bundle) -> list[Chart]:
    """The charts whose facts this persona's lens selects."""
    selected = [f for f in bundle.facts if persona.evidence.matches(f)]
    return [chart for build in (aws_cost_chart, burn_chart) if (chart := build(selected))]
