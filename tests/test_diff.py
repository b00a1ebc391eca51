"""`execbrief diff` and the "since the last brief" section."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

_NOTE = """\
---
entity: jada
updated: 2026-11-20
---
# JADA late addition

## Risks

- Risk: the mainsail is due for replacement before the spring season.
"""


def test_diff_lists_new_resolved_and_changed_facts(cli: Cli, example_workspace: Path) -> None:
    assert cli("collect", "--workspace", example_workspace).code == 0
    (example_workspace / "handoffs" / "jada-late.md").write_text(_NOTE)
    (example_workspace / "handoffs" / "quickdumpnow.md").unlink()
    assert cli("collect", "--workspace", example_workspace).code == 0

    result = cli("diff", "--workspace", example_workspace, "--json")

    assert result.code == 0, result.err
    changes = json.loads(result.out)["changes"]
    new = [c for c in changes if c["change"] == "new"]
    resolved = [c for c in changes if c["change"] == "resolved"]
    assert any("mainsail" in c["title"] for c in new)
    assert resolved and all(c["entity"] in {"quickdumpnow", None} for c in resolved)


def test_diff_with_one_run_only_is_bad_input(cli: Cli, example_workspace: Path) -> None:
    assert cli("collect", "--workspace", example_workspace).code == 0

    result = cli("diff", "--workspace", example_workspace)

    assert result.code == 2
    assert "no earlier run" in result.err


def test_a_second_run_brief_says_what_is_new_since_the_last(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    (example_workspace / "handoffs" / "jada-late.md").write_text(_NOTE)
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0

    latest = example_workspace.parent.parent / "outputs" / "latest"
    ceo = (latest / "ceo" / "report.md").read_text()
    assert "## Since the last brief" in ceo
    assert "new: Risk: the mainsail is due for replacement" in ceo
