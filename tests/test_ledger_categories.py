"""Ledger categories through to the chart of accounts: per-category totals, the
uncategorized share and journal templates for recurring entry types, with and without
categories in the books. Hand arithmetic in the comments."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from execbrief.analysis import analyze
from execbrief.bundle import collect_bundle
from execbrief.collectors.ledger import LedgerCollector
from execbrief.config import LedgerSource, Sources, Workspace, WorkspaceConfig
from execbrief.models import Bundle, Fact
from tests.test_ledger import DATA, ENTITIES

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
NO_CATEGORIES = """date,entity,amount,memo
2026-03-02,acme,-1500.00,Dock rent
2026-03-20,acme,900.00,Tours
2026-04-02,acme,-1500.00,Dock rent
2026-04-20,acme,1100.00,Tours
"""


def _bundle(tmp_path: Path, *files: str, csv: str | None = None) -> Bundle:
    books = tmp_path / "books"
    books.mkdir()
    for name in files:
        shutil.copy(DATA / name, books / name)
    if csv is not None:
        (books / "bank.csv").write_text(csv)
    config = WorkspaceConfig(
        portfolio="Test Holdings",
        entities=ENTITIES,
        sources=Sources(ledger=LedgerSource(path=Path("books"))),
    )
    workspace = Workspace(root=tmp_path, config=config)
    return analyze(collect_bundle(workspace, [LedgerCollector()], NOW))


def _one(bundle: Bundle, kind: str, entity: str | None = None) -> Fact:
    [fact] = [f for f in bundle.facts if f.kind == kind and f.entity == entity]
    return fact


def _templates(bundle: Bundle) -> dict[str, Fact]:
    return {
        f.title.removeprefix("Journal-entry template: "): f
        for f in bundle.facts
        if f.kind == "analysis.journal_template"
    }


def test_the_ledger_carries_each_category_with_its_type_and_months(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "books.csv", "chart_of_accounts.yaml")

    # Acme over the complete months January to April: tours 1,000 + 1,900 + 500 + 1,500;
    # fuel 200 + 380 + 100 + 300 (cost of sales); rent 4 x 1,500; software 4 x 100; the
    # owner's 5,000 in January is equity.
    acme = _one(bundle, "finance.category_totals", "acme")
    assert acme.metrics == {
        "revenue_tour_sales_usd": 4900.0,
        "revenue_tour_sales_months_seen": 4.0,
        "cost_of_sales_tour_fuel_usd": 980.0,
        "cost_of_sales_tour_fuel_months_seen": 4.0,
        "expense_rent_usd": 6000.0,
        "expense_rent_months_seen": 4.0,
        "expense_software_usd": 400.0,
        "expense_software_months_seen": 4.0,
        "equity_owner_contribution_usd": 5000.0,
        "equity_owner_contribution_months_seen": 1.0,
        "complete_months": 4.0,
    }
    assert "- cost of sales: tour_fuel (5000 Direct costs): 980.00 USD" in acme.detail
    # Beta: its repairs and its account 9999 are in no chart account, so they count as
    # expenses by their sign; the row without a category is uncategorized (gross).
    beta = _one(bundle, "finance.category_totals", "beta")
    assert beta.metrics["expense_repairs_usd"] == 75.0
    assert beta.metrics["expense_software_usd"] == 100.0
    assert beta.metrics["uncategorized_usd"] == 50.0


def test_the_chart_of_accounts_totals_each_category_and_the_uncategorized_share(
    tmp_path: Path,
) -> None:
    bundle = _bundle(tmp_path, "books.csv", "chart_of_accounts.yaml")

    chart = _one(bundle, "analysis.chart_of_accounts")
    for row in (
        "| tour_sales | revenue | Acme Charters | 4,900.00 |",
        "| lodging | revenue | Beta Rooms | 1,600.00 |",
        "| tour_fuel | cost of sales | Acme Charters | 980.00 |",
        "| rent | expense | Acme Charters | 6,000.00 |",
        "| software | expense | Acme Charters | 400.00 |",
        "| software | expense | Beta Rooms | 100.00 |",
        "| owner_contribution | equity | Acme Charters | 5,000.00 |",
        "| (no category) | uncategorized | Beta Rooms | 50.00 |",
    ):
        assert row in chart.detail
    # revenue 4,900 + 1,600 = 6,500; costs 980 + 6,000 + 400 + 75 + 100 = 7,555;
    # share = 50 / (6,500 + 7,555 + 50) x 100 = 0.35; Beta alone 50 / 1,825 = 2.74%
    assert chart.metrics["revenue_usd"] == 6500.0
    assert chart.metrics["costs_usd"] == 7555.0
    assert chart.metrics["uncategorized_share_pct"] == 0.35
    assert (chart.metrics["categories"], chart.metrics["cost_categories"]) == (7, 4)
    assert "Beta Rooms 2.74% uncategorized" in chart.detail
    assert _one(bundle, "finance.category_totals", "acme").id in chart.inputs


def test_journal_templates_follow_the_recurring_entry_types(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, "books.csv", "chart_of_accounts.yaml")

    templates = _templates(bundle)

    # Seen in two or more complete months: tours, lodging, fuel, rent, Acme's software.
    # The owner's one contribution and Beta's one-off costs are not recurring.
    assert set(templates) == {
        "Tour sales received",
        "Lodging received",
        "Recurring cost of sales",
        "Recurring expense",
        "Reclassify an uncategorized entry",
    }
    assert "Cr tour sales revenue" in templates["Tour sales received"].detail
    expense = templates["Recurring expense"].detail
    assert "(rent, software)" in expense and "Acme Charters: rent 4/4, software 4/4" in expense
    assert "repairs" not in expense


def test_a_ledger_without_categories_is_all_uncategorized_and_says_so(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, csv=NO_CATEGORIES)

    totals = _one(bundle, "finance.category_totals", "acme")
    # 1,500 + 900 + 1,500 + 1,100 = 5,000 gross, in March and April (the books' span)
    assert totals.metrics == {
        "uncategorized_usd": 5000.0,
        "uncategorized_months_seen": 2.0,
        "complete_months": 2.0,
    }
    chart = _one(bundle, "analysis.chart_of_accounts")
    assert chart.title == (
        "Chart of accounts implied by the ledger: no categories, every entry is "
        "uncategorized; uncategorized 100.00% of ledger volume"
    )
    assert chart.metrics["categories"] == 0
    assert chart.metrics["uncategorized_share_pct"] == 100.0
    assert set(_templates(bundle)) == {"Reclassify an uncategorized entry"}
