"""The command line: flags in, one stage (or all of them) run, a summary and an exit code out.

Exit codes: 0 all done; 1 the run ended but something failed (a persona, a send, a
grounding warning under --strict); 2 bad input or config, or a refused action.

Each command registers on the app when its module is imported, and `main` imports only
the module of the command it is asked for: `execbrief audit`, a CI gate, then starts
without the brief pipeline (model SDKs, boto3, templates), a second less on every call.
"""

from __future__ import annotations

import importlib
import sys
import traceback

from execbrief.cli.app import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    WORKSPACE_OPTION,
    app,
    err,
    report_error,
    state,
)
from execbrief.errors import ExecbriefError

COMMAND_MODULES = {"audit": "execbrief.cli.audit"}
# Every command not named above; help, and a mistyped name, need them all.
WORKSPACE_COMMANDS = "execbrief.cli.workspace"


def command_name(argv: list[str]) -> str | None:
    """The command the arguments ask for, past the global options; None when there is none."""
    words = iter(argv)
    for word in words:
        if word in WORKSPACE_OPTION:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def load_commands(argv: list[str]) -> None:
    """Import the module of the command asked for, or every command module."""
    module = COMMAND_MODULES.get(command_name(argv) or "")
    for name in [module] if module else [WORKSPACE_COMMANDS, *COMMAND_MODULES.values()]:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `execbrief` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    try:
        load_commands(args)
        app(args=args, prog_name="execbrief")
    except ExecbriefError as exc:
        if state.debug:
            traceback.print_exc()
        report_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted; what was written is complete, the rest was not started")
        return 130
    except SystemExit as exc:
        # typer exits with the command's code, or 2 for a usage error it has printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return EXIT_OK


def console_main() -> None:
    sys.exit(main())
