"""End to end: `execbrief run` against a local Messages API through ANTHROPIC_BASE_URL."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from execbrief.models import Manifest, PersonaStatus, WarningKind
from tests.conftest import Cli
from tests.messages_api_server import (
    AnswerContext,
    Fault,
    MessagesApiServer,
    default_answer,
    serving_anthropic,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with serving_anthropic(monkeypatch, ttfb=0.05, tokens_per_second=20_000) as server:
        yield server


def _manifest(workspace: Path) -> Manifest:
    latest = workspace.parent.parent / "outputs" / "latest" / "manifest.json"
    return Manifest.model_validate_json(latest.read_bytes())


def test_all_eight_briefs_share_one_cache_write(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 0, result.err
    assert "provider anthropic" in result.err
    manifest = _manifest(example_workspace)
    assert {p.provider for p in manifest.personas.values()} == {"anthropic"}
    assert all(p.status is PersonaStatus.OK for p in manifest.personas.values())
    writes = sum(p.usage.cache_creation_input_tokens > 0 for p in manifest.personas.values())
    reads = sum(p.usage.cache_read_input_tokens > 0 for p in manifest.personas.values())
    assert (writes, reads) == (1, 7)
    assert all(p.cost_usd > 0 for p in manifest.personas.values())
    prefixes = {json.dumps((r.body or {})["system"]) for r in api.messages()}
    assert len(prefixes) == 1
    assert [r.path for r in api.log].count("/v1/messages/count_tokens") == 1


def test_a_persona_that_keeps_failing_fails_alone_with_exit_1(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace("concurrency: 8", "concurrency: 8\n  max_attempts: 2")
    )
    api.inject(Fault(500), Fault(500))

    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 1
    manifest = _manifest(example_workspace)
    failed = [p for p in manifest.personas.values() if p.status is PersonaStatus.FAILED]
    assert len(failed) == 1
    assert "500" in (failed[0].error or "")
    assert sum(p.status is PersonaStatus.OK for p in manifest.personas.values()) == 7


def _invented(ctx: AnswerContext) -> str:
    report = json.loads(default_answer(ctx))
    report["summary"] = "Revenue reached $12,345 last month."
    report["findings"][0]["evidence"] = ["f_doesnotexist"]
    return json.dumps(report)


def test_invented_numbers_and_ids_are_flagged_and_fail_under_strict(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    api.answer = _invented

    lenient = cli("run", "--workspace", example_workspace, "--no-send", "--persona", "cfo")
    manifest = _manifest(example_workspace)
    strict = cli(
        "run", "--workspace", example_workspace, "--no-send", "--persona", "cfo", "--strict"
    )

    assert lenient.code == 0
    kinds = {w.kind for w in manifest.personas["cfo"].warnings}
    assert {WarningKind.UNGROUNDED_NUMBER, WarningKind.UNKNOWN_FACT} <= kinds
    drafts = [
        p.read_text() for p in (example_workspace.parent.parent / "outputs").glob("*/cfo/report.md")
    ]
    assert any("Grounding warnings" in text for text in drafts)
    assert any("$12,345 [unverified]" in text for text in drafts)
    assert strict.code == 1


def test_generate_batch_writes_every_brief_at_half_price(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace("concurrency: 8", "concurrency: 8\n  batch_poll_seconds: 0.1")
    )
    assert cli("collect", "--workspace", example_workspace).code == 0

    result = cli("generate", "--workspace", example_workspace, "--batch")

    assert result.code == 0, result.err
    manifest = _manifest(example_workspace)
    assert len(manifest.personas) == 8
    assert all(p.status is PersonaStatus.OK for p in manifest.personas.values())
    assert [r.path for r in api.log if r.path == "/v1/messages/batches"] == ["/v1/messages/batches"]
    assert api.messages() == []


def test_batch_without_the_anthropic_provider_is_bad_input(
    cli: Cli, example_workspace: Path
) -> None:
    assert cli("collect", "--workspace", example_workspace).code == 0

    result = cli("generate", "--workspace", example_workspace, "--batch")

    assert result.code == 2
    assert "--batch needs the anthropic provider" in result.err


def test_a_prefix_below_the_cacheable_minimum_is_noted_in_the_manifest(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    api.min_cacheable_tokens = 10_000_000

    result = cli("run", "--workspace", example_workspace, "--no-send", "--persona", "cto")

    assert result.code == 0, result.err
    notes = _manifest(example_workspace).notes
    assert len(notes) == 1 and "below the model's minimum cacheable length" in notes[0]
    assert "No prompt caching" in result.out


def test_facts_cut_to_fit_the_budget_are_named_in_the_brief(
    cli: Cli, example_workspace: Path, api: MessagesApiServer
) -> None:
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace(
            "concurrency: 8", "concurrency: 8\n  evidence_budget_tokens: 2000"
        )
    )

    result = cli("run", "--workspace", example_workspace, "--no-send", "--persona", "ceo")

    assert result.code == 0, result.err
    omitted = _manifest(example_workspace).personas["ceo"].omitted_facts
    assert omitted > 0
    latest = example_workspace.parent.parent / "outputs" / "latest"
    assert (
        f"{omitted} lower-ranked facts were left out" in (latest / "ceo" / "report.md").read_text()
    )
    first = api.messages()[0].body
    assert f"{omitted} lower-ranked facts were left out" in json.dumps(first)


def test_an_unreachable_api_fails_every_persona_fast_with_exit_1(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens once the probe is closed
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{closed}")
    config = example_workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace("concurrency: 8", "concurrency: 8\n  max_attempts: 2")
    )

    result = cli("run", "--workspace", example_workspace, "--no-send")

    assert result.code == 1
    manifest = _manifest(example_workspace)
    errors = [p.error or "" for p in manifest.personas.values()]
    assert len(errors) == 8
    assert sum(e.startswith("not attempted") for e in errors) == 7
    assert "Traceback" not in result.err
