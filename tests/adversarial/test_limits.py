"""Bounds on hostile input (issue 13.5, 13 item 10 NUL): an alias bomb is refused at once,
a huge note is skipped with a gap, a source cannot flood the bundle, NUL bytes are dropped."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.bundle import collect_bundle
from execbrief.collectors.handoffs import HandoffsCollector
from execbrief.config import (
    CollectContext,
    Limits,
    Sources,
    Workspace,
    WorkspaceConfig,
    load_workspace,
)
from execbrief.errors import ConfigError
from execbrief.models import CollectResult, Entity, Fact, Severity, Source
from execbrief.yamlfile import YamlTooLarge, load_bounded

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
ENTITIES = [Entity(id="jada", name="JADA")]


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        refs = ", ".join([f"*a{n - 1}"] * 9)
        lines.append(f"a{n}: &a{n} [{refs}]")
    return "\n".join(lines) + "\n"


def _config(root: Path, limits: Limits | None = None, **sources: object) -> WorkspaceConfig:
    return WorkspaceConfig(
        portfolio="p", entities=ENTITIES, sources=Sources(**sources), limits=limits or Limits()
    )


def test_an_alias_bomb_in_front_matter_is_a_gap_at_once(tmp_path: Path) -> None:
    note = tmp_path / "jada.md"
    note.write_text("---\n" + _bomb() + "---\n# JADA\n\n## Notes\n\n- TODO still read\n")
    ctx = CollectContext(root=tmp_path, config=_config(tmp_path, handoffs=["*.md"]), now=NOW)

    started = time.perf_counter()
    result = HandoffsCollector().collect(ctx)

    assert time.perf_counter() - started < 2
    [gap] = result.gaps
    assert gap.reason.startswith("front matter ignored: refused, aliases expand it beyond")
    assert any(f.title == "TODO still read" for f in result.facts)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_bomb(), "aliases expand it beyond 100,000 nodes"),
        ("a: &a [x]\n" + "".join(f"b{n}: *a\n" for n in range(101)), "more than 100 aliases"),
        ("a: &a [*a]\n", "an alias refers to the node that contains it"),
    ],
)
def test_bounded_yaml_refuses_expansion(text: str, problem: str) -> None:
    with pytest.raises(YamlTooLarge, match=problem):
        load_bounded(text)


def test_a_few_aliases_still_load() -> None:
    assert load_bounded("base: &b {x: 1}\none: *b\ntwo: *b\n") == {
        "base": {"x": 1},
        "one": {"x": 1},
        "two": {"x": 1},
    }


def test_an_alias_bomb_in_the_config_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "execbrief.yaml").write_text(
        "portfolio: p\nentities: [{id: jada, name: JADA}]\n" + _bomb()
    )
    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        load_workspace(tmp_path)
    assert time.perf_counter() - started < 2
    assert "aliases expand it beyond" in str(caught.value)
    assert "execbrief.yaml" in str(caught.value)


def test_a_50_mb_note_is_skipped_quickly_with_a_gap(tmp_path: Path) -> None:
    line = "- TODO " + "x" * 90 + "\n"
    with (tmp_path / "huge.md").open("w") as handle:
        handle.write("# JADA\n\n## Notes\n\n")
        for _ in range(50 * 1024 * 1024 // len(line)):
            handle.write(line)
    (tmp_path / "small.md").write_text("# JADA\n\n## Notes\n\n- TODO small\n")
    workspace = Workspace(root=tmp_path, config=_config(tmp_path, handoffs=["*.md"]))

    started = time.perf_counter()
    bundle = collect_bundle(workspace, [HandoffsCollector()], NOW)

    assert time.perf_counter() - started < 5
    [gap] = [g for g in bundle.gaps if g.source == "huge.md"]
    assert "over limits.note_bytes (2,000,000)" in gap.reason
    assert any(f.title == "TODO small" for f in bundle.facts)
    assert len(bundle.model_dump_json()) < 100_000


def test_a_note_under_the_byte_limit_but_with_many_lines_is_capped(tmp_path: Path) -> None:
    lines = "".join(f"- TODO item {n}\n" for n in range(3000))
    (tmp_path / "many.md").write_text("# JADA\n\n## Notes\n\n" + lines)
    limits = Limits(facts_per_source=100)
    workspace = Workspace(root=tmp_path, config=_config(tmp_path, limits, handoffs=["*.md"]))

    bundle = collect_bundle(workspace, [HandoffsCollector()], NOW)

    assert len([f for f in bundle.facts if f.source.path == "many.md"]) == 100
    [gap] = [g for g in bundle.gaps if g.source == "many.md"]
    assert gap.reason.startswith("2,901 of 3,001 facts from this source left out")


class _Flood:
    name = "flood"

    def collect(self, ctx: CollectContext) -> CollectResult:
        facts = [
            Fact.create(
                collector="flood",
                kind="test.flood",
                source=Source(path=f"f{n}.txt"),
                severity=Severity.CRITICAL if n == 7 else Severity.INFO,
                title=f"fact {n}",
                detail="d" * 1000,
            )
            for n in range(200)
        ]
        return CollectResult(facts=facts)


def test_the_bundle_keeps_its_byte_limit_and_the_worst_facts(tmp_path: Path) -> None:
    config = _config(tmp_path, Limits(bundle_bytes=20_000))
    bundle = collect_bundle(Workspace(root=tmp_path, config=config), [_Flood()], NOW)

    assert sum(len(f.model_dump_json()) for f in bundle.facts) <= 20_000
    assert any(f.title == "fact 7" for f in bundle.facts)
    [gap] = [g for g in bundle.gaps if g.source == "bundle.json"]
    assert "facts left out to keep the bundle under limits.bundle_bytes (20,000 bytes)" in (
        gap.reason
    )


def test_limits_are_configurable_in_execbrief_yaml(tmp_path: Path) -> None:
    (tmp_path / "execbrief.yaml").write_text(
        "portfolio: p\nentities: [{id: jada, name: JADA}]\n"
        "limits: {note_bytes: 10, facts_per_source: 5, bundle_bytes: 50000}\n"
    )
    assert load_workspace(tmp_path).config.limits == Limits(
        note_bytes=10, facts_per_source=5, bundle_bytes=50000
    )


class _Nul:
    name = "nul"

    def collect(self, ctx: CollectContext) -> CollectResult:
        fact = Fact.create(
            collector="nul",
            kind="test.nul",
            source=Source(path="n.txt", section="a\x00b"),
            title="t\x00itle",
            detail="de\x00tail",
        )
        return CollectResult(facts=[fact])


def test_nul_bytes_do_not_survive_into_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_bytes(b"# JADA\n\n## No\x00tes\n\n- TODO nul\x00 here\n")
    config = _config(tmp_path, handoffs=["*.md"])

    bundle = collect_bundle(
        Workspace(root=tmp_path, config=config), [HandoffsCollector(), _Nul()], NOW
    )

    document = bundle.model_dump_json()
    assert "\\u0000" not in document and "\x00" not in document
    assert any(f.title == "TODO nul here" for f in bundle.facts)
    assert any(f.title == "title" and f.source.section == "ab" for f in bundle.facts)
