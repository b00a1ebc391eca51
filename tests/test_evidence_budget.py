"""The evidence budget: every lens keeps its own facts in view, everything sent is counted,
a brief with nothing in view fails, and "since the last brief" is capped."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from execbrief import pipeline
from execbrief.config import LlmConfig, load_workspace
from execbrief.diff import SINCE_CAP, summarise_changes
from execbrief.generate import (
    GenerationContext,
    build_shared_prompt,
    fit_to_budget,
    generate_reports,
    prompt_environment,
)
from execbrief.llm.base import BriefRequest, BriefResult, FirstByte, Question
from execbrief.llm.pricing import estimate_tokens
from execbrief.models import (
    Bundle,
    ChangeKind,
    Entity,
    Fact,
    FactChange,
    Gap,
    Persona,
    PersonaStatus,
    Severity,
    Source,
)
from execbrief.runs import RunFolder
from tests.conftest import Cli

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def _fact(n: int, kind: str, tag: str, severity: Severity) -> Fact:
    return Fact.create(
        collector="test",
        kind=kind,
        source=Source(path=f"repos/app/m{n}.py", line=1),
        entity="jada",
        severity=severity,
        title=f"Observation {n} about {tag}",
        detail="supporting detail, " * 8,
        tags=[tag],
        observed_at=NOW,
    )


def _bundle(facts: list[Fact], gaps: list[Gap] | None = None, entities: int = 1) -> Bundle:
    bundle = Bundle(
        portfolio="Test Holdings",
        collected_at=NOW,
        entities=[Entity(id="jada", name="JADA")]
        + [Entity(id=f"e{n}", name=f"Entity {n}") for n in range(1, entities)],
        facts=facts,
        gaps=gaps or [],
    )
    bundle.digest = bundle.compute_digest()
    return bundle


def _shipped(example_workspace: Path) -> list[Persona]:
    return pipeline.personas_for(load_workspace(example_workspace), [])


def test_finance_lenses_keep_their_facts_when_security_findings_flood_the_bundle(
    example_workspace: Path,
) -> None:
    flood = [_fact(n, "secret.hardcoded", "security", Severity.CRITICAL) for n in range(3000)]
    finance = [
        _fact(10_000 + n, "finance.revenue_monthly", "finance", Severity.INFO) for n in range(30)
    ]
    bundle = _bundle(flood + finance)
    llm = LlmConfig(evidence_budget_tokens=40_000)

    requests = fit_to_budget(prompt_environment(None), bundle, _shipped(example_workspace), llm, {})

    by_persona = {r.persona.id: r for r in requests}
    for persona in ("cfo", "accounting"):
        in_view = {f.kind for f in by_persona[persona].facts}
        assert "finance.revenue_monthly" in in_view, persona
    assert len(by_persona["cto"].facts) > 100  # the flood still fills the rest
    assert len({(r.system, r.evidence) for r in requests}) == 1  # one cached prefix


def test_the_budget_counts_entities_gaps_and_the_template(example_workspace: Path) -> None:
    facts = [_fact(n, "finance.revenue_monthly", "finance", Severity.HIGH) for n in range(400)]
    gaps = [
        Gap(
            collector="aws_inventory", source=f"arn:aws:s3:::bucket-{n}", reason="AccessDenied " * 4
        )
        for n in range(5000)
    ]
    bundle = _bundle(facts, gaps, entities=300)
    budget = 20_000

    shared = build_shared_prompt(
        prompt_environment(None), bundle, _shipped(example_workspace), budget
    )

    assert estimate_tokens(shared.system, shared.evidence) <= budget
    assert "more gaps, left out to fit the evidence budget" in shared.evidence
    assert 0 < len(shared.included) < len(facts)


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def generate(
        self, request: BriefRequest, on_first_byte: FirstByte | None = None
    ) -> BriefResult:
        self.calls.append(request.persona.id)
        raise AssertionError("a persona with no facts in view must not reach the model")

    def count_tokens(self, request: BriefRequest) -> int | None:
        return None

    def small_model(self) -> str | None:
        return None

    def ask(self, question: Question) -> BriefResult:
        raise AssertionError("no second opinion is asked for here")


def test_a_brief_with_no_facts_in_view_fails_without_a_model_call(
    example_workspace: Path,
) -> None:
    workspace = load_workspace(example_workspace)
    run, bundle = pipeline.collect(workspace, now=NOW)
    personas = pipeline.personas_for(workspace, ["cfo", "cto"])
    security_only = bundle.model_copy(
        update={"facts": [f for f in bundle.facts if f.kind.startswith("secret.")]}
    )
    run.write_bundle(security_only)
    env = prompt_environment(None)
    cfo = [r for r in fit_to_budget(env, security_only, personas, LlmConfig(), {})][:1]
    provider = Counting()

    [outcome] = generate_reports(
        GenerationContext(
            run=run,
            bundle=security_only,
            provider=provider,
            provider_name="counting",
            concurrency=1,
        ),
        cfo,
    )

    assert outcome.status is PersonaStatus.FAILED
    assert outcome.error is not None and outcome.error.startswith("0 facts in view")
    assert provider.calls == []


def _change(n: int, severity: Severity, kind: ChangeKind = ChangeKind.NEW) -> FactChange:
    return FactChange(
        id=f"f_{n:012x}", change=kind, kind="finance.revenue_monthly", entity="jada",
        severity=severity, title=f"Change {n}", tags=[],
    )  # fmt: skip


def test_since_the_last_brief_shows_the_worst_changes_and_counts_the_rest() -> None:
    changes = [_change(n, Severity.LOW) for n in range(100)] + [
        _change(1000, Severity.CRITICAL, ChangeKind.RESOLVED)
    ]

    summary = summarise_changes(changes)

    assert len(summary.shown) == SINCE_CAP
    assert summary.shown[-1].title == "Change 1000"  # kept, in its listed place
    assert summary.more == 101 - SINCE_CAP
    assert summary.summary() == "100 new, 1 resolved"


def test_a_brief_caps_its_changes_since_the_last_brief(cli: Cli, example_workspace: Path) -> None:
    assert cli("run", "--workspace", example_workspace, "--no-send", "-p", "cto").code == 0
    first = (example_workspace.parent.parent / "outputs" / "latest").resolve()
    bundle = json.loads((first / "bundle.json").read_text())
    bundle["facts"] = []  # everything in the next run is new since this one
    (first / "bundle.json").write_text(json.dumps(bundle))

    assert cli("run", "--workspace", example_workspace, "--no-send", "-p", "cto").code == 0

    second = RunFolder((example_workspace.parent.parent / "outputs" / "latest").resolve())
    text = (second.persona_dir("cto") / "report.txt").read_text()
    listed = text.split("SINCE THE LAST BRIEF", 1)[1].split("SOURCES", 1)[0]
    assert sum(line.startswith("- new:") for line in listed.splitlines()) == SINCE_CAP
    assert "more, less severe" in listed
