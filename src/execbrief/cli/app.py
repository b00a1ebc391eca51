"""The root of the command line: the typer app, its consoles, its global options and exit codes.

Commands live in the modules beside this one and register on `app` when imported; this
module imports nothing of the pipeline, so a command loads only what it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from execbrief.errors import ExecbriefError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
# The one global option that takes a value; `main` steps over it to find the command.
WORKSPACE_OPTION = ("--workspace", "-w")


def _exit_with(code: int | None, **_: object) -> None:
    """Commands return their exit code; typer's standalone mode exits with it."""
    raise typer.Exit(code or EXIT_OK)


app = typer.Typer(
    result_callback=_exit_with,
    name="execbrief",
    help=(
        "Executive briefs from a portfolio's own evidence.\n\n"
        "Stages: collect (evidence -> bundle.json), generate (one report per persona), "
        "render (drafts and message.eml), approve, send (with a ledger). `run` does the first "
        "three and stops at the drafts; ses and smtp send only approved drafts. "
        "Drafts land in the workspace's outputs/<run-id>/, with outputs/latest pointing "
        "at the newest run.\n\n"
        "Exit codes: 0 all done; 1 the run ended but something failed (a persona, a send, "
        "a grounding warning under --strict); 2 bad input or config, or a refused action."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
personas_app = typer.Typer(
    help="List and validate persona files.", no_args_is_help=True, result_callback=_exit_with
)
app.add_typer(personas_app, name="personas")
batch_app = typer.Typer(
    help="A Message Batch submitted by `run --batch --no-wait`: its progress, and its fetch.",
    no_args_is_help=True,
    result_callback=_exit_with,
)
app.add_typer(batch_app, name="batch")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class State:
    workspace_dir: Path = Path()
    debug: bool = False


state = State()


@app.callback()
def _global(
    workspace: Annotated[
        Path,
        typer.Option(
            *WORKSPACE_OPTION, help="Workspace folder holding execbrief.yaml.", show_default="."
        ),
    ] = Path(),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state.workspace_dir = workspace
    state.debug = debug


def report_error(exc: ExecbriefError) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if exc.hint:
        err.print(f"[dim]hint:[/] {escape(exc.hint)}", soft_wrap=True)
