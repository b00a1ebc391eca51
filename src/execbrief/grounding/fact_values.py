"""What a fact states as numbers: each value with its unit, period and direction.

A fact's metrics are typed by `Fact.metric_types` when the producer filled it (the
analysis stage does); otherwise unit and period are inferred here, in one place, from the
metric's name and the fact's kind: `burn_monthly_usd` is USD per month, `runway_months`
a number of months, `gross_margin_pct` a percent, a `finance.*_monthly` fact's series
values are per month and its `revenue_total_usd` is the sum over the series (no period).
A name that says nothing is left untyped (None): it then meets a claim of any unit.

The numbers written in a fact's title and detail are values too, typed by the words
around them (`execbrief.numbers`).

Direction is what a signed cash flow means: a positive `burn_monthly_usd` is money going
out, a negative one money coming in; "net inflow 1,063.55" in a title is money coming
in. `direction_near` reads the same from a claim's words, so both sides use one rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from execbrief.models import Fact, MetricPeriod, MetricType, MetricUnit
from execbrief.numbers import find_numbers

__all__ = ["Direction", "Stated", "direction_near", "metric_type", "stated_values"]


class Direction(StrEnum):
    OUT = "out"  # burn, loss, outflow
    IN = "in"  # inflow, profit, surplus


@dataclass(frozen=True)
class Stated:
    """One value a fact states, and how to read it."""

    value: float
    unit: MetricUnit | None
    period: MetricPeriod | None
    direction: Direction | None
    fact_id: str | None
    source: str  # the metric name, "title", "detail", or what a count counts

    @property
    def magnitude(self) -> float:
        return abs(self.value)


_USD = re.compile(r"(?:^|_)usd(?:_|$)")
_PCT = re.compile(r"(?:^|_)(?:pct|percent|share_pct|rate_pct)(?:_|$)")
_MONTHS = re.compile(r"(?:^|_)months(?:_|$)")
_DAYS = re.compile(r"(?:^|_)days?(?:_|$)")
_BYTES = re.compile(r"(?:^|_)bytes(?:_|$)")
_RATIO = re.compile(r"(?:^|_)(?:ratio|multiple)(?:_|$)")
_COUNT = re.compile(
    r"(?:^|_)(?:count|entries|items|files|lines|manifests|records|keys|clients|deliveries"
    r"|jobs_completed|units|total|bookings|listings|contacts)(?:_|$)"
)
_PER_MONTH = re.compile(r"(?:^|_)(?:monthly|per_month|month|mo)(?:_|$)")
_PER_YEAR = re.compile(r"(?:^|_)(?:annual|annually|yearly|per_year|year|yr)(?:_|$)")
_PER_WEEK = re.compile(r"(?:^|_)(?:weekly|per_week)(?:_|$)")
_SERIES = re.compile(r"_\d{4}_\d{2}$")
_STOCK = re.compile(r"(?:^|_)(?:total|balance|receivable|estimate|cost_of_sales|profit)(?:_|$)")
_FLOW_KINDS = re.compile(r"^(?:finance\.\w*monthly|aws\.cost\.(?:monthly|forecast))$")
_OUTWARD = re.compile(r"(?:^|_)(?:burn|net_outflow|outflow|loss)(?:_|$)")
_INWARD = re.compile(r"(?:^|_)(?:net_inflow|inflow|profit|surplus|net_income)(?:_|$)")


def _unit(name: str) -> MetricUnit | None:
    for pattern, unit in (
        (_USD, MetricUnit.USD),
        (_PCT, MetricUnit.PERCENT),
        (_MONTHS, MetricUnit.MONTHS),
        (_DAYS, MetricUnit.DAYS),
        (_BYTES, MetricUnit.BYTES),
        (_RATIO, MetricUnit.RATIO),
        (_COUNT, MetricUnit.COUNT),
    ):
        if pattern.search(name):
            return unit
    return None


def _period(kind: str, name: str, unit: MetricUnit | None) -> MetricPeriod | None:
    if unit in (MetricUnit.MONTHS, MetricUnit.DAYS, MetricUnit.PERCENT, MetricUnit.BYTES):
        return MetricPeriod.NONE
    if _PER_WEEK.search(name):
        return MetricPeriod.WEEK
    if _PER_MONTH.search(name) or _OUTWARD.search(name):
        return MetricPeriod.MONTH
    if _PER_YEAR.search(name) and not re.match(r"^\d{4}_", name):
        return MetricPeriod.YEAR
    if _FLOW_KINDS.match(kind):
        if kind.startswith("finance.") and _STOCK.search(name) and not _SERIES.search(name):
            return MetricPeriod.NONE
        return MetricPeriod.MONTH if unit is MetricUnit.USD else None
    if kind in ("finance.gross_margin", "finance.revenue_by_stream") and unit is MetricUnit.USD:
        return MetricPeriod.NONE  # sums over the ledger's window, not a monthly figure
    if kind == "finance.break_even" and name == "break_even_units":
        return MetricPeriod.MONTH
    if unit is MetricUnit.USD and _STOCK.search(name):
        return MetricPeriod.NONE
    return None


def metric_type(fact: Fact, name: str) -> tuple[MetricUnit | None, MetricPeriod | None]:
    """Unit and period of one metric: the fact's own `metric_types`, else inferred."""
    typed: MetricType | None = fact.metric_types.get(name)
    if typed is not None:
        return typed.unit, typed.period
    unit = _unit(name)
    return unit, _period(fact.kind, name, unit)


