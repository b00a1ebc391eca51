"""Reading the books: transaction CSVs, Stripe balance exports and a chart of accounts.

Every row becomes an `Entry` with a signed amount (money in is positive, money out is
negative); what cannot be read becomes a `Gap` naming the file and line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from execbrief.config import LedgerColumns
from execbrief.models import Entity, Gap
from execbrief.secrets.exposure import Exposures
from execbrief.secrets.mask import redact_text
from execbrief.yamlfile import load_bounded

COLLECTOR = "ledger"
MAX_ROW_GAPS = 20
"""Bad rows reported one by one per file; the rest are counted in one more gap."""
MAX_AMOUNT = Decimal(10) ** 12
BASE_CURRENCY = "USD"
"""What every total is in; other currencies count only with a rate the config states."""

STRIPE_SALES = "stripe_sales"
STRIPE_FEES = "stripe_fees"
"""Categories Stripe's charges and refunds, and its fees, are booked under."""
STRIPE_HEADER = frozenset({"id", "Type", "Amount", "Fee", "Net", "Currency", "Created (UTC)"})
STRIPE_SALE_TYPES = frozenset({"charge", "payment", "refund", "payment_refund"})
STRIPE_FEE_TYPES = frozenset({"stripe_fee", "network_cost", "application_fee", "tax_fee"})
# Money moving between Stripe and the bank (or between balances) is not revenue or cost.
STRIPE_TRANSFER_TYPES = frozenset(
    {"payout", "payout_cancel", "payout_failure", "transfer", "transfer_refund", "topup"}
)
UNCATEGORIZED = frozenset({"", "uncategorized", "uncategorised"})
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")

AccountType = Literal["revenue", "cost_of_sales", "expense", "asset", "liability", "equity"]


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str
    type: AccountType


class ChartOfAccounts(BaseModel):
    """chart_of_accounts.yaml: the accounts and which account each category posts to."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[Account] = Field(min_length=1)
    categories: dict[str, str] = Field(
        default_factory=dict, description="Category -> account code or name."
    )

    @model_validator(mode="after")
    def _categories_name_accounts(self) -> ChartOfAccounts:
        for category, account in self.categories.items():
            if self.find(account) is None:
                raise ValueError(f"category {category!r} maps to unknown account {account!r}")
        return self

    def find(self, code_or_name: str) -> Account | None:
        """The account with this code or name (case-insensitive), if the chart has one."""
        wanted = code_or_name.strip().casefold()
        for account in self.accounts:
            if wanted in (account.code.casefold(), account.name.casefold()):
                return account
        return None

    def account_for(self, entry: Entry) -> Account | None:
        """The entry's own account if it names one, else the account its category maps to."""
        if entry.account:
            return self.find(entry.account)
        mapped = self.categories.get(entry.category)
        return self.find(mapped) if mapped is not None else None


@dataclass(frozen=True, slots=True)
class Entry:
    """One signed amount on one day, read from `path` at `line`."""

    path: str
    line: int
    day: date
    entity: str | None
    account: str
    category: str
    amount: Decimal
    memo: str
    sale: bool = False
    """A sale or its refund: revenue whatever its sign, unless a chart account says else."""

    @property
    def month(self) -> str:
        return f"{self.day.year:04d}-{self.day.month:02d}"

    @property
    def uncategorized(self) -> bool:
        return self.category.casefold() in UNCATEGORIZED


RowParser = Callable[[dict[str, str], str, int], Iterator[Entry]]


@dataclass
class Books:
    """Everything read from the book files: entries, gaps, and which files were read."""

    entries: list[Entry] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class EntityMatcher:
    """Attributes a ledger's entity column, or a Stripe description, to a workspace entity."""

    def __init__(self, entities: Sequence[Entity]) -> None:
        self._names: dict[str, str] = {}
        for entity in entities:
            for name in (entity.id, entity.name, *entity.aliases):
                self._names.setdefault(name.casefold(), entity.id)
        longest_first = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile(
            r"\b(" + "|".join(re.escape(name) for name in longest_first) + r")\b",
            re.IGNORECASE,
        )

    def exact(self, value: str) -> str | None:
        return self._names.get(value.strip().casefold())

    def mentioned_in(self, text: str) -> str | None:
        hit = self._pattern.search(text) if self._names else None
        return self._names[hit.group(1).casefold()] if hit else None


class BadRow(ValueError):
    """A row that cannot be read; becomes a gap with its file and line."""


