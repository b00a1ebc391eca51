"""The stages wired to a workspace and a run folder; the CLI calls these, one per command."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from execbrief.analysis import analyze
from execbrief.approval import Acknowledge, ApprovalResult, approve_drafts
from execbrief.bundle import (
    Collector,
    collect_bundle,
    collectors_for,
    installed_collectors,
)
from execbrief.config import LlmConfig, TransportName, Workspace
from execbrief.diff import diff_bundles
from execbrief.errors import ConfigError, RefusedError
from execbrief.generate import (
    GenerationContext,
    fit_to_budget,
    generate_reports,
    prompt_environment,
)
from execbrief.grounding import check_grounding, missing_sections
from execbrief.llm import get_provider, resolve_provider_name
from execbrief.llm.base import BriefRequest, Provider
from execbrief.llm.ceiling import check_ceiling
from execbrief.mail import get_transport
from execbrief.mail.recipients import (
    PersonaAddresses,
    check_unknown_recipients,
    persona_addresses,
)
from execbrief.mail.settings import MailSettings, resolve_mail_settings
from execbrief.models import (
    Bundle,
    BundleDiff,
    CollectorRun,
    CollectResult,
    DeliveryOutcome,
    Manifest,
    Persona,
    PersonaRun,
    PersonaStatus,
    Report,
    ReportSection,
    Severity,
    StageTiming,
)
from execbrief.persona_files import discover_personas, select_personas
from execbrief.preflight import check_workspace
from execbrief.render import RenderContext, render_persona
from execbrief.review import write_index
from execbrief.revisions import (
    provenance_of,
    read_history,
    record_generated,
    record_revision,
    sha256_file,
)
from execbrief.runs import (
    RunFolder,
    create_run,
    open_run,
    previous_run,
    publish_run,
    write_atomic,
)
from execbrief.secrets.mask import mask_fact, redact_text
from execbrief.send import AfterAttempt, Notice, send_run

if TYPE_CHECKING:
    from execbrief.llm.batch import BatchProgress
    from execbrief.mail.events import EventsReport


@dataclass
class Hooks:
    """Progress callbacks the CLI passes in; stages never print."""

    collector_done: Callable[[str, CollectorRun], None] | None = None
    generation_started: Callable[[str, int], None] | None = None
    batch_progress: Callable[[int, int], None] | None = None
    persona_done: Callable[[PersonaRun], None] | None = None


def personas_for(workspace: Workspace, requested: list[str]) -> list[Persona]:
    catalogue = discover_personas(workspace.root)
    return select_personas(catalogue, workspace.config.personas, requested)


def _record_stage(run: RunFolder, stage: str, started: float) -> None:
    manifest = run.read_manifest()
    manifest.stages.append(
        StageTiming(stage=stage, seconds=round(time.perf_counter() - started, 3))
    )
    run.write_manifest(manifest)


def collect(
    workspace: Workspace,
    hooks: Hooks | None = None,
    collectors: list[Collector] | None = None,
    now: datetime | None = None,
    aws_snapshot_out: Path | None = None,
) -> tuple[RunFolder, Bundle]:
    """Start a new run: collect the bundle, add its analysis facts, write it and an empty
    manifest.

    With `aws_snapshot_out`, the AWS inventory read for this bundle is also saved there,
    so the file and the bundle always describe the same moment.
    """
    started = time.perf_counter()
    check_workspace(workspace)
    now = now or datetime.now(UTC)
    chosen = (
        collectors
        if collectors is not None
        else collectors_for(workspace.config, installed_collectors())
    )
    if aws_snapshot_out is not None:
        chosen = _with_snapshot_out(workspace, chosen, aws_snapshot_out)
    bundle = collect_bundle(workspace, chosen, now, (hooks or Hooks()).collector_done)
    bundle = analyze(bundle)  # derived facts, so generate cites figures instead of computing them
    run = create_run(workspace.outputs, now, publish=False)
    run.write_bundle(bundle)
    manifest = Manifest(
        run_id=run.run_id,
        created_at=now,
        portfolio=bundle.portfolio,
        workspace=str(workspace.root),
        bundle_digest=bundle.digest,
    )
    manifest.stages.append(
        StageTiming(stage="collect", seconds=round(time.perf_counter() - started, 3))
    )
    run.write_manifest(manifest)
    # only a complete run becomes `latest`: a killed collect leaves the previous one there
    publish_run(workspace.outputs, run)
    return run, bundle


def _with_snapshot_out(
    workspace: Workspace, collectors: list[Collector], path: Path
) -> list[Collector]:
    from execbrief.collectors.aws.collector import AwsInventoryCollector

    source = workspace.config.sources.aws
    if source is None or source.snapshot is not None:
        why = "has no sources.aws" if source is None else "replays sources.aws.snapshot"
        raise ConfigError(
            f"--aws-snapshot-out needs a live AWS source, but the workspace {why}",
            path=workspace.config_path,
            field="sources.aws",
            hint="set sources.aws (regions, profile, role_arn) without `snapshot`",
        )
    return [
        AwsInventoryCollector(snapshot_out=path.resolve()) if c.name == "aws_inventory" else c
        for c in collectors
    ]


def generate(
    workspace: Workspace,
    run: RunFolder,
    personas: list[Persona],
    hooks: Hooks | None = None,
    *,
    strict: bool = False,
    note: str | None = None,
    batch: bool = False,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, list[PersonaRun]]:
    """Generate the personas' reports into `run`; returns the provider used and outcomes.

    With `batch`, every persona goes through the Message Batches API (half the price,
    minutes rather than seconds); only the anthropic provider has it.
    """
    hooks = hooks or Hooks()
    started = time.perf_counter()
    check_workspace(workspace, personas)
    bundle = run.read_bundle()
    llm = workspace.config.llm
    provider_name = resolve_provider_name(llm, os.environ if environ is None else environ)
    provider = get_provider(provider_name, llm)
    env = prompt_environment(workspace.root)
    notes = {p.id: note for p in personas} if note else {}
    requests = fit_to_budget(env, bundle, personas, llm, notes, provider.count_tokens)
    check_ceiling(provider, requests, llm, batch=batch)
    if hooks.generation_started:
        hooks.generation_started(provider_name, len(requests))
    if batch:
        provider = _batched(provider_name, llm, requests, hooks)
    ctx = GenerationContext(
        run=run,
        bundle=bundle,
        provider=provider,
        provider_name=provider_name,
        concurrency=llm.concurrency,
        strict=strict,
        notes=notes,
        on_done=hooks.persona_done,
    )
    outcomes = generate_reports(ctx, requests)
    written = datetime.now(UTC)
    for outcome in outcomes:
        # a persona that failed before answering keeps whatever report it had before
        answered = outcome.status is PersonaStatus.OK or bool(outcome.warnings)
        if answered and run.report_path(outcome.persona).is_file():
            record_generated(run, outcome, written)
    _record_stage(run, "generate", started)
    return provider_name, outcomes


def pending_personas(run: RunFolder, personas: list[Persona]) -> list[Persona]:
    """The personas a resumed generate still has to write: those without a valid report.

    Valid means the manifest records the persona as ok and its report.json parses; a
    generate killed mid-run leaves the others missing, failed or half-recorded.
    """
    recorded = run.read_manifest().personas
    return [
        p
        for p in personas
        if not (
            (outcome := recorded.get(p.id)) is not None
            and outcome.status is PersonaStatus.OK
            and run.has_valid_report(p.id)
        )
    ]


def _batched(
    provider_name: str, llm: LlmConfig, requests: list[BriefRequest], hooks: Hooks
) -> Provider:
    if provider_name != "anthropic":
        raise ConfigError(
            f"--batch needs the anthropic provider, not {provider_name!r}",
            field="llm.provider",
            hint="set ANTHROPIC_API_KEY (or llm.provider: anthropic), or drop --batch",
        )
    from execbrief.llm.batch import BatchAnswers, BatchRunner

    runner = BatchRunner(llm, poll_seconds=llm.batch_poll_seconds)

    def progress(state: BatchProgress) -> None:
        if hooks.batch_progress:
            hooks.batch_progress(state.finished, state.total)

    return BatchAnswers(runner.provider, runner.run(requests, progress))


def mail_settings(workspace: Workspace, environ: Mapping[str, str] | None = None) -> MailSettings:
    """The workspace's mail config, with gaps filled from its env file and SES_* variables."""
    return resolve_mail_settings(
        workspace.config.mail, workspace.root, os.environ if environ is None else environ
    )


