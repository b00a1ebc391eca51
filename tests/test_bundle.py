"""The collect stage: plug-in collectors, failures as gaps, stable ids, masked secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from execbrief.bundle import collect_bundle, collectors_for, installed_collectors
from execbrief.config import CollectContext, Sources, Workspace, WorkspaceConfig
from execbrief.errors import CollectorError
from execbrief.models import Bundle, CollectResult, Entity, Fact, Severity, Source

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _workspace(tmp_path: Path, **sources: object) -> Workspace:
    config = WorkspaceConfig(
        portfolio="P",
        entities=[Entity(id="jada", name="JADA")],
        sources=Sources.model_validate(sources),
    )
    return Workspace(root=tmp_path, config=config)


class FakeCollector:
    def __init__(self, name: str, facts: list[Fact]) -> None:
        self.name = name
        self.facts = facts

    def collect(self, ctx: CollectContext) -> CollectResult:
        return CollectResult(facts=self.facts)


class ExplodingCollector:
    name = "exploding"

    def collect(self, ctx: CollectContext) -> CollectResult:
        raise RuntimeError("disk on fire")


class RefusingCollector:
    name = "refusing"

    def collect(self, ctx: CollectContext) -> CollectResult:
        raise CollectorError(
            "AccessDenied", collector=self.name, source="ce", hint="allow ce:GetCostAndUsage"
        )


def _fact(title: str, **extra: object) -> Fact:
    return Fact.create(
        collector="fake",
        kind="handoff.section",
        source=Source(path="notes.md", section=title),
        title=title,
        entity="jada",
        **extra,
    )


def test_failing_collector_becomes_gap_and_the_others_still_run(tmp_path: Path) -> None:
    good = FakeCollector("fake", [_fact("Financials")])

    bundle = collect_bundle(
        _workspace(tmp_path), [ExplodingCollector(), good, RefusingCollector()], NOW
    )

    assert [f.title for f in bundle.facts] == ["Financials"]
    assert {(g.collector, g.reason) for g in bundle.gaps} == {
        ("exploding", "RuntimeError: disk on fire"),
        ("refusing", "AccessDenied"),
    }
    assert next(g for g in bundle.gaps if g.collector == "refusing").hint == (
        "allow ce:GetCostAndUsage"
    )
    assert {r.collector: r.ok for r in bundle.collectors} == {
        "exploding": False,
        "fake": True,
        "refusing": False,
    }


def test_fact_ids_and_digest_are_stable_across_runs(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    first = collect_bundle(workspace, [FakeCollector("fake", [_fact("A"), _fact("B")])], NOW)
    later = datetime(2026, 12, 1, tzinfo=UTC)
    second = collect_bundle(
        workspace,
        [FakeCollector("fake", [_fact("B", observed_at=later), _fact("A", observed_at=later)])],
        later,
    )

    assert [f.id for f in first.facts] == [f.id for f in second.facts]
    assert first.digest == second.digest
    assert first.digest.startswith("sha256:")


def test_duplicate_fact_ids_are_made_unique(tmp_path: Path) -> None:
    same = _fact("A")

    bundle = collect_bundle(_workspace(tmp_path), [FakeCollector("fake", [same, same])], NOW)

    assert [f.id for f in bundle.facts] == [same.id, same.id + "-2"]


def test_a_secret_shaped_value_is_masked_even_if_a_collector_leaks_it(tmp_path: Path) -> None:
    key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc9f2a"
    leaky = _fact("Stripe key", detail=f"found {key} in handler", severity=Severity.CRITICAL)

    bundle = collect_bundle(_workspace(tmp_path), [FakeCollector("fake", [leaky])], NOW)

    text = bundle.model_dump_json()
    assert key not in text
    assert "sk_live_…9f2a" in bundle.facts[0].detail


def test_builtin_collectors_are_entry_points_and_run_only_for_named_sources(
    tmp_path: Path,
) -> None:
    available = installed_collectors()
    assert {"handoffs", "code_audit", "aws_inventory", "ledger"} <= set(available)

    names = {c.name for c in collectors_for(_workspace(tmp_path).config, available)}
    assert not names & {"handoffs", "code_audit", "aws_inventory", "ledger"}

    with_handoffs = _workspace(tmp_path, handoffs=["*.md"]).config
    assert "handoffs" in {c.name for c in collectors_for(with_handoffs, available)}


def test_bundle_round_trips_through_json(tmp_path: Path) -> None:
    bundle = collect_bundle(_workspace(tmp_path), [FakeCollector("fake", [_fact("A")])], NOW)

    text = bundle.model_dump_json(by_alias=True)

    assert '"schema":"execbrief.bundle/1"' in text
    assert Bundle.model_validate_json(text) == bundle
