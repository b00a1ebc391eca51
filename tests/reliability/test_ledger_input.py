"""Ledger input (issue 13.6): a bad row is a gap naming file and line while the other rows
stand; amounts in other currencies count only with a rate the config states."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.collectors.ledger import LedgerCollector
from execbrief.config import CollectContext, LedgerSource, Sources, WorkspaceConfig
from execbrief.models import CollectResult, Entity

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
HEADER = "date,entity,category,amount,currency,memo\n"


def _collect(tmp_path: Path, rows: str, **ledger: object) -> CollectResult:
    books = tmp_path / "books"
    books.mkdir(exist_ok=True)
    (books / "ledger.csv").write_text(HEADER + rows)
    config = WorkspaceConfig(
        portfolio="p",
        entities=[Entity(id="jada", name="JADA")],
        sources=Sources(ledger=LedgerSource(path=Path("books"), **ledger)),
    )
    return LedgerCollector().collect(CollectContext(root=tmp_path, config=config, now=NOW))


def _revenue(result: CollectResult) -> float:
    totals = [
        value
        for fact in result.facts
        if fact.entity == "jada"
        for name, value in fact.metrics.items()
        if name.startswith("revenue") and name.endswith("_usd") and "month" not in name
    ]
    assert totals, [f.kind for f in result.facts]
    return max(totals)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("1e400", "amount '1e400' is out of range"),
        ("-1E+999999", "is out of range"),
        ("NaN", "unparseable amount 'NaN'"),
        ("12,3,4.5.6", "unparseable amount"),
        ("sk_live_x", "unparseable amount"),
    ],
)
def test_a_bad_amount_is_a_gap_at_its_line_and_the_other_rows_stand(
    tmp_path: Path, cell: str, reason: str
) -> None:
    rows = (
        "2026-10-01,JADA,sales,100.00,,ok\n"
        f'2026-10-02,JADA,sales,"{cell}",,bad\n'
        "2026-10-03,JADA,sales,50.00,,ok\n"
    )
    result = _collect(tmp_path, rows)

    [gap] = [g for g in result.gaps if g.source.startswith("books/ledger.csv:")]
    assert gap.source == "books/ledger.csv:3"
    assert reason in gap.reason
    assert _revenue(result) == 150.0


def test_an_unparseable_date_is_a_gap_at_its_line(tmp_path: Path) -> None:
    rows = "2026-10-01,JADA,sales,100.00,,ok\n2026-13-45,JADA,sales,5,,bad\n"
    result = _collect(tmp_path, rows)

    [gap] = [g for g in result.gaps if g.source == "books/ledger.csv:3"]
    assert gap.reason == "unparseable date '2026-13-45'"
    assert _revenue(result) == 100.0


ROWS = (
    "2026-10-01,JADA,sales,100.00,USD,a\n"
    "2026-10-02,JADA,sales,200.00,EUR,b\n"
    "2026-10-03,JADA,sales,300.00,eur,c\n"
    "2026-10-04,JADA,sales,10000,JPY,d\n"
    "2026-10-05,JADA,sales,5.00,,e\n"
)


def test_other_currencies_are_not_summed_into_usd_without_a_rate(tmp_path: Path) -> None:
    result = _collect(tmp_path, ROWS)

    assert _revenue(result) == 105.0
    reasons = {g.source: g.reason for g in result.gaps}
    assert reasons["books/ledger.csv:3"] == (
        "2 rows in EUR (together 500.00 EUR) left out of every total: no rate for EUR"
    )
    assert reasons["books/ledger.csv:5"] == (
        "1 row in JPY (together 10,000 JPY) left out of every total: no rate for JPY"
    )


def test_a_stated_rate_converts_and_the_rest_is_a_gap(tmp_path: Path) -> None:
    result = _collect(tmp_path, ROWS, rates={"eur": 1.1})

    assert _revenue(result) == pytest.approx(105.0 + 550.0)
    assert [g.reason for g in result.gaps if "JPY" in g.reason]
    assert not [g for g in result.gaps if "EUR" in g.reason]


def test_a_rate_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        LedgerSource(path=Path("b"), rates={"EUR": 0})