def addresses_for(
    workspace: Workspace, personas: list[Persona], settings: MailSettings
) -> dict[str, PersonaAddresses]:
    """Each persona's recipients after the workspace's map, its own files and SES_*."""
    catalogue = discover_personas(workspace.root)
    recipients = workspace.config.recipients
    check_unknown_recipients(recipients, list(catalogue))
    return {
        p.id: persona_addresses(p, settings, recipients, shipped=catalogue[p.id].shipped)
        for p in personas
    }


def check_delivery(workspace: Workspace, personas: list[Persona], *, sending: bool = False) -> None:
    """Refuse bad mail settings (no sender, no recipients, a malformed address), subject
    templates and provider settings up front, before a run collects and writes anything;
    and `run --send` through a transport that needs approval, since drafts not yet written
    cannot have been approved."""
    settings = mail_settings(workspace)
    addresses_for(workspace, personas, settings)
    check_workspace(workspace, personas, provider=True)
    transport = settings.mail.transport
    if sending and transport != "file":
        raise RefusedError(
            f"`run --send` cannot send through {transport}: its drafts need approval first",
            hint="run `execbrief run` (drafts), then `execbrief review`, `execbrief approve` "
            "and `execbrief send`",
        )


def render(
    workspace: Workspace,
    run: RunFolder,
    personas: list[Persona],
    now: datetime | None = None,
) -> list[str]:
    """Render every persona of `run` that has a report; returns the ids rendered.

    Each render re-validates report.json, checks its grounding again (a hand edit is
    checked like a model's answer), records who wrote it, and makes a new revision.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    settings = mail_settings(workspace)
    addresses = addresses_for(workspace, personas, settings)
    manifest = run.read_manifest()
    bundle = run.read_bundle()
    since = None
    if (earlier := previous_run(workspace.outputs, run)) is not None:
        since = diff_bundles(earlier.read_bundle(), bundle, earlier.run_id, run.run_id)
    ctx = RenderContext(run=run, manifest=manifest, now=now, since=since, bundle=bundle)
    rendered: list[str] = []
    for persona in personas:
        outcome = manifest.personas.get(persona.id)
        if outcome is None or not run.report_path(persona.id).is_file():
            continue
        report = run.read_report(persona.id)
        outcome.warnings = check_grounding(report, bundle, persona) + missing_sections(
            report, persona
        )
        run.write_grounding(persona.id, outcome.warnings)
        outcome.findings_by_severity = {
            s: n for s in Severity if (n := sum(f.severity is s for f in report.findings))
        }
        report_sha = sha256_file(run.report_path(persona.id))
        history = read_history(run, persona.id)
        outcome.provenance = provenance_of(history, report_sha, outcome)
        outcome.report_sha256 = render_persona(ctx, persona, addresses[persona.id]).report_sha256
        record_revision(
            run,
            persona.id,
            history,
            report_sha256=report_sha,
            provenance=outcome.provenance,
            warnings=len(outcome.warnings),
            now=now,
        )
        rendered.append(persona.id)
    run.write_manifest(manifest)
    write_index(run, manifest, bundle)
    _record_stage(run, "render", started)
    return rendered


def approve(
    workspace: Workspace,
    run: RunFolder,
    persona_ids: list[str],
    *,
    by: str,
    accept_warnings: bool = False,
    acknowledge: Acknowledge | None = None,
) -> list[ApprovalResult]:
    """Approve the current revision of each persona, then refresh the review page."""
    results = approve_drafts(
        run,
        run.read_manifest(),
        persona_ids,
        by=by,
        now=datetime.now(UTC),
        accept_warnings=accept_warnings,
        acknowledge=acknowledge,
    )
    write_index(run, run.read_manifest(), run.read_bundle())
    return results


def send(
    workspace: Workspace,
    run: RunFolder,
    persona_ids: list[str],
    *,
    requested: bool,
    transport_name: TransportName | None = None,
    force: bool = False,
    dry_run: bool = False,
    after_attempt: AfterAttempt | None = None,
    test_to: str | None = None,
    notice: Notice | None = None,
) -> list[DeliveryOutcome]:
    """Send the rendered messages of `run`, then refresh its review page."""
    settings = mail_settings(workspace)
    transport = get_transport(transport_name or settings.mail.transport, settings, run.outbox)
    outcomes = send_run(
        run,
        persona_ids,
        transport,
        requested=requested,
        force=force,
        dry_run=dry_run,
        after_attempt=after_attempt,
        test_to=test_to,
        bcc_audit=settings.mail.bcc_audit,
        notice=notice,
    )
    if not dry_run:
        write_index(run, run.read_manifest(), run.read_bundle())
    return outcomes


def is_rendered(run: RunFolder, persona_id: str) -> bool:
    """Whether the persona's message.eml is written (render is the last step before send)."""
    return (run.persona_dir(persona_id) / "message.eml").is_file()


