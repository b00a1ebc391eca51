"""A Message Batch as separate steps: `run --batch --no-wait` submits, `batch status` and
`batch fetch` look and finish later (another process), for one workspace or many in one
batch; and the 1-hour cache time-to-live a batch asks for, priced and recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from execbrief.batches import BatchSubmission
from execbrief.config import ModelPrice
from execbrief.llm.pricing import DEFAULT_MODEL, cost_usd, price_for
from execbrief.models import Manifest, PersonaStatus, Usage
from execbrief.revisions import read_history
from execbrief.runs import RunFolder
from tests.conftest import REPO, Cli
from tests.messages_api_server import MessagesApiServer, serving_anthropic
from tests.test_schedule import latest, small_workspace

BATCHES = "/v1/messages/batches"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with serving_anthropic(monkeypatch, min_cacheable_tokens=64) as server:
        yield server


def workspace_at(root: Path) -> Path:
    """Two personas, the anthropic provider through the key, quick polls, auto approval."""
    small_workspace(root, 2525)
    config = root / "execbrief.yaml"
    config.write_text(
        config.read_text().replace(
            "  concurrency: 8", "  concurrency: 8\n  batch_poll_seconds: 0.05", 1
        )
    )
    return root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return workspace_at(tmp_path / "ws")


def submission(run: RunFolder) -> BatchSubmission:
    return BatchSubmission.model_validate_json((run.path / "batch.json").read_bytes())


def posted(api: MessagesApiServer, path: str) -> int:
    return sum(r.method == "POST" and r.path == path for r in api.log)


def test_submit_then_fetch_in_another_process_writes_renders_and_approves(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    api.hold_batches()

    submitted = cli("run", "-w", workspace, "--batch", "--no-wait")
    run = latest(workspace)
    early_status = cli("batch", "status", "-w", workspace)
    early_fetch = cli("batch", "fetch", "-w", workspace)
    api.release_batches()
    status = cli("batch", "status", "-w", workspace)
    fetched = subprocess.run(
        [sys.executable, "-m", "execbrief", "batch", "fetch", "-w", str(workspace)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        cwd=REPO,
        timeout=120,
        check=False,
    )
    again = cli("batch", "fetch", "-w", workspace)

    assert submitted.code == 0, submitted.err
    batch_id = submission(run).batch_id
    assert f"Submitted batch {batch_id} with 2 requests for run {run.run_id}" in submitted.err
    assert submission(run).custom_ids == {"cto": "cto", "cfo": "cfo"}
    assert early_status.code == 0
    assert f"batch {batch_id} for run {run.run_id}: in progress, 0/2" in early_status.out
    assert early_fetch.code == 1
    assert "It has not ended: nothing fetched" in early_fetch.err
    assert status.code == 0
    assert "ended, 2/2 requests finished (2 succeeded)" in status.out
    assert fetched.returncode == 0, fetched.stderr
    assert f"Fetched batch {batch_id}: 2 briefs" in fetched.stderr
    assert "Approved cto rev 1 as auto-policy" in fetched.stderr
    manifest = Manifest.model_validate_json(run.manifest_path.read_bytes())
    assert {p.status for p in manifest.personas.values()} == {PersonaStatus.OK}
    assert {p.cache_ttl for p in manifest.personas.values()} == {"1h"}
    assert all(p.cost_usd > 0 for p in manifest.personas.values())
    assert (run.persona_dir("cto") / "message.eml").is_file()
    assert read_history(run, "cfo").approval_of(1) is not None
    assert submission(run).fetched_at is not None
    assert again.code == 0
    assert "fetched at" in again.err and "nothing to do" in again.err
    assert posted(api, BATCHES) == 1
    assert api.messages() == []
    params = api.batches[batch_id].requests[0]["params"]
    marker = params["messages"][0]["content"][0]["cache_control"]
    assert marker == {"type": "ephemeral", "ttl": "1h"}


def test_fetch_wait_polls_until_the_batch_ends(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    api.hold_batches()
    assert cli("run", "-w", workspace, "--batch", "--no-wait").code == 0
    release = threading.Timer(0.5, api.release_batches)
    release.start()

    fetched = cli("batch", "fetch", "-w", workspace, "--wait")
    release.join()

    assert fetched.code == 0, fetched.err
    assert "batch: 0/2 requests finished" in fetched.err
    assert "batch: 2/2 requests finished" in fetched.err
    assert (latest(workspace).persona_dir("cfo") / "report.json").is_file()


def test_a_batch_request_that_errored_fails_its_persona_alone(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    api.batch_errors["cfo"] = "overloaded_error"
    assert cli("run", "-w", workspace, "--batch", "--no-wait").code == 0
    api.release_batches()

    fetched = cli("batch", "fetch", "-w", workspace)

    assert fetched.code == 1
    assert "cfo failed:" in fetched.err and "overloaded_error" in fetched.err
    manifest = latest(workspace).read_manifest()
    assert manifest.personas["cto"].status is PersonaStatus.OK


def test_fetch_of_a_batch_the_api_does_not_know_is_bad_input(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    assert cli("run", "-w", workspace, "--batch", "--no-wait").code == 0
    run = latest(workspace)
    (run.path / "batch.json").write_text(
        submission(run).model_copy(update={"batch_id": "msgbatch_unknown"}).model_dump_json()
    )

    fetched = cli("batch", "fetch", "-w", workspace)
    status = cli("batch", "status", "-w", workspace)

    assert fetched.code == 2
    assert "batch msgbatch_unknown is not known to the API" in fetched.err
    assert "Traceback" not in fetched.err
    assert status.code == 2
    assert not (run.persona_dir("cto") / "report.json").exists()


def test_fetch_where_no_batch_was_submitted_is_bad_input(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    assert cli("run", "-w", workspace).code == 0
    run = latest(workspace)

    newest = cli("batch", "fetch", "-w", workspace)
    named = cli("batch", "status", "-w", workspace, "--run", run.run_id)

    assert newest.code == 2
    assert "no run of this workspace has a submitted batch" in newest.err
    assert named.code == 2
    assert f"run {run.run_id} has no submitted batch" in named.err


def test_a_torn_batch_file_is_one_line(cli: Cli, workspace: Path, api: MessagesApiServer) -> None:
    assert cli("run", "-w", workspace, "--batch", "--no-wait").code == 0
    (latest(workspace).path / "batch.json").write_text('{"batch_id": ')

    fetched = cli("batch", "fetch", "-w", workspace)

    assert fetched.code == 2
    assert "batch.json is not a valid batchsubmission" in fetched.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--no-wait",), "--no-wait goes with --batch"),
        (("--batch", "--no-wait", "--send"), "--send cannot follow --no-wait"),
    ],
)
def test_bad_flag_combinations_are_refused_before_collecting(
    cli: Cli, workspace: Path, flags: tuple[str, ...], message: str
) -> None:
    result = cli("run", "-w", workspace, *flags)

    assert result.code == 2
    assert message in result.err
    assert not (workspace / "outputs").exists()


def test_no_wait_without_the_anthropic_provider_is_refused_before_collecting(
    cli: Cli, workspace: Path
) -> None:
    result = cli("run", "-w", workspace, "--batch", "--no-wait")

    assert result.code == 2
    assert "--batch needs the anthropic provider" in result.err
    assert not (workspace / "outputs").exists()


def test_a_live_run_records_the_5_minute_cache_and_sends_no_ttl(
    cli: Cli, workspace: Path, api: MessagesApiServer
) -> None:
    assert cli("run", "-w", workspace).code == 0

    manifest = latest(workspace).read_manifest()
    assert {p.cache_ttl for p in manifest.personas.values()} == {"5m"}
    body = api.messages()[0].body or {}
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_an_offline_run_records_no_cache_ttl(cli: Cli, workspace: Path) -> None:
    assert cli("run", "-w", workspace).code == 0

    manifest = latest(workspace).read_manifest()
    assert {p.cache_ttl for p in manifest.personas.values()} == {None}


# --- prices of the 1-hour cache ---------------------------------------------------------


def test_one_hour_cache_writes_cost_twice_the_input_price_and_five_minute_ones_125x() -> None:
    writes = Usage(cache_creation_input_tokens=1_000_000)
    price = price_for(DEFAULT_MODEL)
    assert price is not None

    assert cost_usd(DEFAULT_MODEL, writes) == pytest.approx(price.input * 1.25)
    assert cost_usd(DEFAULT_MODEL, writes, cache_ttl="1h") == pytest.approx(price.input * 2)
    assert cost_usd(DEFAULT_MODEL, writes, batch=True, cache_ttl="1h") == pytest.approx(price.input)
    reads = Usage(cache_read_input_tokens=1_000_000)
    assert cost_usd(DEFAULT_MODEL, reads, cache_ttl="1h") == cost_usd(DEFAULT_MODEL, reads)


def test_a_price_override_may_name_its_own_one_hour_write_price() -> None:
    writes = Usage(cache_creation_input_tokens=1_000_000)
    given = {"m": ModelPrice(input=1, output=2, cache_write=1.25, cache_read=0.1)}
    named = {"m": ModelPrice(input=1, output=2, cache_write=1.25, cache_read=0.1, cache_write_1h=3)}

    assert cost_usd("m", writes, given, cache_ttl="1h") == pytest.approx(2.0)
    assert cost_usd("m", writes, named, cache_ttl="1h") == pytest.approx(3.0)


# --- many workspaces, one batch ---------------------------------------------------------


@pytest.mark.slow
def test_many_workspaces_go_in_one_batch_and_fetch_splits_it_back(
    cli: Cli, tmp_path: Path, api: MessagesApiServer
) -> None:
    roots = [workspace_at(tmp_path / "clients" / name) for name in ("acme", "globex")]
    broken = tmp_path / "clients" / "broken"
    broken.mkdir()
    (broken / "execbrief.yaml").write_text("portfolio: Broken\n")
    spec = str(tmp_path / "clients" / "*")
    api.hold_batches()

    submitted = cli("run", "--workspaces", spec, "--batch", "--no-wait", "--jobs", "2")
    status = cli("batch", "status", "--workspaces", spec)
    early = cli("batch", "fetch", "--workspaces", spec)
    api.release_batches()
    fetched = cli("batch", "fetch", "--workspaces", spec, "--json")

    assert submitted.code == 1  # the broken workspace failed; the others were submitted
    assert "required key 'entities'" in submitted.err
    assert posted(api, BATCHES) == 1
    runs = [latest(root) for root in roots]
    submissions = [submission(run) for run in runs]
    assert submissions[0].batch_id == submissions[1].batch_id
    assert [s.custom_ids for s in submissions] == [
        {"0-cto": "cto", "0-cfo": "cfo"},
        {"1-cto": "cto", "1-cfo": "cfo"},
    ]
    (batch,) = api.batches.values()
    assert [e["custom_id"] for e in batch.requests] == ["0-cto", "0-cfo", "1-cto", "1-cfo"]
    assert status.code == 1  # the broken workspace has no run; the others are listed
    assert status.out.count("in progress, 0/4 requests finished") == 2
    assert early.code == 1
    assert "2 workspaces wait for their batch" in early.err
    assert fetched.code == 1  # still the broken one
    outcomes = {Path(o["workspace"]).name: o for o in json.loads(fetched.out)}
    assert {name: o["status"] for name, o in outcomes.items()} == {
        "acme": "ok",
        "broken": "failed",
        "globex": "ok",
    }
    for run in runs:
        manifest = run.read_manifest()
        assert set(manifest.personas) == {"cto", "cfo"}
        assert {p.status for p in manifest.personas.values()} == {PersonaStatus.OK}
        assert (run.persona_dir("cto") / "message.eml").is_file()
        # each run holds its own share of the results, and only that
        lines = (run.path / "batch-results.jsonl").read_text().splitlines()
        assert {json.loads(line)["custom_id"] for line in lines} == set(submission(run).custom_ids)


@pytest.mark.slow
def test_many_workspaces_with_batch_wait_for_it_and_finish_in_one_command(
    cli: Cli, tmp_path: Path, api: MessagesApiServer
) -> None:
    roots = [workspace_at(tmp_path / "clients" / name) for name in ("acme", "globex")]

    result = cli("run", "--workspaces", str(tmp_path / "clients" / "*"), "--batch")

    assert result.code == 0, result.err
    assert posted(api, BATCHES) == 1
    for root in roots:
        manifest = latest(root).read_manifest()
        assert {p.cache_ttl for p in manifest.personas.values()} == {"1h"}
