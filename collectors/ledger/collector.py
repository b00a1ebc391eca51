"""The ledger collector: finance and accounting facts from the portfolio's books.

It reads `sources.ledger` (transaction CSVs, Stripe balance exports, an optional chart of
accounts), computes monthly revenue and expenses, burn, runway, revenue by stream, gross
margin and break-even per entity and for the portfolio, and reports what the accounting
brief must chase: uncategorized entries, months with no entries, unknown accounts.
docs/LEDGER.md describes the formats and every formula.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from execbrief.boundary import base_of, escaping_link, glob_inside
from execbrief.config import CollectContext
from execbrief.models import CollectResult, Fact, Gap, Severity, Source
from execbrief.secrets.exposure import Exposures

from .books import (
    COLLECTOR,
    BookReader,
    Books,
    ChartOfAccounts,
    EntityMatcher,
    Entry,
    load_chart,
)
from .metrics import FinanceFacts, build_scopes, month_span, parse_unit_economics

CHART_FILE = "chart_of_accounts.yaml"
GLOB_CHARACTERS = frozenset("*?[")
LISTED_ROWS = 25
"""Rows an accounting fact lists by line; the rest are counted."""


class LedgerCollector:
    """Finance metrics and bookkeeping gaps from `sources.ledger`."""

    name = COLLECTOR

    def collect(self, ctx: CollectContext) -> CollectResult:
        """Read the books named in the workspace; nothing when it names none."""
        source = ctx.config.sources.ledger
        if source is None:
            return CollectResult()
        root = ctx.root
        files, books_dir, gaps = self._book_files(root, source.path, source.stripe)
        chart, chart_gaps = self._chart(root, books_dir, source.chart, source.path)
        exposures = Exposures(COLLECTOR, "secret.in_ledger", "ledger", ctx.now)
        reader = BookReader(
            columns=source.columns,
            entities=EntityMatcher(ctx.config.entities),
            latest_day=ctx.now.date(),
            stripe_entity=source.stripe_entity,
            exposures=exposures,
            rates=source.rates,
        )
        books = Books()
        for path in files:
            reader.read(path, relative(root, path), books)
        units, unit_gaps = parse_unit_economics(
            source.unit_economics, "sources.ledger.unit_economics"
        )
        gaps += chart_gaps + books.gaps + reader.unknown_entity_gaps() + unit_gaps
        gaps += reader.foreign_currency_gaps()
        if not books.entries:
            if books.files:
                reason = f"no transactions in {', '.join(books.files)}"
                gaps.append(Gap(collector=COLLECTOR, source=books.files[0], reason=reason))
            return CollectResult(facts=exposures.facts, gaps=gaps)

        entries = books.entries
        months = month_span(min(e.month for e in entries), max(e.month for e in entries))
        current = f"{ctx.now.year:04d}-{ctx.now.month:02d}"
        # The month the collection runs in is still open, so no average counts it.
        complete = [m for m in months if m < current]
        label = relative(root, root / source.path)
        finance = FinanceFacts(
            books=label,
            observed_at=ctx.now,
            complete=complete,
            has_chart=chart is not None,
            units=units,
            # The model's default of 0 would read as an empty bank account: only a balance
            # the workspace states gives a runway.
            cash_balance=(
                Decimal(repr(source.cash_balance))
                if "cash_balance" in source.model_fields_set
                else None
            ),
        )
        scopes = build_scopes(entries, chart, ctx.config.entities, ctx.config.portfolio, complete)
        checks = AccountingChecks(
            observed_at=ctx.now, names={e.id: e.name for e in ctx.config.entities}
        )
        facts = finance.facts(scopes) + checks.uncategorized(entries)
        if chart is not None:
            facts += checks.unknown_accounts(entries, chart)
        facts += checks.missing_months(entries, label)
        return CollectResult(facts=facts + exposures.facts, gaps=gaps)

    def _book_files(
        self, root: Path, configured: Path, stripe: list[Path]
    ) -> tuple[list[Path], Path, list[Gap]]:
        """The CSVs `path` names (a file, a folder of *.csv, or a glob) plus `stripe`."""
        gaps: list[Gap] = []

        def gap(source: str, reason: str) -> None:
            hint = "check sources.ledger.path in execbrief.yaml"
            gaps.append(Gap(collector=COLLECTOR, source=source, reason=reason, hint=hint))

        target = root / configured
        if GLOB_CHARACTERS & set(configured.as_posix()):
            matches = glob_inside(root, configured.as_posix(), "file")
            files = matches.inside
            books_dir = files[0].parent if files else root
            if not matches:
                gap(configured.as_posix(), f"no file matches {configured.as_posix()}")
            for path, why in matches.outside:
                gap(relative(root, path), f"not read: {why}")
        elif target.is_dir():
            files, books_dir = sorted(target.glob("*.csv")), target
            if not files:
                gap(relative(root, target), "the books folder holds no *.csv file")
        else:
            files, books_dir = [target], target.parent
        # A Stripe export named twice (in the books folder and in `stripe`) counts once.
        seen = {p.resolve() for p in files}
        extras, stripe_named = [], []
        for extra in stripe:
            if (root / extra).resolve() not in seen:
                extras.append(root / extra)
                stripe_named.append(extra)
        files += extras
        named = {path: configured for path in files} | dict(zip(extras, stripe_named, strict=True))
        kept = []
        for path in files:
            base = base_of(root, named[path].as_posix())
            if (outside := escaping_link(path, base)) is not None:
                gap(relative(root, path), f"not read: {outside}")
            elif not path.is_file():
                gap(relative(root, path), "file not found")
            else:
                kept.append(path)
        return kept, books_dir, gaps

    def _chart(
        self, root: Path, books_dir: Path, configured: Path | None, books: Path
    ) -> tuple[ChartOfAccounts | None, list[Gap]]:
        """The chart `configured` names, else the one beside the books."""
        if configured is not None:
            path = root / configured
        elif (books_dir / CHART_FILE).is_file():
            path = books_dir / CHART_FILE
        else:
            return None, []
        named = (configured or books).as_posix()
        if (outside := escaping_link(path, base_of(root, named))) is not None:
            reason = f"chart of accounts not read: {outside}"
            return None, [Gap(collector=COLLECTOR, source=relative(root, path), reason=reason)]
        return load_chart(path, relative(root, path))


def relative(root: Path, path: Path) -> str:
    """path as written relative to the workspace, in POSIX form, for sources and gaps."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass
class AccountingChecks:
    """Facts about the bookkeeping itself, for the accounting brief."""

    observed_at: datetime
    names: dict[str, str]
    """Entity id -> display name."""

    def _fact(self, kind: str, source: Source, entity: str | None, **fields: object) -> Fact:
        return Fact.create(
            collector=COLLECTOR,
            kind=kind,
            source=source,
            entity=entity,
            severity=Severity.LOW,
            observed_at=self.observed_at,
            tags=["accounting"],
            **fields,
        )

    def uncategorized(self, entries: Sequence[Entry]) -> list[Fact]:
        """One fact per file and entity listing the entries that carry no category."""
        groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in entries:
            if entry.uncategorized:
                groups[(entry.path, entry.entity or "")].append(entry)
        facts = []
        for (path, entity), rows in sorted(groups.items()):
            who = self.names.get(entity, "Unattributed entries")
            facts.append(
                self._fact(
                    "finance.uncategorized",
                    Source(path=path, section=entity or "unattributed"),
                    entity or None,
                    title=f"{who}: {plural(len(rows), 'uncategorized entry')} in {path}",
                    detail="These entries have no category, so they land in no revenue stream "
                    "and no chart account (counted as revenue or expense by their sign):\n"
                    + listed(rows),
                    metrics=row_metrics(rows),
                )
            )
        return facts

    def unknown_accounts(self, entries: Sequence[Entry], chart: ChartOfAccounts) -> list[Fact]:
        """One fact per file and unknown account (or unmapped category)."""
        groups: dict[tuple[str, str], list[Entry]] = defaultdict(list)
        for entry in entries:
            if not entry.uncategorized and chart.account_for(entry) is None:
                key = f"account {entry.account}" if entry.account else f"category {entry.category}"
                groups[(entry.path, key)].append(entry)
        facts = []
        for (path, key), rows in sorted(groups.items()):
            what = (
                f"name account {rows[0].account!r}, which the chart of accounts does not list"
                if rows[0].account
                else f"have category {rows[0].category!r}, which the chart maps to no account"
            )
            entities = {row.entity for row in rows}
            entity = entities.pop() if len(entities) == 1 else None
            facts.append(
                self._fact(
                    "finance.unknown_account",
                    Source(path=path, section=key),
                    entity,
                    title=f"{path}: {plural(len(rows), 'entry')} in no known account ({key})",
                    detail=f"These entries {what}; they are counted as revenue or expense by "
                    "their sign:\n" + listed(rows),
                    metrics=row_metrics(rows),
                )
            )
        return facts

    def missing_months(self, entries: Sequence[Entry], books: str) -> list[Fact]:
        """A fact for each month with no entries between an entity's first and last month."""
        seen: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            if entry.entity is not None:
                seen[entry.entity].add(entry.month)
        facts = []
        for entity, months in sorted(seen.items()):
            first, last = min(months), max(months)
            for month in month_span(first, last):
                if month in months:
                    continue
                name = self.names[entity]
                facts.append(
                    self._fact(
                        "finance.missing_month",
                        Source(path=books, section=f"{entity} {month}"),
                        entity,
                        title=f"{name}: no entries in {month}",
                        detail=f"{name} has entries from {first} to {last} but none in {month}: "
                        "either nothing was spent or earned, or the month was not booked.",
                    )
                )
        return facts


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun.removesuffix('y')}ies"


def listed(rows: Sequence[Entry]) -> str:
    lines = [
        f"- line {row.line}, {row.day.isoformat()}, {row.amount:,} USD: {row.memo or '(no memo)'}"
        for row in rows[:LISTED_ROWS]
    ]
    if len(rows) > LISTED_ROWS:
        lines.append(f"- ... and {len(rows) - LISTED_ROWS} more")
    return "\n".join(lines)


def row_metrics(rows: Sequence[Entry]) -> dict[str, float]:
    """Count, net amount, and gross amount (the sum of absolute values, for materiality)."""
    return {
        "entries": float(len(rows)),
        "net_usd": float(sum((row.amount for row in rows), Decimal(0))),
        "gross_usd": float(sum((abs(row.amount) for row in rows), Decimal(0))),
    }
