"""The number normaliser: what a sentence states as money, percent or count, and what not."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execbrief.models import MetricPeriod, MetricUnit
from execbrief.numbers import (
    NumberKind,
    find_numbers,
    format_number,
    from_value,
    parse_amount,
    parse_number,
)

MONEY, PERCENT, COUNT = NumberKind.MONEY, NumberKind.PERCENT, NumberKind.COUNT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monthly burn is $7,400.", [(7400, MONEY)]),
        ("burn of $7.4K", [(7400, MONEY)]),
        ("burn of $7.4k", [(7400, MONEY)]),
        ("7,400 a month", [(7400, COUNT)]),
        ("USD 7,400", [(7400, MONEY)]),
        ("7,400 USD", [(7400, MONEY)]),
        ("a margin of 12%", [(12, PERCENT)]),
        ("a margin of 12 percent", [(12, PERCENT)]),
        ("raise $1.2M", [(1_200_000, MONEY)]),
        ("raise $1.2 million", [(1_200_000, MONEY)]),
        ("raise $1.2mm", [(1_200_000, MONEY)]),
        ("break-even at six charters", [(6, COUNT)]),
        ("Twenty-five guests", [(25, COUNT)]),
        ("two hundred flyers", [(200, COUNT)]),
        ("six percent churn", [(6, PERCENT)]),
        ("a 3,676-person list", [(3676, COUNT)]),
        ("a loss of -$1,200", [(-1200, MONEY)]),
        ("down -5%", [(-5, PERCENT)]),
        ("3.6K subscribers", [(3600, COUNT)]),
        ("$1,200.50 refunded", [(1200.5, MONEY)]),
        ("**3,676** contacts", [(3676, COUNT)]),
        ("~$14.5K", [(14_500, MONEY)]),
        ("1024 MB of memory", [(1024, COUNT)]),
        ("3 bed / 2 bath", [(3, COUNT), (2, COUNT)]),
        ("$7–9K a month", [(7000, MONEY), (9000, MONEY)]),
        ("$50 – $84/month", [(50, MONEY), (84, MONEY)]),
        ("7-9% churn", [(7, PERCENT), (9, PERCENT)]),
        ("$500-2K per job", [(500, MONEY), (2000, MONEY)]),
        ("1–3 days", [(1, COUNT), (3, COUNT)]),
        ("4 x $1,140 = $4,560", [(4, COUNT), (1140, MONEY), (4560, MONEY)]),
    ],
)
def test_numbers_are_found_and_normalised(
    text: str, expected: list[tuple[float, NumberKind]]
) -> None:
    assert [(n.value, n.kind) for n in find_numbers(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25",
        "2026-11-25T14:15:00Z",
        "since 2026-06",
        "in 2026",
        "the 1962 build",
        "Nov 25, 2026",
        "by Dec 5",
        "25 November 2026",
        "11/25",
        "open 24/7",
        "a 30/60/90-day plan",
        "v1.2.3",
        "release 1.2.3",
        "Python 3.11",
        "Node 18",
        "at 14:15",
        "at 2pm",
        "at 10 a.m.",
        "(619) 555-0123",
        "619-555-0123",
        "call 555-0123",
        "1. Sailo first",
        "  2) GetMyBoat second",
        "- 3. Viator last",
        "## 4. Recommendations",
        "Q1",
        "the 51st St house",
        "us-west-2",
        "fact f_1a2b3c4d5e6f",
        "issue #12",
        "lambda_function.py:42",
        "a 512MB function",
        "a 5m boat",
        "someone often",
    ],
)
def test_dates_versions_times_phones_ordinals_and_identifiers_are_not_numbers(
    text: str,
) -> None:
    assert find_numbers(text) == []


def test_a_number_keeps_its_text_and_span() -> None:
    text = "Burn was $7.4K in October."
    (number,) = find_numbers(text)
    assert number.text == "$7.4K"
    assert text[number.span[0] : number.span[1]] == "$7.4K"


def test_range_ends_share_the_range_text() -> None:
    low, high = find_numbers("about $7–9K a month")
    assert low.text == high.text == "$7–9K"


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("$7,400", 1),
        ("$7.4K", 100),
        ("$7K", 1000),
        ("$1.2M", 100_000),
        ("12.5%", 0.1),
        ("$1,200.50", 0.01),
        ("six", 1),
        ("about $7,400", 100),
        ("~$7,000", 1000),
        ("roughly 3,676", 1),
    ],
)
def test_precision_follows_how_the_number_is_written(text: str, step: float) -> None:
    (number,) = find_numbers(text)
    assert number.step == pytest.approx(step)
    assert number.tolerance == pytest.approx(step / 2)


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("$7,400", 7400),
        ("$7.4K", 7400),
        ("7,400", 7400),
        ("12%", 12),
        ("**$6,470**", 6470),
        ("(1,200)", -1200),
        ("($1,200)", -1200),
        ("-$310", -310),
        ("~3%", 3),
        ("$118/h", 118),
        ("41 months", 41),
        ("0", 0),
    ],
)
def test_a_cell_with_one_number_parses(cell: str, value: float) -> None:
    assert parse_number(cell) == value


@pytest.mark.parametrize(
    "cell",
    [
        "",
        "—",
        "n/a",
        "TBD",
        "10 of 11",
        "$50 – $84",
        "2026",
        "2026-11-25",
        "Q1",
        "rust at base, 14 years old",
        "fixed-fee project ($6,000)",
        "one-page hosting agreement",
    ],
)
def test_a_cell_with_no_single_leading_number_is_none(cell: str) -> None:
    assert parse_number(cell) is None


def test_parse_amount_keeps_the_kind() -> None:
    amount = parse_amount("12%")
    assert amount is not None
    assert amount.kind is PERCENT


@pytest.mark.parametrize(
    ("value", "text", "step"),
    [(7400.0, "7400", 100), (7412.33, "7412.33", 0.01), (5.6, "5.6", 0.1), (0.0, "0", 1)],
)
def test_a_value_given_as_a_float_is_read_as_its_shortest_rounded_form(
    value: float, text: str, step: float
) -> None:
    number = from_value(value, COUNT)
    assert number.text == text
    assert number.step == pytest.approx(step)


@pytest.mark.parametrize(
    ("text", "unit", "period"),
    [
        ("JADA burns $7.4K a month", MetricUnit.USD, MetricPeriod.MONTH),
        ("$7,400/mo", MetricUnit.USD, MetricPeriod.MONTH),
        ("a monthly burn of $7.4K", MetricUnit.USD, MetricPeriod.MONTH),
        ("$1.7K per week", MetricUnit.USD, MetricPeriod.WEEK),
        ("$88K annually", MetricUnit.USD, MetricPeriod.YEAR),
        ("6 charters per month", MetricUnit.COUNT, MetricPeriod.MONTH),
        ("17.4 months of runway", MetricUnit.MONTHS, None),
        ("stale for 122 days", MetricUnit.DAYS, None),
        ("2.1x the reviews", MetricUnit.RATIO, None),
        ("43.8% margin", MetricUnit.PERCENT, None),
        ("a 732 KB table", MetricUnit.BYTES, None),
        ("cash of $41,250", MetricUnit.USD, None),
    ],
)
def test_a_number_carries_its_unit_and_the_period_its_words_give(
    text: str, unit: MetricUnit, period: MetricPeriod | None
) -> None:
    (number,) = find_numbers(text)
    assert (number.unit, number.period) == (unit, period)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("one hundred forty reviews", 140),
        ("two hundred and twelve items", 212),
        ("7.2 thousand dollars", 7200),
        ("2.1x", 2.1),
    ],
)
def test_compound_words_and_ratios_are_read(text: str, value: float) -> None:
    (number,) = find_numbers(text)
    assert number.value == value


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_string_is_read_without_crashing(text: str) -> None:
    for number in find_numbers(text):
        assert 0 <= number.span[0] <= number.span[1] <= len(text)
    parse_amount(text)


_UNITS = [
    MetricUnit.USD, MetricUnit.PERCENT, MetricUnit.RATIO, MetricUnit.COUNT,
    MetricUnit.DAYS, MetricUnit.MONTHS,
]  # fmt: skip
_FLOW_PERIODS = [None, MetricPeriod.DAY, MetricPeriod.WEEK, MetricPeriod.MONTH, MetricPeriod.YEAR]


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
    st.sampled_from(_UNITS),
    st.sampled_from(_FLOW_PERIODS),
)
@settings(max_examples=300, deadline=None)
def test_our_formatter_reads_back_to_itself(
    value: Decimal, unit: MetricUnit, period: MetricPeriod | None
) -> None:
    if unit in (MetricUnit.DAYS, MetricUnit.MONTHS):
        period = None  # a duration has no period of its own
    written = format_number(float(value), unit, period)
    (number,) = find_numbers(written)
    assert (number.value, number.unit, number.period) == (float(value), unit, period)