def parse_amount(text: str) -> Decimal:
    """`-1,450.00`, `$310`, `(310.00)` -> Decimal; anything else is a BadRow."""
    cleaned = text.strip().replace("$", "").replace(",", "").replace("\u2212", "-")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadRow(f"unparseable amount {text!r}") from None
    if not value.is_finite():
        raise BadRow(f"unparseable amount {text!r}")
    if abs(value) >= MAX_AMOUNT:
        # Beyond what any book of a small portfolio holds (`1e400` is a typo or an attack);
        # cent arithmetic on it would fail for the whole ledger.
        raise BadRow(f"amount {text!r} is out of range (at most {MAX_AMOUNT:,} per row)")
    return -value if negative else value


def parse_day(text: str) -> date:
    """An ISO or US date, optionally followed by a time (Stripe's `2026-10-03 18:22`)."""
    day_part = text.strip().replace("T", " ").split(" ", 1)[0]
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(day_part, fmt).date()
        except ValueError:
            continue
    raise BadRow(f"unparseable date {text!r}")


def load_chart(path: Path, label: str) -> tuple[ChartOfAccounts | None, list[Gap]]:
    """The chart of accounts at path, or a gap saying why it cannot be used."""
    hint = "fix the chart; until then accounts are not checked and margins not computed"
    try:
        raw = load_bounded(path.read_text(encoding="utf-8"))
        return ChartOfAccounts.model_validate(raw), []
    except OSError as exc:
        reason = f"cannot read chart of accounts: {exc.strerror or exc}"
    except yaml.YAMLError as exc:
        reason = f"chart of accounts is not valid YAML: {exc}"
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        reason = f"chart of accounts invalid at {where}: {first['msg']}"
    return None, [Gap(collector=COLLECTOR, source=label, reason=reason, hint=hint)]