def record_events(workspace: Workspace) -> EventsReport:
    """Drain the SES events queue into the runs, then refresh those runs' review pages."""
    from execbrief.mail.events import read_events

    report = read_events(mail_settings(workspace).mail, workspace.outputs)
    for run_id in sorted({event.run for event in report.recorded}):
        run = open_run(workspace.outputs, run_id)
        if run.bundle_path.is_file():
            write_index(run, run.read_manifest(), run.read_bundle())
    return report


def run_personas_in(run: RunFolder, requested: list[str]) -> list[str]:
    """The personas a later stage works on: those requested, else all in the manifest."""
    manifest = run.read_manifest()
    if not requested:
        return list(manifest.personas)
    unknown = [p for p in requested if p not in manifest.personas]
    if unknown:
        raise ConfigError(
            f"persona {unknown[0]!r} is not part of run {run.run_id}",
            hint="personas in this run: " + ", ".join(manifest.personas),
        )
    return requested


def audit(
    paths: list[Path], checks: set[str] | None, engine: str = "auto", cache: bool = True
) -> CollectResult:
    """The code audit on repositories outside any workspace, worst findings first."""
    from execbrief.collectors.code_audit.audit_cache import AuditCache
    from execbrief.collectors.code_audit.collector import DEFAULT_MAX_FILE_BYTES, audit_paths

    for path in paths:
        if not path.is_dir():
            # a typo must not pass a CI gate as "0 findings"
            raise ConfigError(
                "no such repository folder",
                path=path,
                hint="`execbrief audit` takes the folders of repositories to audit",
            )
    store = AuditCache() if cache else None
    result = audit_paths(paths, checks, datetime.now(UTC), DEFAULT_MAX_FILE_BYTES, engine, store)
    facts = sorted(result.facts, key=lambda f: (f.severity.rank, f.source.path or "", f.id))
    return CollectResult(facts=[mask_fact(f) for f in facts], gaps=result.gaps)


