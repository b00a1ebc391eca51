"""Every kind the built-in collectors emit on the example is documented in FACT_KINDS.md."""

from __future__ import annotations

import re
from pathlib import Path

from execbrief.models import Bundle
from execbrief.persona_files import discover_personas
from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]


def _documented() -> set[str]:
    text = (REPO / "docs" / "FACT_KINDS.md").read_text(encoding="utf-8")
    first_cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    return {kind for cell in first_cells for kind in re.findall(r"`([a-z0-9_.]+)`", cell)}


def test_every_kind_in_the_example_bundle_is_documented(cli: Cli, example_workspace: Path) -> None:
    assert cli("collect", "--workspace", example_workspace).code == 0
    latest = example_workspace.parent.parent / "outputs" / "latest" / "bundle.json"
    bundle = Bundle.model_validate_json(latest.read_bytes())

    emitted = {fact.kind for fact in bundle.facts}

    assert emitted - _documented() == set()
    assert {"handoffs", "code_audit", "aws_inventory", "ledger"} <= {
        run.collector for run in bundle.collectors if run.ok
    }


def test_personas_select_only_documented_kinds() -> None:
    documented = _documented()
    families = {kind.split(".")[0] for kind in documented} | {
        ".".join(kind.split(".")[:2]) for kind in documented
    }

    for entry in discover_personas(None).values():
        selectors = [entry.persona.evidence] + [
            s.evidence for s in entry.persona.sections if s.evidence is not None
        ]
        for selector in selectors:
            for pattern in selector.kinds:
                known = (
                    pattern[:-2] in families if pattern.endswith(".*") else pattern in documented
                )
                assert known, f"{entry.persona.id}: {pattern}"