class BookReader:
    """Reads transaction CSVs and Stripe balance exports into one `Books`."""

    def __init__(
        self,
        *,
        columns: LedgerColumns,
        entities: EntityMatcher,
        latest_day: date,
        stripe_entity: str | None = None,
        exposures: Exposures | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> None:
        self.rates = {code.upper(): Decimal(repr(rate)) for code, rate in (rates or {}).items()}
        """USD per unit of each currency the config gives a rate for."""
        self.unconverted: dict[tuple[str, str], _Unconverted] = {}
        """Rows left out for want of a rate, per file and currency."""
        self.columns = columns
        self.exposures = exposures
        """Where secrets written in memos are reported; they are masked in any case."""
        self.entities = entities
        self.latest_day = latest_day
        self.stripe_entity = stripe_entity
        self.unknown_entities: dict[str, str] = {}
        """Entity names no workspace entity answers to, and where each was first seen."""

    def read(self, path: Path, label: str, books: Books) -> None:
        """Add the entries of one CSV (detected by its header) and its gaps to books."""
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows = csv.DictReader(handle)
                header = [name.strip() for name in rows.fieldnames or []]
                rows.fieldnames = header
                if set(header) >= STRIPE_HEADER:
                    parse = self._stripe_row
                elif set(header) >= {self.columns.date, self.columns.amount}:
                    parse = self._ledger_row
                else:
                    books.gaps.append(self._unknown_format(label, header))
                    return
                self._read_rows(rows, parse, label, books)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            reason = f"cannot read {label}: {exc}"
            books.gaps.append(Gap(collector=COLLECTOR, source=label, reason=reason))
            return
        books.files.append(label)

    def unknown_entity_gaps(self) -> list[Gap]:
        """One gap per entity name that matched no workspace entity."""
        return [
            Gap(
                collector=COLLECTOR,
                source=where,
                reason=f"entity {name!r} is not in the workspace; its rows count only "
                "toward the portfolio",
                hint="add it as an alias of a workspace entity",
            )
            for name, where in sorted(self.unknown_entities.items())
        ]

    def _read_rows(
        self,
        rows: csv.DictReader[str],
        parse: RowParser,
        label: str,
        books: Books,
    ) -> None:
        bad = 0
        for row in rows:
            cells = {key: (value or "").strip() for key, value in row.items() if key}
            if not any(cells.values()):
                continue
            try:
                entries = list(parse(cells, label, rows.line_num))
            except BadRow as exc:
                bad += 1
                if bad <= MAX_ROW_GAPS:
                    books.gaps.append(row_gap(f"{label}:{rows.line_num}", str(exc)))
                continue
            books.entries.extend(entries)
        if bad > MAX_ROW_GAPS:
            reason = f"{bad - MAX_ROW_GAPS} more unreadable rows not listed"
            books.gaps.append(row_gap(label, reason))

    def _unknown_format(self, label: str, header: list[str]) -> Gap:
        wanted = f"{self.columns.date!r} and {self.columns.amount!r}"
        return Gap(
            collector=COLLECTOR,
            source=label,
            reason=f"header {header} is neither a transactions CSV nor a Stripe balance export",
            hint=f"a transactions CSV needs columns {wanted}; a Stripe export needs "
            + ", ".join(sorted(STRIPE_HEADER)),
        )

    def _checked_day(self, text: str) -> date:
        day = parse_day(text)
        if day > self.latest_day:
            raise BadRow(f"date {day.isoformat()} is after the collection date")
        return day

    def foreign_currency_gaps(self) -> list[Gap]:
        """One gap per file and currency whose rows no stated rate converts."""
        return [
            Gap(
                collector=COLLECTOR,
                source=f"{label}:{rows.first_line}",
                reason=f"{plural_rows(rows.count)} in {code} (together {rows.total:,} {code}) "
                f"left out of every total: no rate for {code}",
                hint=f"state `rates: {{{code}: <USD per {code}>}}` under sources.ledger in "
                "execbrief.yaml to convert them",
            )
            for (label, code), rows in sorted(self.unconverted.items())
        ]

    def _in_usd(self, amount: Decimal, currency: str, label: str, line: int) -> Decimal | None:
        """The amount in USD, or None (and counted for a gap) when no rate converts it."""
        code = currency.strip().upper() or BASE_CURRENCY
        if code == BASE_CURRENCY:
            return amount
        rate = self.rates.get(code)
        if rate is not None:
            return (amount * rate).quantize(Decimal("0.01"))
        rows = self.unconverted.setdefault((label, code), _Unconverted(first_line=line))
        rows.count += 1
        rows.total += amount
        return None

    def _ledger_row(self, cells: dict[str, str], label: str, line: int) -> Iterator[Entry]:
        col = self.columns
        day = self._checked_day(cells.get(col.date, ""))
        converted = self._in_usd(
            parse_amount(cells.get(col.amount, "")), cells.get(col.currency, ""), label, line
        )
        if converted is None:
            return
        amount = converted
        named = cells.get(col.entity, "")
        entity = self.entities.exact(named) if named else None
        if named and entity is None:
            self.unknown_entities.setdefault(named, f"{label}:{line}")
        yield Entry(
            path=label,
            line=line,
            day=day,
            entity=entity,
            account=cells.get(col.account, ""),
            category=cells.get(col.category, ""),
            amount=amount,
            memo=self._memo(cells.get(col.memo, ""), label, line),
        )

    def _memo(self, text: str, label: str, line: int) -> str:
        """The memo with any secret written in it masked (and reported as a fact)."""
        if self.exposures is None:
            return redact_text(text)
        return self.exposures.scan(text, label, first_line=line)

    def _stripe_row(self, cells: dict[str, str], label: str, line: int) -> Iterator[Entry]:
        kind = cells["Type"].casefold()
        if kind in STRIPE_TRANSFER_TYPES:
            return
        day = self._checked_day(cells["Created (UTC)"])
        currency = cells["Currency"]
        amount = self._in_usd(parse_amount(cells["Amount"]), currency, label, line)
        if amount is None:
            return
        fee = self._in_usd(parse_amount(cells["Fee"] or "0"), currency, label, line)
        fee = fee or Decimal(0)
        description = self._memo(cells.get("Description", ""), label, line)
        entity = self.stripe_entity or self.entities.mentioned_in(description)
        memo = f"stripe {kind} {cells['id']}: {description}".rstrip(": ")

        def entry(category: str, value: Decimal, sale: bool = False) -> Entry:
            return Entry(label, line, day, entity, "", category, value, memo, sale)

        if kind in STRIPE_SALE_TYPES:
            yield entry(STRIPE_SALES, amount, sale=True)
            if fee:
                yield entry(STRIPE_FEES, -fee)
        elif kind in STRIPE_FEE_TYPES:
            yield entry(STRIPE_FEES, amount - fee)
        else:
            # Adjustments and disputes have no obvious stream: left uncategorized so the
            # accounting brief sees them.
            yield entry("", amount - fee)


@dataclass
class _Unconverted:
    first_line: int
    count: int = 0
    total: Decimal = Decimal(0)


def plural_rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def row_gap(source: str, reason: str) -> Gap:
    return Gap(
        collector=COLLECTOR,
        source=source,
        reason=reason,
        hint="fix or remove the row; it is left out of every total",
    )
