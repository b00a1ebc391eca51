"""The README's CLI tour runs as written, in order, on a copy of the example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]


def _tour_commands() -> list[tuple[list[str], int]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## The CLI", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.strip().splitlines():
        command, _, comment = line.partition("#")
        expected = int(m.group(1)) if (m := re.search(r"exit (\d)", comment)) else 0
        commands.append((shlex.split(command), expected))
    return commands


def test_readme_tour_commands_run_with_the_exit_codes_it_states(
    cli: Cli, example_workspace: Path, tmp_path: Path
) -> None:
    commands = _tour_commands()
    assert len(commands) >= 8

    for argv, expected in commands:
        assert argv[0] == "execbrief"
        args = [
            str(example_workspace)
            if a == "examples/portfolio"
            else str(REPO / a)
            if a.startswith("personas/")
            else str(tmp_path / a)
            if a == "my-portfolio"
            else a
            for a in argv[1:]
        ]
        result = cli(*args)
        assert result.code == expected, (argv, result.err)


def test_readme_opens_with_the_two_setup_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]

    assert first_block.split()[:2] == ["make", "demo"]
    assert "make test" in first_block
