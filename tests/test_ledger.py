"""The ledger collector: finance metrics checked against hand arithmetic, and bookkeeping gaps."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from execbrief.collectors.ledger.collector import LedgerCollector
from execbrief.config import CollectContext, LedgerColumns, LedgerSource, Sources, WorkspaceConfig
from execbrief.models import CollectResult, Entity, Fact, Gap, Source

DATA = Path(__file__).parent / "data" / "ledger"
REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "portfolio"
NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
ENTITIES = [
    Entity(id="acme", name="Acme Charters", aliases=["acme sailing"]),
    Entity(id="beta", name="Beta Rooms"),
]
TOURS = {"tour_price": 250, "tour_variable_cost": 50}


def workspace(tmp_path: Path, *files: str, **ledger: Any) -> CollectContext:
    """A workspace whose books/ folder holds copies of the named fixture files."""
    books = tmp_path / "books"
    books.mkdir()
    for name in files:
        shutil.copy(DATA / name, books / name)
    ledger.setdefault("path", "books")
    config = WorkspaceConfig(
        portfolio="Test Holdings",
        entities=ENTITIES,
        sources=Sources(ledger=LedgerSource(**ledger)),
    )
    return CollectContext(root=tmp_path, config=config, now=NOW)


def the_fact(result: CollectResult, kind: str, section: str) -> Fact:
    [fact] = [f for f in result.facts if f.kind == kind and f.source.section == section]
    return fact


def kinds(result: CollectResult, kind: str) -> list[Fact]:
    return [f for f in result.facts if f.kind == kind]


def test_fixture_books_give_hand_computed_burn_runway_and_break_even(tmp_path: Path) -> None:
    ctx = workspace(
        tmp_path, "books.csv", "chart_of_accounts.yaml", cash_balance=2800, unit_economics=TOURS
    )
    result = LedgerCollector().collect(ctx)

    # Acme, the last three complete months before 2026-05 (the owner's 5,000 in January is
    # equity in the chart, so it is not revenue):
    #   2026-02: expenses 1,500 rent + 100 software + 380 fuel = 1,980; revenue 1,900; net 80
    #   2026-03: expenses 1,500 + 100 + 100 = 1,700;                    revenue   500; net 1,200
    #   2026-04: expenses 1,500 + 100 + 300 = 1,900;                    revenue 1,500; net 400
    #   burn = (80 + 1,200 + 400) / 3 = 560.00; gross burn = (1,980 + 1,700 + 1,900) / 3 = 1,860
    assert the_fact(result, "finance.burn_monthly", "acme").metrics == {
        "net_outflow_usd_2026_02": 80.0,
        "net_outflow_usd_2026_03": 1200.0,
        "net_outflow_usd_2026_04": 400.0,
        "burn_monthly_usd": 560.0,
        "gross_burn_monthly_usd": 1860.0,
        "months": 3.0,
    }
    # runway = cash 2,800 / burn 560 = 5.00 months
    runway = the_fact(result, "finance.runway", "acme")
    assert runway.metrics == {
        "cash_balance_usd": 2800.0,
        "burn_monthly_usd": 560.0,
        "runway_months": 5.0,
    }
    assert "2,800.00 / 560.00 = 5.00" in runway.detail
    # fixed costs = rent 1,500 + software 100 = 1,600 each month (fuel is cost of sales);
    # contribution = 250 - 50 = 200; break-even = 1,600 / 200 = 8 tours a month
    assert the_fact(result, "finance.break_even", "acme tour").metrics == {
        "fixed_costs_monthly_usd": 1600.0,
        "unit_price_usd": 250.0,
        "unit_variable_cost_usd": 50.0,
        "contribution_margin_usd": 200.0,
        "break_even_units": 8.0,
    }
    # January to April: revenue 1,000 + 1,900 + 500 + 1,500 = 4,900; fuel 200 + 380 + 100 + 300
    # = 980; gross margin = (4,900 - 980) / 4,900 = 80.0%
    assert the_fact(result, "finance.gross_margin", "acme").metrics == {
        "gross_margin_pct": 80.0,
        "revenue_usd": 4900.0,
        "cost_of_sales_usd": 980.0,
        "gross_profit_usd": 3920.0,
    }


def test_portfolio_figures_add_up_every_entity(tmp_path: Path) -> None:
    ctx = workspace(
        tmp_path, "books.csv", "chart_of_accounts.yaml", cash_balance=2800, unit_economics=TOURS
    )
    result = LedgerCollector().collect(ctx)

    # Beta's net outflow: 2026-02 nothing; 2026-03 75 repairs - 800 rooms = -725;
    # 2026-04 100 software + 50 uncategorized = 150. Portfolio = Acme + Beta:
    #   80 + 0 = 80; 1,200 - 725 = 475; 400 + 150 = 550 -> burn = 1,105 / 3 = 368.33
    burn = the_fact(result, "finance.burn_monthly", "portfolio")
    assert burn.metrics["burn_monthly_usd"] == 368.33
    assert burn.entity is None
    # runway = 2,800 / 368.333... = 7.60 months
    assert the_fact(result, "finance.runway", "portfolio").metrics["runway_months"] == 7.6
    # Beta takes in more than it spends, so it gets no runway; no tour costs, no break-even.
    assert [f.source.section for f in kinds(result, "finance.runway")] == ["portfolio", "acme"]
    assert [f.source.section for f in kinds(result, "finance.break_even")] == [
        "portfolio",
        "acme tour",
    ]


def test_the_portfolio_gets_no_break_even_that_mixes_its_entities_units(tmp_path: Path) -> None:
    # Two units of sale: Acme's tours (its fuel is tour cost) and rooms, which no entity's
    # costs name, so no entity's break-even is in rooms.
    units = TOURS | {"room_price": 120, "room_variable_cost": 20}
    ctx = workspace(tmp_path, "books.csv", "chart_of_accounts.yaml", unit_economics=units)
    result = LedgerCollector().collect(ctx)

    portfolio = the_fact(result, "finance.break_even", "portfolio")
    assert portfolio.entity is None
    assert portfolio.metrics == {}
    assert "not_computed" in portfolio.tags
    assert portfolio.title == (
        "Test Holdings: no portfolio break-even, its entities sell different units"
    )
    assert "from that entity's own unit economics: Acme Charters (tour)." in portfolio.detail
    # Each entity's break-even is its own: Acme's 1,600 of fixed costs / (250 - 50) tours.
    assert the_fact(result, "finance.break_even", "acme tour").metrics["break_even_units"] == 8.0
    assert [f.source.section for f in kinds(result, "finance.break_even")] == [
        "portfolio",
        "acme tour",
    ]


def test_monthly_facts_list_every_month_and_cite_the_books(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "books.csv", "chart_of_accounts.yaml"))

    revenue = the_fact(result, "finance.revenue_monthly", "acme")
    assert revenue.source == Source(path="books", section="acme")
    assert revenue.entity == "acme"
    assert revenue.metrics == {
        "revenue_usd_2026_01": 1000.0,
        "revenue_usd_2026_02": 1900.0,
        "revenue_usd_2026_03": 500.0,
        "revenue_usd_2026_04": 1500.0,
        "revenue_total_usd": 4900.0,
        "revenue_avg_monthly_usd": 1225.0,
    }
    expenses = the_fact(result, "finance.expenses_monthly", "acme")
    assert expenses.metrics["expenses_usd_2026_02"] == 1980.0
    assert expenses.metrics["cost_of_sales_usd_2026_02"] == 380.0
    assert expenses.tags == ["finance", "expenses"]


def test_stripe_balance_export_maps_charges_to_revenue_and_fees_to_expenses(
    tmp_path: Path,
) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "stripe-balance.csv"))

    # Charges 250 + 300 less the 250 refund = 300 of sales, all Acme's (its alias is in the
    # descriptions); the payout moves money to the bank and counts nowhere.
    assert the_fact(result, "finance.revenue_by_stream", "acme").metrics == {
        "stripe_sales_usd": 300.0,
        "stripe_sales_share_pct": 100.0,
        "revenue_total_usd": 300.0,
    }
    # Fees on Acme's charges: 7.55 + 9.00 = 16.55. The portfolio adds the unattributed Radar
    # fee (2.00) and dispute fee (15.00): 33.55.
    acme = the_fact(result, "finance.expenses_monthly", "acme")
    assert acme.metrics["expenses_usd_2026_03"] == 16.55
    portfolio = the_fact(result, "finance.expenses_monthly", "portfolio")
    assert portfolio.metrics["expenses_usd_2026_03"] == 33.55
    # The dispute has no stream: it is reported for the accounting brief.
    dispute = the_fact(result, "finance.uncategorized", "unattributed")
    assert dispute.source.path == "books/stripe-balance.csv"
    assert "line 3" in dispute.detail
    assert result.gaps == [
        Gap(
            collector="ledger",
            source="books/stripe-balance.csv:5",
            reason="1 row in EUR (together 90.00 EUR) left out of every total: no rate for EUR",
            hint="state `rates: {EUR: <USD per EUR>}` under sources.ledger in execbrief.yaml "
            "to convert them",
        )
    ]


def test_stripe_paths_add_exports_kept_outside_the_books(tmp_path: Path) -> None:
    ctx = workspace(
        tmp_path,
        "books.csv",
        "chart_of_accounts.yaml",
        path="books/books.csv",
        stripe=["exports/stripe.csv"],
        stripe_entity="beta",
    )
    (tmp_path / "exports").mkdir()
    shutil.copy(DATA / "stripe-balance.csv", tmp_path / "exports" / "stripe.csv")

    result = LedgerCollector().collect(ctx)

    # Beta's March: 800 rooms + 300 Stripe sales (posted to Sales through the chart).
    revenue = the_fact(result, "finance.revenue_monthly", "beta")
    assert revenue.metrics["revenue_usd_2026_03"] == 1100.0
    streams = the_fact(result, "finance.revenue_by_stream", "beta")
    assert streams.metrics["stripe_sales_usd"] == 300.0


def test_a_glob_names_the_books_and_a_file_named_twice_counts_once(tmp_path: Path) -> None:
    ctx = workspace(
        tmp_path,
        "books.csv",
        "stripe-balance.csv",
        path="books/*.csv",
        stripe=["books/stripe-balance.csv"],
    )

    result = LedgerCollector().collect(ctx)

    # 300 of Stripe sales in March, once, beside Acme's 500 of tours.
    revenue = the_fact(result, "finance.revenue_monthly", "acme")
    assert revenue.metrics["revenue_usd_2026_03"] == 800.0
    assert revenue.source == Source(path="books/*.csv", section="acme")


def test_uncategorized_rows_become_facts_with_their_lines(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "books.csv", "chart_of_accounts.yaml"))

    [fact] = kinds(result, "finance.uncategorized")
    assert fact.source == Source(path="books/books.csv", section="beta")
    assert fact.entity == "beta"
    assert fact.metrics == {"entries": 1.0, "net_usd": -50.0, "gross_usd": 50.0}
    assert "- line 23, 2026-04-12, -50.00 USD: Card purchase without receipt" in fact.detail
    assert fact.tags == ["accounting"]


def test_month_without_entries_becomes_a_fact(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "books.csv"))

    [fact] = kinds(result, "finance.missing_month")
    assert fact.entity == "beta"
    assert fact.source == Source(path="books", section="beta 2026-02")
    assert fact.title == "Beta Rooms: no entries in 2026-02"


def test_entries_in_no_known_account_become_facts(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "books.csv", "chart_of_accounts.yaml"))

    unknown = kinds(result, "finance.unknown_account")
    assert [f.source.section for f in unknown] == ["account 9999", "category repairs"]
    assert all(f.entity == "beta" for f in unknown)
    assert "line 22" in unknown[0].detail


def test_without_a_chart_accounts_and_margins_are_not_judged(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "books.csv", unit_economics=TOURS))

    assert kinds(result, "finance.unknown_account") == []
    assert kinds(result, "finance.gross_margin") == []
    # Without a chart, fuel (the tours' cost of sales) cannot be told from rent: dividing all
    # of Acme's expenses (1,860 a month) by the 200 margin would give 9.3 tours, counting a
    # variable cost as fixed. The fact says what is missing instead of a figure.
    tours = the_fact(result, "finance.break_even", "acme tour")
    assert "break_even_units" not in tours.metrics
    assert "fixed_costs_monthly_usd" not in tours.metrics
    assert tours.metrics["contribution_margin_usd"] == 200.0
    assert "not_computed" in tours.tags
    assert (
        tours.title
        == "Acme Charters: break-even in tours not computed, fixed vs variable costs unknown"
    )
    assert "Without a chart of accounts" in tours.detail


def test_bad_rows_become_gaps_with_file_and_line(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, "bad_rows.csv"))

    assert [(g.source, g.reason) for g in result.gaps] == [
        ("books/bad_rows.csv:3", "unparseable date '2026-13-40'"),
        ("books/bad_rows.csv:4", "unparseable amount '12.3x'"),
    ]
    revenue = the_fact(result, "finance.revenue_monthly", "acme")
    assert revenue.metrics["revenue_usd_2026_03"] == 400.0


def test_rows_from_the_future_or_an_unknown_entity_become_gaps(tmp_path: Path) -> None:
    ctx = workspace(tmp_path)
    (tmp_path / "books" / "odd.csv").write_text(
        "date,entity,account,category,amount,memo\n"
        "2026-04-01,acme,,tour_sales,100,fine\n"
        "2026-06-01,acme,,tour_sales,100,typo in the year\n"
        "2026-04-02,gamma,,tour_sales,40,someone else's\n"
    )

    result = LedgerCollector().collect(ctx)

    assert [(g.source, g.reason) for g in result.gaps] == [
        ("books/odd.csv:3", "date 2026-06-01 is after the collection date"),
        (
            "books/odd.csv:4",
            "entity 'gamma' is not in the workspace; its rows count only toward the portfolio",
        ),
    ]
    portfolio = the_fact(result, "finance.revenue_monthly", "portfolio")
    assert portfolio.metrics["revenue_usd_2026_04"] == 140.0


def test_more_bad_rows_than_the_cap_are_counted_in_one_gap(tmp_path: Path) -> None:
    ctx = workspace(tmp_path)
    header = "date,entity,account,category,amount,memo\n2026-04-01,acme,,fuel,-20,ok\n"
    rows = "".join(f"2026-04-{day:02d},acme,,fuel,oops,\n" for day in range(1, 26))
    (tmp_path / "books" / "messy.csv").write_text(header + rows)

    result = LedgerCollector().collect(ctx)

    assert len(result.gaps) == 21
    assert result.gaps[-1].source == "books/messy.csv"
    assert result.gaps[-1].reason == "5 more unreadable rows not listed"


def test_missing_file_becomes_a_gap(tmp_path: Path) -> None:
    result = LedgerCollector().collect(workspace(tmp_path, path="books/nope.csv"))

    assert result == CollectResult(
        gaps=[
            Gap(
                collector="ledger",
                source="books/nope.csv",
                reason="file not found",
                hint="check sources.ledger.path in execbrief.yaml",
            )
        ]
    )


def test_unreadable_header_and_broken_chart_become_gaps(tmp_path: Path) -> None:
    ctx = workspace(tmp_path, "books.csv")
    (tmp_path / "books" / "notes.csv").write_text("when,what\n2026-04-01,lunch\n")
    (tmp_path / "books" / "chart_of_accounts.yaml").write_text(
        "accounts: [{code: '4000', name: Sales, type: revenue}]\ncategories: {fees: '9999'}\n"
    )

    result = LedgerCollector().collect(ctx)

    assert [g.source for g in result.gaps] == ["books/chart_of_accounts.yaml", "books/notes.csv"]
    assert "maps to unknown account '9999'" in result.gaps[0].reason
    assert "neither a transactions CSV nor a Stripe balance export" in result.gaps[1].reason
    assert kinds(result, "finance.burn_monthly")


def test_column_names_are_configurable(tmp_path: Path) -> None:
    columns = LedgerColumns(
        date="Posted",
        entity="Business",
        account="GL",
        category="Class",
        amount="Amount (USD)",
        memo="Description",
    )
    ctx = workspace(tmp_path, "custom_columns.csv", columns=columns)

    result = LedgerCollector().collect(ctx)

    assert result.gaps == []
    assert (
        the_fact(result, "finance.revenue_monthly", "acme").metrics["revenue_usd_2026_03"] == 1200
    )
    assert (
        the_fact(result, "finance.expenses_monthly", "acme").metrics["expenses_usd_2026_03"] == 240
    )


def test_unit_economics_without_its_pair_becomes_a_gap(tmp_path: Path) -> None:
    ctx = workspace(tmp_path, "books.csv", unit_economics={"tour_price": 250, "seats": 6})

    result = LedgerCollector().collect(ctx)

    assert [g.reason for g in result.gaps] == [
        "unit_economics key 'seats' is neither <unit>_price nor <unit>_variable_cost",
        "unit_economics has no tour_variable_cost; break-even for tour not computed",
    ]
    assert kinds(result, "finance.break_even") == []


def test_fact_ids_are_stable_across_runs(tmp_path: Path) -> None:
    ctx = workspace(
        tmp_path, "books.csv", "chart_of_accounts.yaml", cash_balance=2800, unit_economics=TOURS
    )

    first = LedgerCollector().collect(ctx)
    second = LedgerCollector().collect(ctx.model_copy(update={"now": NOW.replace(hour=18)}))

    assert [f.id for f in first.facts] == [f.id for f in second.facts]
    assert len({f.id for f in first.facts}) == len(first.facts)


def test_no_ledger_source_collects_nothing(tmp_path: Path) -> None:
    config = WorkspaceConfig(portfolio="Test Holdings", entities=ENTITIES)
    ctx = CollectContext(root=tmp_path, config=config, now=NOW)

    assert LedgerCollector().collect(ctx) == CollectResult()


def example_context(ledger_path: str | None = None) -> CollectContext:
    raw = yaml.safe_load((EXAMPLE / "execbrief.yaml").read_text())
    if ledger_path is not None:
        raw["sources"]["ledger"]["path"] = ledger_path
    config = WorkspaceConfig.model_validate(raw)
    return CollectContext(root=EXAMPLE, config=config, now=datetime(2026, 11, 25, tzinfo=UTC))


def test_example_books_show_jada_burn_and_six_charters_to_break_even() -> None:
    result = LedgerCollector().collect(example_context())

    assert result.gaps == []
    # JADA's handoff note calls its gross spend "burn": $7,400 to $8,900 a month.
    burn = the_fact(result, "finance.burn_monthly", "jada")
    assert 7000 <= burn.metrics["gross_burn_monthly_usd"] <= 9000
    charters = the_fact(result, "finance.break_even", "jada charter")
    assert charters.metrics["break_even_units"] == pytest.approx(6, abs=0.5)
    assert kinds(result, "finance.uncategorized")
    assert kinds(result, "finance.unknown_account")
    assert [f.source.section for f in kinds(result, "finance.missing_month")] == [
        "dc_client_portfolio 2026-08"
    ]


def test_example_books_folder_adds_jada_charter_sales_from_stripe() -> None:
    result = LedgerCollector().collect(example_context("books"))

    assert result.gaps == []
    expenses = the_fact(result, "finance.expenses_monthly", "jada")
    monthly = [v for k, v in expenses.metrics.items() if k.startswith("expenses_usd_")]
    assert (min(monthly), max(monthly)) == (7400.0, 8900.0)
    streams = the_fact(result, "finance.revenue_by_stream", "jada")
    assert streams.metrics["stripe_sales_usd"] > 0
    burn = the_fact(result, "finance.burn_monthly", "jada")
    assert 0 < burn.metrics["burn_monthly_usd"] < burn.metrics["gross_burn_monthly_usd"]


def test_every_kind_emitted_is_documented() -> None:
    documented = set(
        re.findall(r"`(finance\.[a-z_]+)`", (REPO / "docs" / "FACT_KINDS.md").read_text())
    )
    result = LedgerCollector().collect(example_context("books"))

    assert {f.kind for f in result.facts} == documented


def test_with_no_entity_selling_the_unit_the_portfolio_fact_says_none_is_computed(
    tmp_path: Path,
) -> None:
    rooms = {"room_price": 120, "room_variable_cost": 20}
    ctx = workspace(tmp_path, "books.csv", "chart_of_accounts.yaml", unit_economics=rooms)
    result = LedgerCollector().collect(ctx)

    [portfolio] = kinds(result, "finance.break_even")
    assert portfolio.source.section == "portfolio"
    assert "No entity's cost entries name a unit of unit_economics (room)" in portfolio.detail
    assert "break_even_units" not in portfolio.metrics
