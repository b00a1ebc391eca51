"""Secrets written in handoff notes, ledger memos and gap text become masked facts and never
reach the bundle (issue 13.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.bundle import collect_bundle
from execbrief.collectors.handoffs import HandoffsCollector
from execbrief.collectors.ledger import LedgerCollector
from execbrief.config import CollectContext, LedgerSource, Sources, Workspace, WorkspaceConfig
from execbrief.models import CollectResult, Entity, Gap, Severity
from execbrief.secrets.mask import mask
from tests.adversarial.canaries import CANARIES, forms, matched, written

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
ENTITIES = [Entity(id="jada", name="JADA")]


def _ctx(root: Path, **sources: object) -> CollectContext:
    config = WorkspaceConfig(portfolio="p", entities=ENTITIES, sources=Sources(**sources))
    return CollectContext(root=root, config=config, now=NOW)


def _leaks(text: str) -> list[str]:
    return [kind for kind, value in CANARIES.items() for form in forms(value) if form in text]


def _note(tmp_path: Path) -> Path:
    lines = ["---", "entity: jada", "---", "# JADA handoff", "", "## Access", ""]
    lines += [f"- TODO rotate: {written(kind)}" for kind in sorted(CANARIES)]
    path = tmp_path / "handoffs" / "jada.md"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_secret_kind_in_a_note_is_a_masked_fact_at_its_line(tmp_path: Path) -> None:
    _note(tmp_path)
    result = HandoffsCollector().collect(_ctx(tmp_path, handoffs=["handoffs/*.md"]))

    exposures = [f for f in result.facts if f.kind == "secret.in_note"]
    assert len(exposures) == len(CANARIES)
    assert _leaks(result.model_dump_json()) == []
    lines = (tmp_path / "handoffs" / "jada.md").read_text().split("\n")
    for fact in exposures:
        assert fact.source.path == "handoffs/jada.md" and fact.entity == "jada"
        assert fact.title.endswith(f"written in handoffs/jada.md:{fact.source.line}")
        kind = fact.tags[-1]
        shown = "PRIVATE KEY" if kind == "private_key" else matched(kind)
        assert shown in lines[(fact.source.line or 0) - 1]
    openai = next(f for f in exposures if f.tags[-1] == "openai_api_key")
    assert openai.severity is Severity.CRITICAL
    assert openai.title.startswith("OpenAI API key written in handoffs/jada.md:")
    assert mask(CANARIES["openai_api_key"]) in openai.detail
    todos = [f for f in result.facts if f.kind == "handoff.todo"]
    assert len(todos) == len(CANARIES)


def test_a_secret_in_front_matter_is_masked_too(tmp_path: Path) -> None:
    key = CANARIES["stripe_live_secret"]
    path = tmp_path / "n.md"
    path.write_text(f"---\nentity: jada\nowner: ops {key}\n---\n# JADA\n")

    result = HandoffsCollector().collect(_ctx(tmp_path, handoffs=["n.md"]))

    assert key not in result.model_dump_json()
    [fact] = [f for f in result.facts if f.kind == "secret.in_note"]
    assert fact.source.line == 3


def _ledger(tmp_path: Path) -> Path:
    rows = ["date,entity,category,amount,memo"]
    rows += [
        f'2026-10-{n + 1:02d},JADA,ops,-10.00,"{written(kind)}"'
        for n, kind in enumerate(sorted(CANARIES))
        if kind != "private_key"  # a CSV memo holds one line
    ]
    path = tmp_path / "books" / "ledger.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_every_secret_kind_in_a_ledger_memo_is_a_masked_fact(tmp_path: Path) -> None:
    _ledger(tmp_path)
    ctx = _ctx(tmp_path, ledger=LedgerSource(path=Path("books/ledger.csv")))

    result = LedgerCollector().collect(ctx)

    exposures = [f for f in result.facts if f.kind == "secret.in_ledger"]
    assert {f.tags[-1] for f in exposures} == set(CANARIES) - {"private_key"}
    assert all(f.source.path == "books/ledger.csv" and f.source.line for f in exposures)
    assert _leaks(result.model_dump_json()) == []


class _Leaky:
    name = "leaky"

    def collect(self, ctx: CollectContext) -> CollectResult:
        key = CANARIES["anthropic_api_key"]
        return CollectResult(
            gaps=[Gap(collector="leaky", source=f"x/{key}", reason=f"bad {key}", hint=key)]
        )


def test_gap_text_is_masked_and_reported(tmp_path: Path) -> None:
    workspace = Workspace(root=tmp_path, config=WorkspaceConfig(portfolio="p", entities=ENTITIES))

    bundle = collect_bundle(workspace, [_Leaky()], NOW)

    assert _leaks(bundle.model_dump_json()) == []
    [fact] = [f for f in bundle.facts if f.kind == "secret.in_gap"]
    assert fact.title.startswith("Anthropic API key written in")
    assert mask(matched("anthropic_api_key")) in bundle.gaps[0].reason


@pytest.mark.parametrize("kind", sorted(CANARIES))
def test_a_note_with_one_secret_reports_it_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "n.md"
    path.write_text(f"# JADA\n\n## Notes\n\n{written(kind)}\n")

    result = HandoffsCollector().collect(_ctx(tmp_path, handoffs=["n.md"]))

    [fact] = [f for f in result.facts if f.kind == "secret.in_note"]
    assert fact.source.line == 5 and fact.tags[-1] == kind
    assert _leaks(result.model_dump_json()) == []
