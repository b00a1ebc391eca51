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

A dash range ("$7–9K", "$50 – $84", "7-9%") gives both ends; an end written bare
inherits the other end's currency, multiplier and percent sign when that reads as
intended (7 before 9K, but not 500 before 2K). Both ends share the range's text and span.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = [
    "FoundNumber",
    "NumberKind",
    "find_numbers",
    "from_value",
    "parse_amount",
    "parse_number",
]


class NumberKind(StrEnum):
    MONEY = "money"
    PERCENT = "percent"
    COUNT = "count"


class FoundNumber(BaseModel):
    """One number stated in a text: its value, what it measures and where it was written."""

    model_config = ConfigDict(frozen=True)

    value: float
    kind: NumberKind
    text: str
    span: tuple[int, int]
    step: float = 1.0
    approximate: bool = False

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
    (?P<num>{_DIGITS})(?P<mult>{_MULT})?(?P<pct>{_PCT})?
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
_WORD = rf"""
    (?i:\b(?P<word>(?:{"|".join(_TENS)})(?:[-\ ](?:{"|".join(_UNITS[1:10])}))?
      |{"|".join(_UNITS)})(?:\ (?P<word_mult>hundred|thousand|million|billion))?\b
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


def _kind(currency: str | None, percent: str | None) -> NumberKind:
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
        kind = _kind(currency, pct)
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


def _from_words(match: re.Match[str], text: str) -> FoundNumber:
    groups = match.groupdict()
    parts = re.split(r"[-\s]", groups["word"].lower())
    value = float(sum(_WORD_VALUE[part] for part in parts))
    multiplier = _multiplier(groups["word_mult"])
    start, end = match.span("words")
    return FoundNumber(
        value=value * multiplier,
        kind=_kind(groups["word_cur"], groups["word_pct"]),
        text=text[start:end],
        span=(start, end),
        step=multiplier,
        approximate=bool(_HEDGE.search(text[max(0, start - 16) : start])),
    )


def find_numbers(text: str) -> list[FoundNumber]:
    """Every amount, percentage and count stated in `text`, in order of appearance."""
    found: list[FoundNumber] = []
    for match in _SCAN.finditer(text):
        if match.group("number"):
            found.extend(_from_digits(match, text))
        elif match.group("words"):
            found.append(_from_words(match, text))
    return found


def from_value(value: float, kind: NumberKind) -> FoundNumber:
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
    )


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
