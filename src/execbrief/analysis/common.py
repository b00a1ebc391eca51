"""What every analysis shares: how a derived fact is built and how evidence is looked up."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from execbrief.models import (
    Bundle,
    Fact,
    MetricPeriod,
    MetricType,
    MetricUnit,
    Severity,
    Source,
)

COLLECTOR = "analysis"
PORTFOLIO = "portfolio"
MONTH_METRIC = re.compile(r"_(\d{4})_(\d{2})$")

USD = MetricType(unit=MetricUnit.USD)
USD_MONTH = MetricType(unit=MetricUnit.USD, period=MetricPeriod.MONTH)
COUNT = MetricType(unit=MetricUnit.COUNT)
COUNT_MONTH = MetricType(unit=MetricUnit.COUNT, period=MetricPeriod.MONTH)
PERCENT = MetricType(unit=MetricUnit.PERCENT)
MONTHS = MetricType(unit=MetricUnit.MONTHS)
DAYS = MetricType(unit=MetricUnit.DAYS)


def derived(
    bundle: Bundle,
    kind: str,
    subject: str,
    *,
    title: str,
    detail: str,
    inputs: Iterable[str],
    entity: str | None = None,
    metrics: dict[str, tuple[float, MetricType]] | None = None,
    severity: Severity = Severity.INFO,
    tags: Sequence[str] = (),
) -> Fact:
    """A derived fact: its subject names it (and its id), `detail` holds the formula."""
    values = metrics or {}
    return Fact.create(
        collector=COLLECTOR,
        kind=kind,
        source=Source(section=subject),
        key=subject,
        entity=entity,
        severity=severity,
        title=title,
        detail=detail,
        metrics={name: round(value, 2) for name, (value, _) in values.items()},
        metric_types={name: kind_ for name, (_, kind_) in values.items()},
        inputs=sorted(set(inputs)),
        tags=["analysis", *tags],
        observed_at=bundle.collected_at,
    )


def of_kind(bundle: Bundle, *kinds: str) -> list[Fact]:
    """The bundle's facts of these kinds, in bundle order."""
    wanted = set(kinds)
    return [fact for fact in bundle.facts if fact.kind in wanted]


def entity_names(bundle: Bundle) -> dict[str | None, str]:
    """Entity id -> display name; None is the whole portfolio."""
    names: dict[str | None, str] = {entity.id: entity.name for entity in bundle.entities}
    names[None] = bundle.portfolio
    return names


def entity_order(bundle: Bundle) -> dict[str | None, int]:
    """The workspace's order of entities, the portfolio (None) last."""
    order: dict[str | None, int] = {e.id: i for i, e in enumerate(bundle.entities)}
    order[None] = len(order)
    return order


def money(value: float) -> str:
    return f"{value:,.2f}"


def month_series(fact: Fact, prefix: str) -> dict[str, float]:
    """`<prefix>_YYYY_MM` metrics as {YYYY-MM: value}, oldest first."""
    series: dict[str, float] = {}
    for name, value in fact.metrics.items():
        match = MONTH_METRIC.search(name)
        if match and name[: match.start()] == prefix:
            series[f"{match.group(1)}-{match.group(2)}"] = value
    return dict(sorted(series.items()))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")
