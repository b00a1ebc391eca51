"""The generate stage: persona + bundle -> prompt -> provider -> validated, checked report."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import cast

import jinja2
from pydantic import ValidationError

from execbrief.config import LlmConfig
from execbrief.errors import ExecbriefError, ProviderError, ReportInvalid
from execbrief.evidence import GAP_SHARE, choose_facts, choose_gaps, rank_facts
from execbrief.files import write_atomic
from execbrief.grounding import GroundingIndex, missing_sections
from execbrief.grounding.verify import SecondOpinion
from execbrief.llm.base import BriefRequest, BriefResult, FirstByte, Provider, Repair
from execbrief.llm.pricing import estimate_tokens
from execbrief.llm.schema import unfenced
from execbrief.models import (
    Bundle,
    Fact,
    Gap,
    Persona,
    PersonaRun,
    PersonaStatus,
    Report,
    Severity,
    Usage,
)
from execbrief.runs import RunFolder
from execbrief.secrets.mask import redact_text

FIRST_BYTE_POLL_SECONDS = 0.02

PersonaDone = Callable[[PersonaRun], None]


def prompt_environment(workspace_root: Path | None) -> jinja2.Environment:
    """Prompt templates: the workspace's own `prompts/` first, then the shipped ones."""
    loaders: list[jinja2.BaseLoader] = []
    if workspace_root is not None and (workspace_root / "prompts").is_dir():
        loaders.append(jinja2.FileSystemLoader(workspace_root / "prompts"))
    loaders.append(jinja2.FileSystemLoader(str(resources.files("execbrief.prompts"))))
    return jinja2.Environment(  # noqa: S701 - prompts are plain text, not HTML
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def select_facts(persona: Persona, bundle: Bundle) -> list[Fact]:
    """The facts a persona's lens selects, worst first."""
    chosen = [fact for fact in bundle.facts if persona.evidence.matches(fact)]
    return sorted(chosen, key=lambda f: (f.severity.rank, f.kind, f.id))


@dataclass(frozen=True)
class SharedPrompt:
    """The byte-identical prefix every persona of a run shares."""

    system: str
    evidence: str
    included: frozenset[str]
    omitted: int


def build_shared_prompt(
    env: jinja2.Environment, bundle: Bundle, personas: list[Persona], budget_tokens: int
) -> SharedPrompt:
    """System text and evidence block within `budget_tokens`, all of it counted: each
    lens keeps a share for its own top facts, gaps past their share are counted only."""
    system = env.get_template("system.j2").render(portfolio=bundle.portfolio)
    template = env.get_template("evidence.j2")

    def evidence(lines: list[str], gaps: list[Gap], omitted: int, omitted_gaps: int) -> str:
        return template.render(
            portfolio=bundle.portfolio,
            collected_at=bundle.collected_at.isoformat(),
            digest=bundle.digest,
            entities=bundle.entities,
            gaps=gaps,
            omitted=omitted,
            omitted_gaps=omitted_gaps,
            fact_lines=lines,
        )

    gaps = choose_gaps(
        bundle.gaps,
        int(budget_tokens * GAP_SHARE),
        lambda g: f"- [{g.collector}] {g.source}: {g.reason}",
    )
    omitted_gaps = len(bundle.gaps) - len(gaps)
    ranked = rank_facts(bundle, personas)
    # everything but the fact lines, with the "left out" notes at their longest
    frame = estimate_tokens(system, evidence([], gaps, len(ranked), omitted_gaps))
    lines, included = choose_facts(ranked, personas, max(budget_tokens - frame, 0))
    omitted = len(ranked) - len(lines)
    text = evidence(lines, gaps, omitted, omitted_gaps)
    return SharedPrompt(redact_text(system), redact_text(text), included, omitted)


def build_request(
    env: jinja2.Environment,
    shared: SharedPrompt,
    persona: Persona,
    bundle: Bundle,
    llm: LlmConfig,
    note: str | None = None,
) -> BriefRequest:
    """One persona's request: the shared prefix plus what this lens focuses on."""
    lens = select_facts(persona, bundle)
    facts = [f for f in lens if f.id in shared.included]
    instructions = env.get_template("persona.j2").render(
        persona=persona, fact_ids=[f.id for f in facts], note=note
    )
    override = persona.model
    return BriefRequest(
        persona=persona,
        system=shared.system,
        evidence=shared.evidence,
        instructions=redact_text(instructions),
        model=(override.name if override and override.name else None) or llm.model,
        max_tokens=(override.max_tokens if override and override.max_tokens else None)
        or llm.max_tokens,
        facts=facts,
        lens_facts=len(lens),
        omitted_facts=shared.omitted,
        note=note,
    )


TokenCounter = Callable[[BriefRequest], int | None]


def fit_to_budget(
    env: jinja2.Environment,
    bundle: Bundle,
    personas: list[Persona],
    llm: LlmConfig,
    notes: dict[str, str],
    count: TokenCounter | None = None,
) -> list[BriefRequest]:
    """Every persona's request, with the evidence cut to `llm.evidence_budget_tokens`.

    Facts are first cut by an estimate (four characters a token); where the provider can
    count tokens, the first request is counted and, if the estimate was short, the
    evidence is cut again in proportion.
    """
    budget = llm.evidence_budget_tokens

    def build(limit: int) -> list[BriefRequest]:
        shared = build_shared_prompt(env, bundle, personas, limit)
        return [build_request(env, shared, p, bundle, llm, notes.get(p.id)) for p in personas]

    requests = build(budget)
    if count is None or not requests:
        return requests
    first = requests[0]
    estimated = estimate_tokens(first.system, first.evidence)
    try:
        counted = count(first)
    except ExecbriefError:
        return requests  # counting is a refinement; the estimate still bounds the prompt
    if counted is None:
        return requests
    measured = counted - estimate_tokens(first.instructions)
    if measured <= budget:
        return requests
    return build(int(budget * estimated / measured))


def parse_report(text: str) -> Report:
    """Validate a provider's answer, tolerating a Markdown code fence around the JSON."""
    return Report.model_validate_json(unfenced(text))


class _Generation:
    """One persona's call, its single re-ask, and the checks on the answer."""

    def __init__(
        self,
        provider: Provider,
        provider_name: str,
        bundle: Bundle,
        strict: bool,
        second_opinion: SecondOpinion | None = None,
    ):
        self.provider = provider
        self.provider_name = provider_name
        self.grounding = GroundingIndex(bundle)
        self.strict = strict
        self.second_opinion = second_opinion

    def run(
        self, request: BriefRequest, on_first_byte: FirstByte | None
    ) -> tuple[PersonaRun, Report | None, ExecbriefError | None]:
        persona = request.persona
        outcome = PersonaRun(persona=persona.id, title=persona.title, provider=self.provider_name)
        started = time.perf_counter()
        failure: ExecbriefError | None = None
        results: list[BriefResult] = []
        report: Report | None = None
        try:
            report = self._ask(request, on_first_byte, results)
        except ExecbriefError as exc:
            outcome.status = PersonaStatus.FAILED
            outcome.error = redact_text(exc.message)
            failure = exc
        except Exception as exc:  # one persona's crash must not stop the others
            outcome.status = PersonaStatus.FAILED
            outcome.error = redact_text(f"{type(exc).__name__}: {exc}")
        if isinstance(failure, ProviderError | ReportInvalid):
            # the error counts every call of this generation, the paid answers included
            outcome.usage, outcome.cost_usd = failure.usage, failure.cost_usd
            outcome.attempts = failure.attempts
        else:
            outcome.usage = _total_usage(results)
            outcome.cost_usd = sum(r.cost_usd for r in results)
            outcome.attempts = sum(r.attempts for r in results)
        if results:
            outcome.model = results[-1].model
        outcome.cost_usd = round(outcome.cost_usd, 6)
        if report is not None:
            outcome.warnings = self.grounding.check(report, persona) + missing_sections(
                report, persona
            )
            if self.second_opinion is not None:
                opinion = self.second_opinion.verify(report)
                outcome.verify = opinion.run
                outcome.warnings += opinion.warnings
            outcome.findings_by_severity = {
                s: n for s in Severity if (n := sum(f.severity is s for f in report.findings))
            }
            outcome.status = PersonaStatus.OK
            if self.strict and outcome.warnings:
                outcome.status = PersonaStatus.FAILED
                outcome.error = f"{len(outcome.warnings)} grounding warnings under --strict"
        outcome.seconds = round(time.perf_counter() - started, 3)
        return outcome, report, failure

    def _ask(
        self,
        request: BriefRequest,
        on_first_byte: FirstByte | None,
        results: list[BriefResult],
    ) -> Report:
        """The report, after at most one re-ask; every paid answer is appended to `results`
        as it arrives, so a failure later on still counts it."""
        try:
            first = self.provider.generate(request, on_first_byte)
        except ProviderError as exc:
            raise _with_spend(exc, results) from None
        results.append(first)
        try:
            return parse_report(first.text)
        except ValidationError as exc:
            repair = Repair(answer=first.text, errors=_short_errors(exc))
        try:
            second = self.provider.generate(request.model_copy(update={"repair": repair}), None)
        except ProviderError as exc:
            raise _with_spend(exc, results) from None
        results.append(second)
        try:
            return parse_report(second.text)
        except ValidationError as exc:
            raise ReportInvalid(
                "the answer did not match the report schema after one re-ask: "
                + _short_errors(exc),
                persona=request.persona.id,
                errors=[_short_errors(exc, limit=50)],
                usage=_total_usage(results),
                cost_usd=round(sum(r.cost_usd for r in results), 6),
                attempts=sum(r.attempts for r in results),
                last_answer=second.text,
            ) from exc


def _with_spend(exc: ProviderError, results: list[BriefResult]) -> ProviderError:
    """The error, counting the answers paid for before it."""
    if results:
        exc.add_spend(
            _total_usage(results),
            sum(r.cost_usd for r in results),
            sum(r.attempts for r in results),
            results[-1].text,
        )
    return exc


def _total_usage(results: list[BriefResult]) -> Usage:
    total = Usage()
    for result in results:
        total = total + result.usage
    return total


def _short_errors(exc: ValidationError, limit: int = 5) -> str:
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()[:limit]
    ]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _cache_note(provider_name: str, sample: BriefRequest, outcomes: list[PersonaRun]) -> str:
    """Say so when a model provider cached nothing: the prefix was below its minimum."""
    answered = [o for o in outcomes if o.status is PersonaStatus.OK and o.usage.total]
    cached = any(
        o.usage.cache_creation_input_tokens or o.usage.cache_read_input_tokens for o in answered
    )
    if provider_name == "offline" or not answered or cached:
        return ""
    prefix_tokens = estimate_tokens(sample.system, sample.evidence)
    return (
        f"No prompt caching: the shared prefix (about {prefix_tokens:,} tokens) is below "
        "the model's minimum cacheable length, so every persona paid full input price."
    )


