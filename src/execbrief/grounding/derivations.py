"""Figures a brief derives from its evidence: written arithmetic, and named derivations.

Written arithmetic ("$2,850 x 12 = $34,200", "6 charters = $7,400 / ($1,450 - $310)") is
parsed and evaluated with interval arithmetic: each operand stands for the range its
written precision allows, so "$7.4K / $1,140 = 6.5" holds while "= 8" does not. A side
that is one number against a computed side is the result: it needs no fact of its own
when the arithmetic holds. The other operands must be grounded by the caller, except
conversion constants (12 months, 52 weeks, 4 quarters, 365 or 30 days, 7 days, 100).

Named derivations are recomputed from the cited values when the words around a number
name one: a total ("in total", "combined", "across"), an average ("average", "mean"), a
difference ("gap", "more than", "short of"), a ratio or share ("2.1x", "share of", "% of",
"covers"), or a change ("down 27%"). Annualising is a change of period and is handled
where periods are compared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import combinations, permutations
from statistics import mean

from execbrief.grounding.fact_values import Stated
from execbrief.models import MetricUnit
from execbrief.numbers import FoundNumber, NumberKind, find_numbers, format_number

__all__ = ["Arithmetic", "find_arithmetic", "named_derivation"]

CONSTANTS = {12.0, 52.0, 4.0, 365.0, 30.0, 7.0, 100.0}

_PERIOD_PHRASE = re.compile(
    r"/\s?(?:month|mo|year|yr|week|wk|day|quarter)s?\b"
    r"|\b(?:a|an|per|each|every)\s+(?:month|year|week|day|quarter)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(
    r"(?P<num>(?:US\$|\$)?\d[\d,]*(?:\.\d+)?(?:\s?(?:[kKMB]\b|thousand\b|million\b))?%?)"
    r"|(?P<word>[A-Za-z][\w'-]*)"
    r"|(?P<op>[×x*/÷+=≈−–-])"
    r"|(?P<lp>\()|(?P<rp>\))|(?P<ws>\s+)|(?P<other>.)"
)
_OPS = {"×": "*", "x": "*", "*": "*", "/": "/", "÷": "/", "+": "+", "-": "-", "−": "-",
        "–": "-", "=": "=", "≈": "="}  # fmt: skip


_WORD_OPS = {"x": "x", "times": "x", "less": "-", "minus": "-", "plus": "+"}


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __sub__(self, other: Interval) -> Interval:
        return Interval(self.lo - other.hi, self.hi - other.lo)

    def __mul__(self, other: Interval) -> Interval:
        products = [a * b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Interval(min(products), max(products))

    def __truediv__(self, other: Interval) -> Interval:
        if other.lo <= 0 <= other.hi:
            return Interval(float("-inf"), float("inf"))
        return self * Interval(1 / other.hi, 1 / other.lo)

    def overlaps(self, other: Interval) -> bool:
        slack = 1e-9 * max(1.0, abs(self.hi), abs(other.hi))
        return self.lo <= other.hi + slack and other.lo <= self.hi + slack

    @property
    def middle(self) -> float:
        return (self.lo + self.hi) / 2


@dataclass(frozen=True)
class Operand:
    number: FoundNumber
    span: tuple[int, int]  # in the sentence

    @property
    def interval(self) -> Interval:
        value, slack = self.number.value, self.number.tolerance
        if self.number.kind is NumberKind.PERCENT:
            value, slack = value / 100, slack / 100
        return Interval(value - slack, value + slack)


@dataclass
class Arithmetic:
    """One written calculation: its text, operands, results, and whether it holds."""

    text: str
    span: tuple[int, int]
    operands: list[Operand] = field(default_factory=list)  # must be grounded
    constants: list[Operand] = field(default_factory=list)
    results: list[Operand] = field(default_factory=list)  # verified by the arithmetic
    failure: str | None = None
    expected: str | None = None


class _Parser:
    """Recursive descent over + - * / and parentheses, on intervals."""

    def __init__(self, items: list[str | Operand]) -> None:
        self.items = items
        self.at = 0

    def _peek(self) -> str | Operand | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def expression(self) -> Interval:
        value = self.term()
        while self._peek() in ("+", "-"):
            op = self.items[self.at]
            self.at += 1
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self) -> Interval:
        value = self.factor()
        while self._peek() in ("*", "/"):
            op = self.items[self.at]
            self.at += 1
            right = self.factor()
            value = value * right if op == "*" else value / right
        return value

    def factor(self) -> Interval:
        item = self._peek()
        self.at += 1
        if item == "(":
            value = self.expression()
            if self._peek() != ")":
                raise ValueError("unbalanced parentheses")
            self.at += 1
            return value
        if isinstance(item, Operand):
            return item.interval
        raise ValueError(f"unexpected {item!r}")

    def done(self) -> bool:
        return self.at == len(self.items)


def _evaluate(items: list[str | Operand]) -> Interval:
    parser = _Parser(items)
    value = parser.expression()
    if not parser.done():
        raise ValueError("trailing tokens")
    return value


def _segments(sentence: str) -> list[tuple[int, int, list[str | Operand]]]:
    """Runs of operands and operators; up to four words after an operand are its unit
    ("6 charters = ..."), up to two between an operator and its operand are a label
    ("/ (revenue 142,180 + expenses 121,939)"), anything else ends the run."""
    masked = _PERIOD_PHRASE.sub(lambda m: " " * len(m.group(0)), sentence)
    runs: list[tuple[int, int, list[str | Operand]]] = []
    items: list[str | Operand] = []
    start = end = 0
    words_after_operand = -1
    words_before_operand = -1
    implied: dict[int, int] = {}  # index of an "=" read from "X (...": where "(" stood

    def close() -> None:
        nonlocal items
        implied.clear()
        while items and not isinstance(items[-1], Operand) and items[-1] != ")":
            items.pop()
        if sum(isinstance(item, Operand) for item in items) >= 2 and any(
            item in ("+", "-", "*", "/") for item in items
        ):
            runs.append((start, end, items))
        items = []

    for token in _TOKEN.finditer(masked):
        kind = token.lastgroup
        text = token.group(0)
        if kind == "ws":
            continue
        if kind == "word" and text.lower() in _WORD_OPS:
            kind, text = "op", _WORD_OPS[text.lower()]
        if kind == "num":
            parsed = find_numbers(text)
            if len(parsed) != 1 or (items and isinstance(items[-1], Operand)):
                close()
            if len(parsed) != 1:
                continue
            if not items:
                start = token.start()
            items.append(Operand(parsed[0], token.span()))
            end = token.end()
            words_after_operand = 0
            words_before_operand = -1
        elif kind == "op" and items:
            if isinstance(items[-1], str) and items[-1] not in (")",):
                close()
                continue
            items.append(_OPS[text])
            words_after_operand = -1
            words_before_operand = 0
        elif kind == "lp":
            if items and isinstance(items[-1], Operand):
                # "$6,300 ($8,550 less $2,250)": the parentheses show how it was reached
                implied[len(items)] = token.start()
                items.append("=")
            if not items:
                start = token.start()
            items.append("(")
            words_after_operand = -1
            words_before_operand = 0
        elif kind == "rp" and items:
            items.append(")")
            end = token.end()
            items, start = _own_equation(items, implied, start, close)
        elif kind == "word" and 0 <= words_after_operand < 4:
            words_after_operand += 1
        elif (
            kind == "word"
            and 0 <= words_before_operand < 2
            and items
            and isinstance(items[-1], str)
        ):
            words_before_operand += 1
        else:
            close()
            words_after_operand = -1
    close()
    return runs


def _own_equation(
    items: list[str | Operand],
    implied: dict[int, int],
    start: int,
    close: Callable[[], None],
) -> tuple[list[str | Operand], int]:
    """A parenthesis just closed. When it followed an operand ("6 whole charters (6 x
    1,450 = 8,700 ...)") and holds an "=" of its own, it is a calculation in its own right,
    not how that operand was reached: the operand before it ends a run of its own."""
    depth, opened = 0, None
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        depth += (item == ")") - (item == "(")
        if depth == 0:
            opened = index
            break
    if opened is None or opened - 1 not in implied or "=" not in items[opened + 1 :]:
        return items, start
    own, position = items[opened:], implied[opened - 1]
    del items[opened - 1 :]
    close()
    return own, position


def _balanced(items: list[str | Operand]) -> list[str | Operand]:
    depth = 0
    kept: list[str | Operand] = []
    for item in items:
        if item == "(":
            depth += 1
        elif item == ")":
            if depth == 0:
                continue
            depth -= 1
        kept.append(item)
    return kept + [")"] * depth


def _operands(items: list[str | Operand]) -> list[Operand]:
    return [item for item in items if isinstance(item, Operand)]


def _render(items: list[str | Operand]) -> str:
    parts = []
    for item in items:
        if isinstance(item, Operand):
            parts.append(item.number.text)
        else:
            parts.append({"*": "×", "/": "÷"}.get(item, item))
    return " ".join(parts).replace("( ", "(").replace(" )", ")")


def _split_constants(
    operands: list[Operand], items: list[str | Operand]
) -> tuple[list[Operand], list[Operand]]:
    constants, grounded = [], []
    for index, item in enumerate(items):
        if not isinstance(item, Operand):
            continue
        neighbours = {items[i] for i in (index - 1, index + 1) if 0 <= i < len(items)}
        scaling = bool(neighbours & {"*", "/"})
        bare = item.number.kind is NumberKind.COUNT and not item.number.in_words
        if scaling and bare and item.number.value in CONSTANTS:
            constants.append(item)
        else:
            grounded.append(item)
    return constants, grounded


def find_arithmetic(sentence: str) -> list[Arithmetic]:
    """Every calculation written in a sentence, evaluated."""
    found = []
    for start, end, raw in _segments(sentence):
        items = _balanced(raw)
        text = sentence[start:end]
        sides: list[list[str | Operand]] = [[]]
        for item in items:
            if item == "=":
                sides.append([])
            else:
                sides[-1].append(item)
        sides = [_balanced(side) for side in sides if side]
        arithmetic = Arithmetic(text=text, span=(start, end))
        try:
            values = [_evaluate(side) for side in sides]
        except (ValueError, ZeroDivisionError):
            continue
        computed = [i for i, side in enumerate(sides) if len(_operands(side)) > 1]
        for index, side in enumerate(sides):
            if len(sides) > 1 and index not in computed and computed:
                arithmetic.results += _operands(side)
            else:
                constants, grounded = _split_constants(_operands(side), side)
                arithmetic.constants += constants
                arithmetic.operands += grounded
        if len(values) > 1:
            reference = values[computed[0]] if computed else values[0]
            for index, value in enumerate(values):
                if not value.overlaps(reference):
                    result = _operands(sides[index])
                    unit = _unit_of(result[0].number) if len(result) == 1 else MetricUnit.COUNT
                    shown = reference.middle * (100 if unit is MetricUnit.PERCENT else 1)
                    arithmetic.expected = format_number(round(shown, 2), unit)
                    arithmetic.failure = (
                        f"{_render(sides[computed[0] if computed else 0])} is "
                        f"{arithmetic.expected}, not {_render(sides[index])}"
                    )
                    break
        found.append(arithmetic)
    return found


def _unit_of(number: FoundNumber) -> MetricUnit:
    return {
        NumberKind.MONEY: MetricUnit.USD,
        NumberKind.PERCENT: MetricUnit.PERCENT,
        NumberKind.RATIO: MetricUnit.RATIO,
    }.get(number.kind, MetricUnit.COUNT)


_CUES = {
    "total": re.compile(
        r"\b(?:total(?:s|led|ling|ing)?|combined|together|in all|altogether|sum(?:s| of)?"
        r"|across|add(?:s|ing)? up to|all told|between them|cumulative)\b",
        re.IGNORECASE,
    ),
    "average": re.compile(r"\b(?:average[sd]?|avg|mean|on average|typical)\b", re.IGNORECASE),
    "difference": re.compile(
        r"\b(?:difference|gap|short(?:fall)?|short of|more than|less than|higher than"
        r"|lower than|exceed(?:s|ed|ing)?|remaining|net of|apart)\b",
        re.IGNORECASE,
    ),
    "ratio": re.compile(
        r"\b(?:ratio|times|multiple|share|of (?:the )?total|covers?|coverage|percent of"
        r"|conversion|converts?)\b|%\s+of\b|\d(?:\.\d+)?x\b",
        re.IGNORECASE,
    ),
    "change": re.compile(
        r"\b(?:up|down|drop(?:ped|s)?|rose|fell|grew|growth|increase[sd]?|decrease[sd]?"
        r"|decline[sd]?|change[sd]?)\b",
        re.IGNORECASE,
    ),
}


def _compatible(number: FoundNumber, stated: Stated) -> bool:
    unit = _unit_of(number)
    if stated.unit is None or unit is MetricUnit.COUNT:
        return True
    return stated.unit is unit


def _groups(values: list[Stated]) -> list[tuple[str, list[Stated]]]:
    """Values that belong together: one fact's monthly series, one metric across facts."""
    by_series: dict[tuple[str | None, str], list[Stated]] = {}
    by_name: dict[str, list[Stated]] = {}
    for value in values:
        series = re.sub(r"_\d{4}_\d{2}$", "", value.source)
        if series != value.source:
            by_series.setdefault((value.fact_id, series), []).append(value)
        if value.source not in _TEXT_SOURCES:
            by_name.setdefault(value.source, []).append(value)
    groups = [(f"the {name} series", group) for (_, name), group in by_series.items()]
    groups += [(f"{name} across the cited facts", g) for name, g in by_name.items() if len(g) > 1]
    return groups


