"""`execbrief diff` and the "since the last brief" section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def _bundle_of(*facts: Any) -> Any:
    from datetime import UTC, datetime

    from execbrief.models import Bundle, Entity

    return Bundle(
        portfolio="P",
        collected_at=datetime(2026, 12, 1, tzinfo=UTC),
        entities=[Entity(id="qosd", name="QoSD")],
        facts=list(facts),
    )


def _secret(kind: str, severity: str, line: int) -> Any:
    from execbrief.models import Fact, Severity, Source

    return Fact.create(
        collector="code_audit",
        kind=kind,
        source=Source(path="lambda/app.py", line=line, resource="qosd-app", section="stripe"),
        entity="qosd",
        severity=Severity(severity),
        title="Stripe live secret key" + (" in git history" if "history" in kind else ""),
        key="qosd-app:0123456789abcdef",
    )


def test_a_key_removed_from_code_but_left_in_history_is_changed_not_resolved() -> None:
    from execbrief.diff import diff_bundles

    base = _bundle_of(_secret("secret.hardcoded", "critical", 15))
    head = _bundle_of(_secret("secret.in_history", "high", 15))

    [change] = diff_bundles(base, head, "a", "b").changes

    assert change.change.value == "changed"
    assert "kind: secret.hardcoded -> secret.in_history" in change.details
    assert "severity: critical -> high" in change.details


def test_a_severity_change_is_reported_with_before_and_after() -> None:
    from execbrief.diff import diff_bundles

    base = _bundle_of(_secret("secret.hardcoded", "critical", 15))
    head = _bundle_of(_secret("secret.hardcoded", "medium", 15))

    [change] = diff_bundles(base, head, "a", "b").changes

    assert (change.change.value, change.details) == ("changed", ["severity: critical -> medium"])


def test_a_fact_that_only_moved_lines_is_moved() -> None:
    from execbrief.diff import diff_bundles

    base = _bundle_of(_secret("secret.hardcoded", "critical", 15))
    head = _bundle_of(_secret("secret.hardcoded", "critical", 19))

    [change] = diff_bundles(base, head, "a", "b").changes

    assert (change.change.value, change.details) == ("moved", ["source.line: 15 -> 19"])


def test_editing_a_note_above_a_fact_keeps_its_identity_and_a_new_blocker_is_new(
    cli: Cli, example_workspace: Path
) -> None:
    note = example_workspace / "handoffs" / "jada.md"
    assert cli("collect", "--workspace", example_workspace).code == 0
    text = note.read_text()
    text = text.replace("## Financials\n", "## Financials\n\nA new paragraph above.\n\n", 1)
    text = text.replace(
        "## Open Items\n\n", "## Open Items\n\n- Blocked: sail loft will not quote.\n", 1
    )
    note.write_text(text)
    assert cli("collect", "--workspace", example_workspace).code == 0

    changes = json.loads(cli("diff", "--workspace", example_workspace, "--json").out)["changes"]

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for c in changes:
        by_kind.setdefault(c["change"], []).append(c)
    assert not by_kind.get("resolved"), by_kind.get("resolved")
    new_handoffs = [c for c in by_kind.get("new", []) if c["kind"].startswith("handoff.")]
    assert [c["title"] for c in new_handoffs] == ["Blocked: sail loft will not quote."]
    moved = [c["title"] for c in by_kind.get("moved", [])]
    assert (
        "Blocked: crew equity agreement; needs the lawyer's draft (sent 2026-10-02, no reply)."
        in moved
    )


def test_the_audits_key_removed_from_code_keeps_its_identity_in_history(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from execbrief.collectors.code_audit.collector import audit_repo
    from execbrief.diff import diff_bundles
    from tests.fixtures_repos import Keys, commit_all, init_repo, write

    def scan(repo: Path) -> Any:
        return audit_repo(repo, frozenset({"secrets"}), datetime(2026, 12, 1, tzinfo=UTC), None)

    repo = init_repo(tmp_path / "shop")
    key = Keys().stripe_live()
    write(repo, "app/pay.py", f'import stripe\n\nstripe.api_key = "{key}"\n')
    commit_all(repo)
    in_code = scan(repo).facts
    write(repo, "app/pay.py", 'import os\n\nstripe_key = os.environ["STRIPE_KEY"]\n')
    commit_all(repo, "read the key from the environment")
    in_history = scan(repo).facts

    base = _bundle_of(*[f for f in in_code if f.kind.startswith("secret.")])
    head = _bundle_of(*[f for f in in_history if f.kind.startswith("secret.")])
    changes = diff_bundles(base, head, "a", "b").changes

    assert [c.change.value for c in changes] == ["changed"]
    assert "kind: secret.hardcoded -> secret.in_history" in changes[0].details
