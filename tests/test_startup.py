"""Start-up cost: commands that never call a model must not load a model SDK.

Importing the Anthropic SDK costs about two seconds of CPU; `execbrief audit` on a small
tree takes less than that, so an import on the CLI's path doubles every collect and audit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_the_cli_and_the_audit_load_no_model_sdk() -> None:
    probe = (
        "import sys, execbrief.cli, execbrief.pipeline\n"
        "print(sorted(m for m in ('anthropic', 'openai') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"


def test_the_report_schema_is_still_built_once_on_first_use() -> None:
    from execbrief.llm.schema import report_schema, verify_schema

    assert report_schema() is report_schema()
    assert report_schema()["type"] == "object"
    assert "sections" in report_schema()["properties"]
    assert verify_schema() is verify_schema()


# What `execbrief audit` must not load: the brief pipeline and what only it needs.
_NOT_FOR_THE_AUDIT = (
    "execbrief.pipeline",
    "execbrief.generate",
    "execbrief.grounding",
    "execbrief.cli.workspace",
    "execbrief.collectors.aws.collector",
    "boto3",
    "jinja2",
    "email_validator",
)


def test_the_audit_command_loads_neither_the_pipeline_nor_boto3(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n")
    probe = (
        "import sys\n"
        "from execbrief.cli import main\n"
        f"code = main(['audit', '--json', {str(tmp_path)!r}])\n"
        f"print(code, sorted(m for m in {_NOT_FOR_THE_AUDIT!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["audit", "repo"], "audit"),
        (["-w", "audit", "run"], "run"),
        (["--workspace", "ws", "--debug", "audit", "x"], "audit"),
        (["--workspace=ws", "send"], "send"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_is_found_past_the_global_options(
    argv: list[str], expected: str | None
) -> None:
    from execbrief.cli import command_name

    assert command_name(argv) == expected


def test_every_command_outside_the_workspace_module_is_mapped_to_its_module() -> None:
    # imported here: the CLI's consoles read COLUMNS, which conftest sets per test
    from execbrief.cli import COMMAND_MODULES, WORKSPACE_COMMANDS, load_commands
    from execbrief.cli.app import app

    load_commands([])
    modules = {info.name or info.callback.__name__: info.callback.__module__
               for info in app.registered_commands if info.callback}  # fmt: skip
    assert modules["audit"] == "execbrief.cli.audit"
    for name, module in modules.items():
        assert module == COMMAND_MODULES.get(name, WORKSPACE_COMMANDS), name


def test_help_and_a_mistyped_command_see_every_command() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "execbrief", "--help"], capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0
    for name in ("run", "collect", "send", "approve", "review", "audit", "personas", "batch"):
        assert name in shown.stdout
    typo = subprocess.run(
        [sys.executable, "-m", "execbrief", "audt", "x"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert typo.returncode == 2
    assert "audit" in typo.stderr  # click suggests the command meant


def test_the_only_global_option_with_a_value_is_the_one_main_steps_over() -> None:
    import typer

    from execbrief.cli.app import WORKSPACE_OPTION, app

    group = typer.main.get_command(app)
    with_value = {
        name
        for param in group.params
        # typer carries its own copy of click, so the kind is read, not the class
        if param.param_type_name == "option" and not getattr(param, "is_flag", False)
        for name in param.opts
    }
    assert with_value == set(WORKSPACE_OPTION)
