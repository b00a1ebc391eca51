"""`run --workspaces`: many workspaces, bounded concurrency, failures kept to themselves."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from execbrief.errors import ConfigError
from execbrief.fleet import FleetStatus, WorkspaceOutcome, find_workspaces, run_fleet
from tests.conftest import Cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "portfolio"


def _workspace(folder: Path, portfolio: str) -> Path:
    """A copy of the example whose runs stay inside it."""
    shutil.copytree(EXAMPLE, folder)
    config = folder / "execbrief.yaml"
    text = config.read_text().replace("outputs: ../../outputs", "outputs: outputs")
    config.write_text(
        text.replace("portfolio: Harbor & Hill Holdings", f"portfolio: {portfolio}", 1)
    )
    return folder


def test_a_glob_matches_folders_holding_a_workspace_config(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / "clients" / name).mkdir(parents=True)
        (tmp_path / "clients" / name / "execbrief.yaml").write_text("portfolio: x\n")
    (tmp_path / "clients" / "notes").mkdir()
    (tmp_path / "clients" / "README.md").write_text("not a workspace")

    found = find_workspaces("clients/*", cwd=tmp_path)

    assert found == [(tmp_path / "clients" / n).resolve() for n in ("a", "b")]
    assert find_workspaces(str(tmp_path / "clients" / "*")) == found


def test_a_list_file_names_folders_relative_to_itself(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "weekly.txt").write_text(
        "# the weekly clients\n../clients/acme\n\n../clients/globex  # new in November\n"
    )

    found = find_workspaces("lists/weekly.txt", cwd=tmp_path)

    assert found == [(tmp_path / "clients" / n).resolve() for n in ("acme", "globex")]


def test_nothing_matched_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no workspace matched 'clients/\\*'"):
        find_workspaces("clients/*", cwd=tmp_path)
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    with pytest.raises(ConfigError, match="no workspace matched"):
        find_workspaces("empty.txt", cwd=tmp_path)


def test_no_more_than_jobs_workspaces_run_at_once_and_order_is_kept(tmp_path: Path) -> None:
    roots = [tmp_path / f"ws{n:02}" for n in range(9)]
    running, peak, lock = 0, 0, threading.Lock()
    done: list[str] = []

    def work(root: Path, personas: list[str], strict: bool) -> WorkspaceOutcome:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return WorkspaceOutcome(workspace=str(root), status=FleetStatus.OK)

    outcomes = run_fleet(
        roots, jobs=3, executor="thread", work=work, on_done=lambda o: done.append(o.workspace)
    )

    assert peak == 3
    assert [o.workspace for o in outcomes] == [str(r) for r in roots]
    assert sorted(done) == sorted(str(r) for r in roots)


@pytest.mark.slow
def test_a_failing_workspace_does_not_stop_the_others(cli: Cli, tmp_path: Path) -> None:
    clients = tmp_path / "clients"
    _workspace(clients / "acme", "Acme Holdings")
    _workspace(clients / "globex", "Globex Holdings")
    (clients / "broken").mkdir()
    (clients / "broken" / "execbrief.yaml").write_text("portfolio: [\n")

    result = cli("run", "--workspaces", str(clients / "*"), "--jobs", "2", "--json")

    assert result.code == 1
    outcomes = [WorkspaceOutcome.model_validate(o) for o in json.loads(result.out)]
    assert [(Path(o.workspace).name, o.status) for o in outcomes] == [
        ("acme", FleetStatus.OK),
        ("broken", FleetStatus.FAILED),
        ("globex", FleetStatus.OK),
    ]
    assert [o.portfolio for o in outcomes] == ["Acme Holdings", None, "Globex Holdings"]
    assert "invalid YAML" in (outcomes[1].error or "")
    for outcome in (outcomes[0], outcomes[2]):
        assert outcome.personas_ok == 8 and outcome.personas_failed == 0
        run = Path(outcome.workspace) / "outputs" / str(outcome.run_id)
        assert (run / "index.html").is_file()
        assert (run / "cto" / "message.eml").is_file()
        assert not (run / "send-ledger.jsonl").exists()  # no send


def test_run_with_workspaces_matching_nothing_exits_2(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "--workspaces", str(tmp_path / "none" / "*"))

    assert result.code == 2
    assert "no workspace matched" in result.err


def test_workspace_and_workspaces_together_are_refused(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", "--workspace", tmp_path, "--workspaces", str(tmp_path / "*"))

    assert result.code == 2
    assert "not both" in result.err
