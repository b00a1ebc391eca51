"""How one number a claim writes meets one value a fact states: unit, precision, and
the conversions a careful reader allows.

`candidates` gives the magnitudes a stated value can take against a claim (a fraction as
a percent, days as months, bytes in KB to GiB, days or months counted in weeks or
years); `unit_fits` says whether a claim's unit can state a value of the fact's unit;
`precision_slack` is how far the true value may lie from the written one;
`named_metrics` finds, for "9 active clients", the metrics that count that thing by name;
`names_metric` says a number stands under the metric's own name ("Net burn / month:
-1,063.55"), where its sign is read against the metric's sign.
"""

from __future__ import annotations

import re

from execbrief.grounding.fact_values import Stated
from execbrief.models import MetricUnit
from execbrief.numbers import FoundNumber, NumberKind

__all__ = [
    "AT_LEAST",
    "AT_MOST",
    "POINTS",
    "WEEKS_OR_YEARS",
    "candidates",
    "named_metrics",
    "names_metric",
    "precision_slack",
    "unit_fits",
]


def precision_slack(number: FoundNumber) -> float:
    """How far the true value may lie from the written one. "$7K" unhedged means 7,000
    (within 1 %); "about $7K" and "$7.2K" are read to their written precision."""
    target = abs(number.value)
    slack = number.tolerance
    mantissa = number.step >= 1000 and target and round(target / number.step) < 10
    if mantissa and not number.approximate and number.kind is not NumberKind.COUNT:
        slack = min(slack, 0.01 * target)
    return slack + 1e-9 * max(1.0, target)


def unit_fits(claim: MetricUnit, stated: MetricUnit | None, bare_noun: bool = False) -> bool:
    """Whether a claim's unit can state a value of the stated unit. A bare number fits
    any unit, except a percent when a noun follows it ("22.6 charters" for 22.6 %)."""
    if stated is None:
        return True
    if claim is MetricUnit.COUNT:
        return not (bare_noun and stated is MetricUnit.PERCENT)
    if claim is MetricUnit.RATIO:
        return stated in (MetricUnit.RATIO, MetricUnit.COUNT)
    return claim is stated


def candidates(
    number: FoundNumber, stated: Stated, duration: str | None = None
) -> list[tuple[float, MetricUnit | None]]:
    """The magnitudes a stated value can take against this claim: as stored, a fraction
    read as a percent, days as months and back, bytes in KB to GiB, and days or months in
    the weeks or years a claim counts them in."""
    if duration and stated.unit in (MetricUnit.DAYS, MetricUnit.MONTHS):
        days = stated.magnitude * (_DAYS_PER_MONTH if stated.unit is MetricUnit.MONTHS else 1)
        per = 7.0 if duration == "week" else 365.25
        return [(days / per, MetricUnit.COUNT)]
    found = [(stated.magnitude, stated.unit)]
    fraction = stated.unit in (None, MetricUnit.RATIO, MetricUnit.COUNT) and stated.magnitude <= 1.5
    if number.unit is MetricUnit.PERCENT and fraction:
        found.append((stated.magnitude * 100, MetricUnit.PERCENT))
    if number.unit is MetricUnit.MONTHS and stated.unit is MetricUnit.DAYS:
        found.append((stated.magnitude / _DAYS_PER_MONTH, MetricUnit.MONTHS))
    if number.unit is MetricUnit.DAYS and stated.unit is MetricUnit.MONTHS:
        found.append((stated.magnitude * _DAYS_PER_MONTH, MetricUnit.DAYS))
    if number.unit is MetricUnit.BYTES and stated.unit is MetricUnit.BYTES:
        found += [(stated.magnitude / scale, MetricUnit.BYTES) for scale in _BYTE_SCALES]
    return found


_DAYS_PER_MONTH = 365.25 / 12
WEEKS_OR_YEARS = re.compile(
    r"^[\s-]?(week|year)s?\b(?!\s*(?:of|in)\s+(?:the|a|this))", re.IGNORECASE
)
_BYTE_SCALES = (1e3, 1e6, 1e9, 1024.0, 1024.0**2, 1024.0**3)
POINTS = re.compile(
    r"^\s?(?:percent\b|per cent\b|%|points?\b|pts?\b|pp\b|percentage points?\b|[^\w\s]|$)",
    re.IGNORECASE,
)
AT_MOST = re.compile(
    r"\b(?:under|below|less than|fewer than|up to|at most|no more than)\s*[~≈]?\s*$",
    re.IGNORECASE,
)
AT_LEAST = re.compile(
    r"\b(?:over|above|more than|at least|upwards of|in excess of)\s*[~≈]?\s*$", re.IGNORECASE
)


_NOUN = re.compile(r"^\s+([A-Za-z][a-z-]+)(?:\s+([A-Za-z][a-z-]+))?")
_NOT_NOUNS = {
    "a", "an", "the", "of", "in", "on", "at", "per", "and", "or", "to", "for", "from", "with",
    "is", "are", "was", "were", "this", "that", "last", "each", "more", "less", "than",
    "month", "months", "week", "weeks", "year", "years", "day", "days", "percent", "times",
}  # fmt: skip


def named_metrics(number: FoundNumber, clause: str, values: list[Stated]) -> list[Stated]:
    """For a bare count of a plural noun ("9 active clients"), the cited metrics that count
    that thing by name (`active_clients`): a fact with such a metric grounds the count
    only through it."""
    if number.unit is not MetricUnit.COUNT or number.in_words:
        return []
    match = _NOUN.match(clause[number.span[1] :])
    if not match:
        return []
    plural = [w.lower() for w in match.groups() if w and w.lower() not in _NOT_NOUNS]
    plural = [w for w in plural if w.endswith("s") and not w.endswith("ss")][:1]
    if not plural:
        return []
    noun = plural[0].removesuffix("s")
    return [
        value
        for value in values
        if value.source not in ("title", "detail", "source line")
        and value.fact_id is not None
        and value.unit in (None, MetricUnit.COUNT)
        and noun in {part.removesuffix("s") for part in value.source.split("_")}
    ]


# Words of a metric's name that say its unit or period, not what it measures.
_NAME_NOISE = {"usd", "pct", "percent", "monthly", "weekly", "annual", "yearly", "per", "month"}
_LABEL_START = re.compile(r"[;:.!?()\n|]\s*(?=[^;:.!?()\n|]*$)")


def names_metric(number: FoundNumber, clause: str, stated: Stated) -> bool:
    """Whether the label just before a number is the metric's own name: "Net burn / month:
    -1,063.55" for `net_burn_monthly_usd` or `burn_monthly_usd`. A signed figure there is
    the metric itself, sign and all, though "burn" alone reads as money going out."""
    if stated.fact_id is None:
        return False
    words = [w for w in stated.source.split("_") if w and w not in _NAME_NOISE]
    if not words or any(w.isdigit() for w in words):
        return False
    # the label is what stands since the last clause mark before the figure's own colon
    head = clause[: number.span[0]].rstrip().removesuffix(":")
    cut = _LABEL_START.search(head)
    label = re.findall(r"[a-z]+", (head[cut.end() :] if cut else head).lower())
    label = [w for w in label if w not in _NAME_NOISE]
    return label[-len(words) :] == words
