"""Find the amounts, percentages and counts a sentence states, normalised to numbers.

One function serves both sides of the grounding check: the handoff collector turns table
cells into metrics with it, and the grounding check compares what a brief says with what
the evidence says through it, so "$7.4K", "7,400" and "$7,400" meet as 7400.

What counts as a number is what a claim can rest on: money ("$7,400", "$7.4K",
"USD 1.2M", "-$1,200"), percentages ("12%", "12 percent") and counts ("3,676-person",
"six charters", "twenty-five"). In prose "(6 charters)" and "($6,000)" are asides; only
a table cell wrapped in parentheses is an accounting negative (`parse_amount`).

What does not count, because it states no quantity, is left out: dates (2026-11-25,
11/25, Nov 25), years (a bare 1900-2099), times (14:15, 2pm), versions (1.2.3, Python
3.11), phone numbers, list and heading ordinals ("1." at a line's start), digits glued
to letters or identifiers (Q1, 51st, us-west-2, f_1a2b, #12, file.py:42) and slash
chains (24/7, 30/60/90).

Each number carries its precision as written (`step`): "7,400" is exact to 1, "$7.4K"
to 100, "$7K" to 1,000. After a hedge ("about", "~", "roughly", "over" ...) trailing
zeros count as rounding too, so "about $7,400" is exact to 100.

Each number also carries what it measures (`unit`: usd, percent, ratio for "2.1x", days
or months for "122 days" and "17.4 months", else count) and the period the text gives it
(`period`: "$7.4K a month", "$7,400/mo", "monthly burn of $7.4K", "$88K a year"; None when
the text names none), so a claim and a fact's metric meet on unit and period too.
`format_number` writes a value the way this module reads it back.

A dash range ("$7–9K", "$50 – $84", "7-9%") gives both ends; an end written bare
inherits the other end's currency, multiplier and percent sign when that reads as
intended (7 before 9K, but not 500 before 2K). Both ends share the range's text and span.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from execbrief.models import MetricPeriod, MetricUnit

__all__ = [
    "FoundNumber",
    "NumberKind",
    "find_numbers",
    "format_number",
    "from_value",
    "parse_amount",
    "parse_number",
]


class NumberKind(StrEnum):
    MONEY = "money"
    PERCENT = "percent"
    COUNT = "count"
    RATIO = "ratio"


class FoundNumber(BaseModel):
    """One number stated in a text: its value, what it measures and where it was written."""

    model_config = ConfigDict(frozen=True)

    value: float
    kind: NumberKind
    text: str
    span: tuple[int, int]
    step: float = 1.0
    approximate: bool = False
    unit: MetricUnit = MetricUnit.COUNT
    period: MetricPeriod | None = Field(
        None, description="The period the text states (a month, /yr); None when it states none."
    )

    @property
    def in_words(self) -> bool:
        """Written as words ("six"), not digits."""
        return not any(char.isdigit() for char in self.text)

    @property
    def tolerance(self) -> float:
        """Half the stated precision: how far the true value may lie from the written one."""
        return self.step / 2


_MONTHS = (
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
    r"(?:uary|ruary|ch|il|e|y|ust|ember|tember|ober)?\.?"
)

# Shapes that contain digits but state no quantity; matched first so they are consumed.
_NOT_NUMBERS = rf"""
    \d{{4}}-\d{{1,2}}(?:-\d{{1,2}})?                              # ISO date or year-month
        (?:[T\ ]\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)?
  | (?:\+?1[\ .-]?)?\(\d{{3}}\)[\ .-]?\d{{3}}[\ .-]\d{{4}}        # (619) 555-0123
  | (?:\+?1[\ .-])?\d{{3}}[\ .-]\d{{3}}[\ .-]\d{{4}}(?!\d)       # 619-555-0123
  | \d{{3}}-\d{{4}}(?!\d)                                         # 555-0123
  | v?\d+(?:\.\d+){{2,}}                                          # versions, dotted dates
  | \d+(?:/\d+)+                                                  # 11/25, 24/7, 30/60/90
  | \d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s?[ap]\.?m\b\.?)?           # 14:15, 2:30 pm
  | \d{{1,2}}\s?[ap]\.?m\b\.?                                     # 2pm, 10 a.m.
  | {_MONTHS}\ \d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\ \d{{4}})?        # Nov 25, 2026
  | \d{{1,2}}(?:st|nd|rd|th)?\ {_MONTHS}(?:\ \d{{4}})?(?![a-z])   # 25 Nov 2026
  | (?m:^)[\ \t]*(?:(?:[-*+>]|\#{{1,6}})[\ \t]+)?\d{{1,3}}[.)](?=[\ \t])  # ordinals
"""

_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULT = r"\ ?(?:thousand|million|billion)\b|(?:[kKMB]|bn|mm|m)(?![A-Za-z])"
_CUR = r"US\$|\$|€|£|USD\ ?"
_PCT = r"\ ?%|\ (?:percent|per\ cent)\b"

_NUMBER = rf"""
    (?<![\w.#:/@$,])(?<!\w-)
    (?P<sign>[-−+])?(?P<cur>{_CUR})?(?P<sign2>[-−])?
    (?P<num>{_DIGITS})(?P<mult>{_MULT})?(?P<pct>{_PCT})?(?P<ratio>[x×](?![\w.]))?
    (?:\ ?[-–—]\ ?(?P<cur_b>{_CUR})?(?P<num_b>{_DIGITS})(?P<mult_b>{_MULT})?(?P<pct_b>{_PCT})?)?
    (?P<cur_after>\ ?(?:USD|dollars)\b)?
    (?![\w%$]|[.,:/]\d|[-–]\d)
"""

_UNITS = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
    *("seventeen", "eighteen", "nineteen"),
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_WORD_VALUE = {word: i for i, word in enumerate(_UNITS)} | {
    word: 20 + 10 * i for i, word in enumerate(_TENS)
}
_WORD_PART = (
    rf"""(?:(?:{"|".join(_TENS)})(?:[-\ ](?:{"|".join(_UNITS[1:10])}))?|{"|".join(_UNITS)})"""
)
_WORD = rf"""
    (?i:\b(?P<word>{_WORD_PART}
      (?:\ hundred(?:\ (?:and\ )?{_WORD_PART}(?![-\w]))?)?)
      (?:\ (?P<word_mult>thousand|million|billion))?\b
      (?P<word_pct>\ (?:percent|per\ cent)\b)?(?P<word_cur>\ dollars\b)?)
"""

_SCAN = re.compile(
    rf"(?P<skip>{_NOT_NUMBERS})|(?P<number>{_NUMBER})|(?P<words>{_WORD})",
    re.VERBOSE,
)

_MULTIPLIERS = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "hundred": 1e2,
}
# Lower-case m/mm mean million only after a currency sign ("$1.2mm"); "5m" is a length.
_MONEY_ONLY_MULT = {"m", "mm"}
_HEDGE = re.compile(
    r"(?:\babout|\baround|\bapproximately|\bapprox\.?|\broughly|\bnearly|\balmost|\bsome"
    r"|\bover|\bunder|\bmore than|\bless than|\bfewer than|\bclose to|\bup to|\bat least"
    r"|\bat most|\bcirca|~|≈)\s*$",
    re.IGNORECASE,
)
_YEARS = range(1900, 2100)
_VERSION_CONTEXT = re.compile(
    r"\b(?:python|node(?:\.?js)?|version|runtime|tls|http|ruby|java|php|go|postgres(?:ql)?"
    r"|mysql|ubuntu|debian|ios|android|macos|windows|sdk)\s*$",
    re.IGNORECASE,
)


def _multiplier(suffix: str | None) -> float:
    if not suffix:
        return 1.0
    return _MULTIPLIERS[suffix.strip().lower()]


def _step(digits: str, multiplier: float, approximate: bool) -> float:
    """The precision the digits were written to: 0.01 for "1,200.50", 1 for "7,400", and
    100 for "7,400" after a hedge, where trailing zeros count as rounding."""
    digits = digits.replace(",", "")
    if "." in digits:
        exponent = -len(digits.partition(".")[2])
    elif approximate and int(digits):
        exponent = len(digits) - len(digits.rstrip("0"))
    else:
        exponent = 0
    return 10.0**exponent * multiplier


def _kind(currency: str | None, percent: str | None, ratio: bool = False) -> NumberKind:
    if ratio:
        return NumberKind.RATIO
    if percent:
        return NumberKind.PERCENT
    if currency:
        return NumberKind.MONEY
    return NumberKind.COUNT


def _from_digits(match: re.Match[str], text: str) -> list[FoundNumber]:
    groups = match.groupdict()
    cur_a, cur_b = groups["cur"], groups["cur_b"]
    mult_a, mult_b = groups["mult"], groups["mult_b"]
    pct_a, pct_b = groups["pct"], groups["pct_b"]
    currency_after = groups["cur_after"]
    start, end = match.span("number")
    approximate = bool(_HEDGE.search(text[max(0, start - 16) : start]))
    negative = bool(groups["sign"] in ("-", "−") or groups["sign2"])

    if groups["num_b"] is None:
        ends = [(groups["num"], cur_a or currency_after, mult_a, pct_a)]
    else:
        raw_a = float(groups["num"].replace(",", ""))
        raw_b = float(groups["num_b"].replace(",", ""))
        inherit = raw_a <= raw_b
        ends = [
            (
                groups["num"],
                cur_a or (cur_b if inherit else None) or currency_after,
                mult_a or (mult_b if inherit else None),
                pct_a or (pct_b if inherit else None),
            ),
            (groups["num_b"], cur_b or cur_a or currency_after, mult_b, pct_b or pct_a),
        ]

    found: list[FoundNumber] = []
    for digits, currency, mult, pct in ends:
        if mult and mult.strip().lower() in _MONEY_ONLY_MULT and not currency:
            return []
        kind = _kind(currency, pct, ratio=bool(groups["ratio"]) and len(ends) == 1)
        if kind is NumberKind.COUNT and not mult and _is_structural(digits, text, start):
            return []
        multiplier = _multiplier(mult)
        value = float(digits.replace(",", "")) * multiplier
        found.append(
            FoundNumber(
                value=-value if negative and len(ends) == 1 else value,
                kind=kind,
                text=text[start:end],
                span=(start, end),
                step=_step(digits, multiplier, approximate),
                approximate=approximate,
            )
        )
    return found


def _is_structural(digits: str, text: str, start: int) -> bool:
    """A bare year, or a version number after a product name ("Python 3.11")."""
    if "," not in digits and "." not in digits and int(digits) in _YEARS:
        return True
    return bool(_VERSION_CONTEXT.search(text[max(0, start - 12) : start]))


def _word_value(words: str) -> float:
    return float(sum(_WORD_VALUE[part] for part in re.split(r"[-\s]+", words.strip()) if part))


def _from_words(match: re.Match[str], text: str) -> FoundNumber:
    groups = match.groupdict()
    hundreds, _, rest = groups["word"].lower().partition("hundred")
    if rest or groups["word"].lower().rstrip().endswith("hundred"):
        value = 100.0 * _word_value(hundreds) + _word_value(rest.replace("and", " "))
    else:
        value = _word_value(hundreds)
    multiplier = _multiplier(groups["word_mult"])
    if groups["word"].lower().endswith("hundred") and multiplier == 1:
        multiplier = 100.0
        value /= 100
    start, end = match.span("words")
    return FoundNumber(
        value=value * multiplier,
        kind=_kind(groups["word_cur"], groups["word_pct"]),
        text=text[start:end],
        span=(start, end),
        step=multiplier,
        approximate=bool(_HEDGE.search(text[max(0, start - 16) : start])),
    )


_PERIOD_WORDS = {
    "day": MetricPeriod.DAY,
    "daily": MetricPeriod.DAY,
    "week": MetricPeriod.WEEK,
    "wk": MetricPeriod.WEEK,
    "weekly": MetricPeriod.WEEK,
    "month": MetricPeriod.MONTH,
    "mo": MetricPeriod.MONTH,
    "mth": MetricPeriod.MONTH,
    "monthly": MetricPeriod.MONTH,
    "quarter": MetricPeriod.QUARTER,
    "qtr": MetricPeriod.QUARTER,
    "quarterly": MetricPeriod.QUARTER,
    "year": MetricPeriod.YEAR,
    "yr": MetricPeriod.YEAR,
    "annum": MetricPeriod.YEAR,
    "annual": MetricPeriod.YEAR,
    "annually": MetricPeriod.YEAR,
    "yearly": MetricPeriod.YEAR,
    "annualised": MetricPeriod.YEAR,
    "annualized": MetricPeriod.YEAR,
}
# "$7.4K a month", "$7,400/mo", "6 charters per month", "$2,365 of net burn each month",
# "$88K annually"; up to three words may stand between the number and its period.
_PERIOD_AFTER = re.compile(
    r"^\s?(?:USD\b\s?)?(?:[A-Za-z][\w-]*\s+){0,3}?"
    r"(?:(?:/\s?|\bper\s+|\ba\s+|\ban\s+|\beach\s+|\bevery\s+)"
    r"(?P<unit>day|week|wk|month|mo|mth|quarter|qtr|year|yr|annum)s?\b"
    r"|(?P<adverb>daily|weekly|monthly|quarterly|yearly|annually|annualised|annualized)\b)",
    re.IGNORECASE,
)
# "monthly burn of $7.4K", "Annual rent: $34,200", "weekly spend is $450".
_PERIOD_BEFORE = re.compile(
    r"\b(?P<adj>daily|weekly|monthly|quarterly|yearly|annual|annualised|annualized)\s+"
    r"(?:[A-Za-z][\w-]*\s+){0,3}?(?:(?:of|at|is|was|=|near|about|around)\s+|:\s*)?[~≈]?$",
    re.IGNORECASE,
)
_DURATION = re.compile(r"^[\s-]?(?P<unit>day|month)s?\b", re.IGNORECASE)
_SIZE = re.compile(r"^\s?(?:[KMGT]i?B)\b")


def _period(text: str, start: int, end: int) -> MetricPeriod | None:
    """The period the words around a number give it, if any."""
    after = _PERIOD_AFTER.match(text[end : end + 48])
    if after:
        return _PERIOD_WORDS[(after["unit"] or after["adverb"]).lower()]
    before = _PERIOD_BEFORE.search(text[max(0, start - 40) : start])
    if before:
        return _PERIOD_WORDS[before["adj"].lower()]
    return None


def _unit(number: FoundNumber, text: str) -> MetricUnit:
    if number.kind is NumberKind.MONEY:
        return MetricUnit.USD
    if number.kind is NumberKind.PERCENT:
        return MetricUnit.PERCENT
    if number.kind is NumberKind.RATIO:
        return MetricUnit.RATIO
    if _SIZE.match(text[number.span[1] : number.span[1] + 5]):
        return MetricUnit.BYTES
    duration = _DURATION.match(text[number.span[1] : number.span[1] + 8])
    if duration:
        return MetricUnit.DAYS if duration["unit"].lower() == "day" else MetricUnit.MONTHS
    return MetricUnit.COUNT


def _typed(number: FoundNumber, text: str) -> FoundNumber:
    return number.model_copy(
        update={"unit": _unit(number, text), "period": _period(text, *number.span)}
    )


def find_numbers(text: str) -> list[FoundNumber]:
    """Every amount, percentage and count stated in `text`, in order of appearance."""
    found: list[FoundNumber] = []
    for match in _SCAN.finditer(text):
        if match.group("number"):
            found.extend(_from_digits(match, text))
        elif match.group("words"):
            found.append(_from_words(match, text))
    return [_typed(number, text) for number in found]


_KIND_UNIT = {
    NumberKind.MONEY: MetricUnit.USD,
    NumberKind.PERCENT: MetricUnit.PERCENT,
    NumberKind.RATIO: MetricUnit.RATIO,
    NumberKind.COUNT: MetricUnit.COUNT,
}


def from_value(
    value: float,
    kind: NumberKind,
    unit: MetricUnit | None = None,
    period: MetricPeriod | None = None,
) -> FoundNumber:
    """A value given as a number rather than text (a KPI's value), read as if written in
    its shortest form and rounded: 7400.0 is "7400", exact to 100."""
    digits = format(Decimal(repr(abs(value))).normalize(), "f")
    text = format(Decimal(repr(value)).normalize(), "f")
    return FoundNumber(
        value=value,
        kind=kind,
        text=text,
        span=(0, len(text)),
        step=_step(digits, 1.0, approximate=True),
        approximate=True,
        unit=unit or _KIND_UNIT[kind],
        period=period,
    )


_PERIOD_SUFFIX = {
    MetricPeriod.DAY: "/day",
    MetricPeriod.WEEK: "/week",
    MetricPeriod.MONTH: "/month",
    MetricPeriod.QUARTER: "/quarter",
    MetricPeriod.YEAR: "/year",
}


def format_number(
    value: float, unit: MetricUnit = MetricUnit.COUNT, period: MetricPeriod | None = None
) -> str:
    """A value written the way briefs write it ("$7,214.50/month", "43.8%", "2.1x",
    "17.4 months"); `find_numbers` reads it back to the same value, unit and period."""
    magnitude = Decimal(repr(abs(value))).normalize()
    places = max(0, -magnitude.as_tuple().exponent)  # type: ignore[operator]  # finite here
    digits = f"{magnitude:,.{places}f}"
    sign = "-" if value < 0 else ""
    suffix = _PERIOD_SUFFIX.get(period, "") if period else ""
    if unit is MetricUnit.USD:
        return f"{sign}${digits}{suffix}"
    if unit is MetricUnit.PERCENT:
        return f"{sign}{digits}%{suffix}"
    if unit is MetricUnit.RATIO:
        return f"{sign}{digits}x{suffix}"
    words = {MetricUnit.DAYS: " days", MetricUnit.MONTHS: " months", MetricUnit.BYTES: " bytes"}
    return f"{sign}{digits}{words.get(unit, '')}{suffix}"


_EMPTY_CELL = re.compile(r"^(?:|-|–|—|n/?a|tbd|none|\?)$", re.IGNORECASE)
_CELL_LEAD = {"", "about", "around", "approx.", "approximately", "roughly", "est.", "est"}


def parse_amount(cell: str) -> FoundNumber | None:
    """The number a table cell states in digits, or None when it states none or several,
    or when words come before it ("rust at base, 14 years old" describes, "one-page
    agreement" names).
    A cell wrapped in parentheses is negative, as in accounting: "(1,200)" -> -1200."""
    cell = cell.strip().strip("*_`").strip()
    if _EMPTY_CELL.match(cell):
        return None
    negative = cell.startswith("(") and cell.endswith(")")
    if negative:
        cell = cell[1:-1].strip()
    numbers = find_numbers(cell)
    if len(numbers) != 1 or numbers[0].in_words:
        return None
    number = numbers[0]
    if cell[: number.span[0]].strip(" ~≈").lower() not in _CELL_LEAD:
        return None
    if negative:
        number = number.model_copy(update={"value": -abs(number.value)})
    return number


def parse_number(cell: str) -> float | None:
    """The value of the one number a table cell states: "$7.4K" -> 7400, "(1,200)" -> -1200."""
    number = parse_amount(cell)
    return number.value if number else None