# Failures that every persona would meet the same way: no connection, or no access.
_UNREACHABLE_STATUSES = {None, 401, 403}


def _is_unreachable(failure: ExecbriefError | None) -> bool:
    return isinstance(failure, ProviderError) and failure.status in _UNREACHABLE_STATUSES


def _no_facts_in_view(request: BriefRequest) -> str:
    if request.lens_facts:
        return (
            f"0 facts in view: none of the {request.lens_facts} facts this lens selects fit "
            "the evidence budget; raise llm.evidence_budget_tokens"
        )
    return (
        "0 facts in view: this bundle holds no fact this lens selects; check the persona's "
        "`evidence` selector and the workspace's sources"
    )


@dataclass(frozen=True)
class GenerationContext:
    """What every persona of one generate shares: where to write, what to ask, whom."""

    run: RunFolder
    bundle: Bundle
    provider: Provider
    provider_name: str
    concurrency: int
    strict: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    on_done: PersonaDone | None = None
    second_opinion: SecondOpinion | None = None


def generate_reports(ctx: GenerationContext, requests: list[BriefRequest]) -> list[PersonaRun]:
    """Generate every request's report into the run; failures are recorded, not raised.

    The first persona goes alone until its response begins, so that its prompt-cache
    write is visible to every other persona; the rest then go at once. When the first
    call cannot reach the provider at all (no connection, no access), the rest are
    recorded as not attempted instead of each waiting out the same retries.
    """
    run, bundle, provider, provider_name = ctx.run, ctx.bundle, ctx.provider, ctx.provider_name
    concurrency, strict, notes, on_done = ctx.concurrency, ctx.strict, ctx.notes, ctx.on_done
    generation = _Generation(provider, provider_name, bundle, strict, ctx.second_opinion)
    lock = threading.Lock()
    outcomes: list[PersonaRun] = []
    unreachable: list[ProviderError] = []

    def one(request: BriefRequest, on_first_byte: FirstByte | None) -> None:
        if unreachable:
            outcome = PersonaRun(
                persona=request.persona.id,
                title=request.persona.title,
                provider=provider_name,
                status=PersonaStatus.FAILED,
                error=f"not attempted: the first call could not reach the provider "
                f"({redact_text(unreachable[0].message)})",
            )
            report = None
        elif not request.facts:
            # a brief written from no evidence is not a brief: fail it, and pay nothing
            outcome = PersonaRun(
                persona=request.persona.id,
                title=request.persona.title,
                provider=provider_name,
                status=PersonaStatus.FAILED,
                error=_no_facts_in_view(request),
            )
            report = None
            if on_first_byte is not None:
                on_first_byte()  # let the others go: this persona warms no cache
        else:
            outcome, report, failure = generation.run(request, on_first_byte)
            if on_first_byte is not None and not began.is_set() and _is_unreachable(failure):
                unreachable.append(cast(ProviderError, failure))
        outcome.note = notes.get(request.persona.id)
        outcome.omitted_facts = request.omitted_facts
        if report is not None:
            # the model never saw a secret, but what it writes goes through the same net
            text = redact_text(report.model_dump_json(indent=2))
            write_atomic(run.report_path(request.persona.id), text + "\n")
            run.write_grounding(request.persona.id, outcome.warnings)
        with lock:
            manifest = run.read_manifest()
            manifest.personas[outcome.persona] = outcome
            run.write_manifest(manifest)
            outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)

    if not requests:
        return []
    began = threading.Event()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        first: Future[None] = pool.submit(one, requests[0], began.set)
        while not began.wait(FIRST_BYTE_POLL_SECONDS) and not first.done():
            pass
        futures = [first] + [pool.submit(one, request, None) for request in requests[1:]]
        for future in futures:
            future.result()
    order = {request.persona.id: i for i, request in enumerate(requests)}
    manifest = run.read_manifest()
    manifest.personas = dict(
        sorted(manifest.personas.items(), key=lambda item: order.get(item[0], len(order)))
    )
    if note := _cache_note(provider_name, requests[0], outcomes):
        manifest.notes.append(note)
    run.write_manifest(manifest)
    return sorted(outcomes, key=lambda o: order[o.persona])