def _headline(value: Stated) -> bool:
    """A metric of its own, not a number from a title or a month of a series."""
    return value.source not in _TEXT_SOURCES and not re.search(r"_\d{4}_\d{2}$", value.source)


_TEXT_SOURCES = ("title", "detail", "source line")


def _pairs(values: list[Stated]) -> Iterator[tuple[Stated, ...]]:
    """Two values of distinct facts, or two headline metrics of one fact."""
    for a, b in combinations(values, 2):
        if a.fact_id != b.fact_id or (_headline(a) and _headline(b)):
            yield a, b


def _across_facts(values: list[Stated], size: int) -> Iterator[tuple[Stated, ...]]:
    if len(values) > 60:
        return
    for combo in combinations(values, size):
        if len({value.fact_id for value in combo}) == size:
            yield combo


def named_derivation(number: FoundNumber, clause: str, values: list[Stated]) -> str | None:
    """How the cited values give `number` through the derivation its words name, or None."""
    cues = {name for name, cue in _CUES.items() if cue.search(clause)}
    if number.kind is NumberKind.RATIO:
        cues.add("ratio")
    if not cues and number.kind is not NumberKind.PERCENT:
        return None
    target = abs(number.value)
    slack = number.tolerance + 1e-9 * max(1.0, target)

    def hits(candidate: float) -> bool:
        return abs(abs(candidate) - target) <= slack

    pool: list[Stated] = []
    seen: set[float] = set()
    for value in values:
        if value.value not in seen:
            seen.add(value.value)
            pool.append(value)
    same_unit = [v for v in pool if _compatible(number, v) and v.value != 0]
    groups = _groups(same_unit)
    percent = number.kind is NumberKind.PERCENT

    def label(items: tuple[Stated, ...] | list[Stated]) -> str:
        return ", ".join(f"{v.source} ({v.fact_id})" for v in items)

    # Any two values of the cited facts may be added; three, or an average, only across
    # distinct facts (one value each), else a long table adds up to almost anything.
    if "total" in cues and not percent:
        for name, group in groups:
            if hits(sum(v.value for v in group)):
                return f"the total of {name}"
        for combo in _pairs(same_unit):
            if hits(sum(v.value for v in combo)):
                return f"the total of {label(combo)}"
        for combo in _across_facts(same_unit, 3):
            if hits(sum(v.value for v in combo)):
                return f"the total of {label(combo)}"
    if "average" in cues and not percent:
        for name, group in groups:
            if hits(mean(v.value for v in group)):
                return f"the average of {name}"
        for size in (2, 3):
            for combo in _across_facts(same_unit, size):
                if hits(mean(v.value for v in combo)):
                    return f"the average of {label(combo)}"
    if "difference" in cues and not percent:
        for a, b in combinations(same_unit, 2):
            if hits(a.value - b.value):
                return f"the difference between {label((a, b))}"
    if "ratio" in cues or "change" in cues or percent:
        scale = 100.0 if percent else 1.0
        ratio_pool = [v for v in pool if v.value != 0 and v.unit is not MetricUnit.PERCENT][:150]
        # a bare percentage may be the share of two counts the claim itself writes
        # ("7 of those 26 ..., about 27%"); without a cue word, of no others
        written = [abs(n.value) for n in find_numbers(clause) if n.span != number.span]
        for a, b in permutations(ratio_pool, 2):
            shown = any(abs(a.magnitude - w) <= 1e-6 * max(1.0, w) for w in written) and any(
                abs(b.magnitude - w) <= 1e-6 * max(1.0, w) for w in written
            )
            if ("ratio" in cues or (percent and shown)) and hits(a.value / b.value * scale):
                return f"the ratio of {label((a, b))}"
            if "change" in cues and percent and hits((a.value - b.value) / b.value * scale):
                return f"the change from {label((b,))} to {label((a,))}"
    return None