def _metric_direction(name: str, value: float) -> Direction | None:
    if value == 0:
        return None
    if _OUTWARD.search(name):
        return Direction.OUT if value > 0 else Direction.IN
    if _INWARD.search(name):
        return Direction.IN if value > 0 else Direction.OUT
    return None


_OUT_WORDS = (
    r"burn(?:s|ing|ed)?|outflows?|loss(?:es)?|los(?:es|ing)|lost|deficit|cash[- ]negative"
    r"|negative cash(?: flow)?|in the red|bleed(?:s|ing)?|drain(?:s|ing)?|net spend"
)
_IN_WORDS = (
    r"no (?:net )?burn|inflows?|surplus|profit(?:s|able)?|net income|earn(?:s|ing)?"
    r"|cash[- ]positive|positive cash(?: flow)?|in the black|brings? in|bringing in"
    r"|gains?|self[- ]funding|generat(?:es|ing)|net cash in"
)
_DIRECTION = re.compile(rf"\b(?:(?P<in>{_IN_WORDS})|(?P<out>{_OUT_WORDS}))\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(
    r"[;.!?()\n]|\b(?:while|whereas|but|and|versus|vs\.?|on|against|from|with)\b|,\s"
)


def direction_near(text: str, start: int, end: int) -> Direction | None:
    """The cash direction the words next to a number give it, nearest first: within its
    clause, before the number ("net burn 2,365") or just after it ("$1,282 of inflow")."""
    before = text[max(0, start - 48) : start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end() :]
    after = text[end : end + 32]
    cut = _CLAUSE_BREAK.search(after)
    if cut:
        after = after[: cut.start()]
    hits_before = list(_DIRECTION.finditer(before))
    if hits_before:
        return Direction.IN if hits_before[-1]["in"] else Direction.OUT
    hit_after = _DIRECTION.search(after)
    if hit_after:
        return Direction.IN if hit_after["in"] else Direction.OUT
    return None


def _text_values(fact: Fact, source: str, text: str, typed: list[Stated]) -> list[Stated]:
    """The numbers written in a title or detail; one that repeats a typed metric (the
    title's "7,412.50" for `burn_usd`) is left to the metric, which knows its period."""
    values = []
    for number in find_numbers(text):
        if any(abs(metric.magnitude - abs(number.value)) <= number.tolerance for metric in typed):
            continue
        # a bare number in a title has no unit the words name: it meets any claim
        unit = None if number.unit is MetricUnit.COUNT else number.unit
        values.append(
            Stated(
                value=number.value,
                unit=unit,
                period=number.period,
                direction=direction_near(text, *number.span),
                fact_id=fact.id,
                source=source,
            )
        )
    return values


def stated_values(fact: Fact) -> list[Stated]:
    """Every value a fact states: its metrics, the numbers in its title and detail, and
    the line it was seen on."""
    values = []
    for name, value in fact.metrics.items():
        unit, period = metric_type(fact, name)
        values.append(
            Stated(
                value=value,
                unit=unit,
                period=period,
                direction=_metric_direction(name, value),
                fact_id=fact.id,
                source=name,
            )
        )
    typed = [value for value in values if value.unit is not None or value.period is not None]
    values += _text_values(fact, "title", fact.title, typed)
    values += _text_values(fact, "detail", fact.detail, typed)
    if fact.source.line is not None:
        values.append(
            Stated(fact.source.line, MetricUnit.COUNT, None, None, fact.id, "source line")
        )
    return values
