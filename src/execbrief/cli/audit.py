"""`execbrief audit`: the code audit on repositories outside any workspace, as a CI gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from execbrief.audit import audit as audit_repositories
from execbrief.cli.app import EXIT_FAILED, EXIT_OK, app, err, out
from execbrief.models import PrefilterEngine, Severity
from execbrief.tables import audit_table


@app.command()
def audit(
    paths: Annotated[list[Path], typer.Argument(help="Repositories (folders) to audit.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the facts as a JSON list on stdout, only.")
    ] = False,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Exit 1 if a finding is at least this severe.")
    ] = Severity.HIGH,
    checks: Annotated[
        str | None,
        typer.Option(
            "--checks",
            help="Comma-separated: secrets,env,python,endpoints,inventory (default all).",
        ),
    ] = None,
    engine: Annotated[
        PrefilterEngine,
        typer.Option("--engine", help="Secret prefilter: hyperscan, re, or auto (the fastest)."),
    ] = PrefilterEngine.AUTO,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Audit every repository afresh; skip the result cache."),
    ] = False,
) -> int:
    """Run the code audit on repositories without a workspace; secret values are masked."""
    selected = {c.strip() for c in checks.split(",") if c.strip()} if checks else None
    result = audit_repositories(paths, selected, engine.value, cache=not no_cache)
    failing = [f for f in result.facts if f.severity.rank <= fail_on.rank]
    if as_json:
        facts = [f.model_dump(mode="json") for f in result.facts]
        sys.stdout.write(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
    else:
        out.print(audit_table(result.facts))
    for gap in result.gaps:
        err.print(f"[yellow]gap:[/] {escape(gap.source)}: {escape(gap.reason)}")
    err.print(
        f"{len(result.facts)} findings, {len(failing)} at or above {fail_on.value}"
        + (f"; exit 1 (--fail-on {fail_on.value})" if failing else "")
    )
    return EXIT_FAILED if failing else EXIT_OK
