"""The README's analyst workflow runs as written, in order, on a copy of the example."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _workflow() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## The analyst's workflow", 1)[1].split("```sh", 1)[1].split("```")[0]
    return [shlex.split(line.partition("#")[0]) for line in block.strip().splitlines()]


def test_the_readme_workflow_sends_every_brief_once_and_cfo_rev_2_alone(
    cli: Cli, example_workspace: Path
) -> None:
    commands = _workflow()
    assert [c[1] for c in commands] == [
        "run", "review", "send", "approve", "send", "generate", "approve", "send"
    ]  # fmt: skip

    for argv in commands:
        args = [str(example_workspace) if a == "examples/portfolio" else a for a in argv[1:]]
        result = cli(*args)
        assert result.code == 0, (argv, result.err)

    rows = json.loads(cli("review", "-w", example_workspace, "--json").out)
    states = {row["persona"]: row["state"] for row in rows}
    assert states["cfo"].startswith("rev 2 sent ")
    assert all(s.startswith("rev 1 sent ") for p, s in states.items() if p != "cfo")
    outbox = example_workspace.parent.parent / "outputs" / "latest" / "outbox"
    assert len(list(outbox.glob("*.eml"))) == 8 + 1 + 1  # all, cfo's rev 2, the test copy
