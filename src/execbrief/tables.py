"""Rich tables for the terminal: built here, printed by the CLI (which owns the console)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.table import Table

from execbrief.models import BundleDiff, Fact

if TYPE_CHECKING:
    # `execbrief audit` prints its table without loading the review and fleet stages
    from execbrief.fleet import WorkspaceOutcome
    from execbrief.persona_files import PersonaFile
    from execbrief.review import ReviewRow

_STATUS = {"ok": "[green]ok[/]", "failed": "[red]failed[/]"}


def run_table(run_id: str, rows: list[ReviewRow]) -> Table:
    """The end-of-run summary: one line a persona, narrow enough for 80 columns."""
    table = Table(title=f"Run {run_id}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Persona", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Findings", min_width=12)
    table.add_column("Grounding", no_wrap=True)
    table.add_column("Tokens", justify="right", no_wrap=True)
    table.add_column("Cost", justify="right", no_wrap=True)
    table.add_column("Draft and delivery", min_width=9)
    for row in rows:
        table.add_row(
            row.persona,
            _STATUS.get(row.status, row.status),
            row.findings,
            f"[yellow]{row.warnings} warnings[/]" if row.warnings else "clean",
            f"{row.tokens:,}",
            f"${row.cost_usd:.2f}",
            escape(row.state),
        )
    if len(rows) > 1:
        # what the run cost, failed personas' paid calls included
        table.add_section()
        table.add_row(
            "total",
            "",
            "",
            "",
            f"{sum(r.tokens for r in rows):,}",
            f"${sum(r.cost_usd for r in rows):.2f}",
            "",
        )
    return table


def diff_table(diff: BundleDiff) -> Table:
    table = Table(
        title=f"{diff.base_run} -> {diff.head_run}", title_justify="left", box=box.SIMPLE_HEAD
    )
    for column in ("Change", "Severity", "Entity", "Kind", "Fact"):
        table.add_column(column)
    for change in diff.changes:
        what = change.details or change.fields
        fields = f" [dim]({escape('; '.join(what))})[/]" if what else ""
        table.add_row(
            change.change.value,
            change.severity.value,
            change.entity or "-",
            change.kind,
            escape(change.title) + fields,
        )
    return table


def audit_table(facts: list[Fact]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("Severity", "Kind", "Where", "Finding"):
        table.add_column(column, overflow="fold")
    for fact in facts:
        table.add_row(
            fact.severity.value, fact.kind, escape(fact.source.label()), escape(fact.title)
        )
    return table


def personas_table(catalogue: dict[str, PersonaFile]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("Id", "Title", "Sections", "Source"):
        table.add_column(column)
    for pid, entry in catalogue.items():
        table.add_row(
            pid,
            escape(entry.persona.title),
            str(len(entry.persona.sections)),
            "shipped" if entry.shipped else escape(str(entry.path)),
        )
    return table


def fleet_table(outcomes: list[WorkspaceOutcome], cwd: Path | None = None) -> Table:
    """One line a workspace of `run --workspaces`: its run, personas, warnings, cost."""
    failed = sum(o.status == "failed" for o in outcomes)
    table = Table(
        title=f"{len(outcomes)} workspaces, {failed} failed",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("Workspace", overflow="fold", min_width=14)
    for column in ("Status", "Run", "Briefs", "Warn", "Cost", "Time"):
        table.add_column(column, no_wrap=True, justify="right" if column == "Cost" else "left")
    for o in outcomes:
        personas = f"{o.personas_ok}/{o.personas_ok + o.personas_failed} ok"
        table.add_row(
            escape(_short_path(Path(o.workspace), cwd or Path.cwd())),
            _STATUS.get(o.status, o.status),
            o.run_id or "-",
            personas if o.run_id else "-",
            f"[yellow]{o.warnings}[/]" if o.warnings else ("0" if o.run_id else "-"),
            f"${o.cost_usd:.2f}",
            f"{o.seconds:.1f}s",
        )
    return table


def _short_path(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd.resolve()))
    except ValueError:
        return str(path)