def resolve_run(workspace: Workspace, run: str) -> RunFolder:
    return open_run(workspace.outputs, run)


def diff_runs(workspace: Workspace, base: str | None, head: str) -> BundleDiff:
    """Facts new, resolved and changed from `base` (default: the run before) to `head`."""
    head_run = resolve_run(workspace, head)
    base_run = resolve_run(workspace, base) if base else previous_run(workspace.outputs, head_run)
    if base_run is None:
        raise ConfigError(
            f"run {head_run.run_id} has no earlier run to compare with",
            hint="name two runs: execbrief diff RUN RUN",
        )
    return diff_bundles(
        base_run.read_bundle(), head_run.read_bundle(), base_run.run_id, head_run.run_id
    )


def since_last_run(workspace: Workspace, run: RunFolder) -> BundleDiff | None:
    """The evidence changes from the run before `run` (what a brief's "since the last
    brief" lists), or None for a first run."""
    earlier = previous_run(workspace.outputs, run)
    if earlier is None:
        return None
    return diff_bundles(earlier.read_bundle(), run.read_bundle(), earlier.run_id, run.run_id)


def edit_section(
    workspace: Workspace, run: RunFolder, persona: Persona, section_id: str, markdown: str
) -> list[str]:
    """Replace one section's text in report.json, then render it like a hand edit: the
    grounding check runs again and the draft becomes a new, unapproved revision."""
    report = run.read_report(persona.id)
    known = {s.id for s in persona.sections}
    if section_id not in known:
        raise ConfigError(
            f"{persona.id} has no section {section_id!r}",
            field="section",
            hint="sections of this persona: " + ", ".join(sorted(known)),
        )
    sections = [s for s in report.sections if s.id != section_id]
    edited = ReportSection(id=section_id, markdown=markdown)
    at = next((i for i, s in enumerate(report.sections) if s.id == section_id), len(sections))
    sections.insert(at, edited)
    report = report.model_copy(update={"sections": sections})
    # the same net as generate's: what a person types goes out masked like a model's answer
    text = redact_text(Report.model_validate(report.model_dump()).model_dump_json(indent=2))
    write_atomic(run.report_path(persona.id), text + "\n")
    return render(workspace, run, [persona])
