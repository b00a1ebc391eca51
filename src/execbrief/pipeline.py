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
    as_snapshot_writer,
    collect_bundle,
    collectors_for,
    installed_collectors,
)
from execbrief.config import LlmConfig, TransportName, Workspace
from execbrief.diff import diff_bundles
from execbrief.errors import ConfigError, RefusedError
from execbrief.files import write_atomic
from execbrief.generate import (
    GenerationContext,
    fit_to_budget,
    generate_reports,
    prompt_environment,
)
from execbrief.grounding import check_grounding, missing_sections
from execbrief.grounding.verify import plan_second_opinion, standing_opinions
from execbrief.llm import get_provider, resolve_provider_name
from execbrief.llm.base import BriefRequest, Provider
from execbrief.llm.pricing import BATCH_CACHE_TTL, DEFAULT_MODEL, CacheTtl
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
    DeliveryAction,
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
    LATEST,
    RunFolder,
    create_run,
    open_run,
    previous_run,
    publish_run,
)
from execbrief.secrets.mask import redact_text
from execbrief.send import AfterAttempt, Notice, send_run

if TYPE_CHECKING:
    from execbrief.archive import ArchiveReport
    from execbrief.batches import BatchSubmission
    from execbrief.llm.batch import BatchProgress, BatchRunner
    from execbrief.mail.events import EventsReport
    from execbrief.schedule import PolicyDecision


# The entry-point name of the collector `collect --aws-snapshot-out` asks for a capability.
AWS_COLLECTOR = "aws_inventory"


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
    cache: bool = True,
) -> tuple[RunFolder, Bundle]:
    """Start a new run: collect the bundle, add its analysis facts, write it and an empty
    manifest. `cache=False` collects everything afresh (no stored code-audit results).

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
    bundle = collect_bundle(workspace, chosen, now, (hooks or Hooks()).collector_done, cache)
    bundle = analyze(bundle)  # derived facts, so generate cites figures instead of computing them
    run = create_run(workspace.outputs, now, publish=False)
    run.write_bundle(bundle)
    manifest = Manifest(
        run_id=run.run_id,
        created_at=now,
        portfolio=bundle.portfolio,
        workspace=str(workspace.root),
        bundle_digest=bundle.digest,
        ledger=workspace.config.ledger_ref(),
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
        as_snapshot_writer(c, "--aws-snapshot-out").with_snapshot_out(path.resolve())
        if c.name == AWS_COLLECTOR
        else c
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
    second_opinion, verify_note = plan_second_opinion(
        llm.verify, llm.verify_model, provider, provider_name, bundle
    )
    verify_plan = second_opinion.price_plan() if second_opinion else None
    # Imported here: it loads the model client's SDK, which `audit` and `collect` never need.
    from execbrief.llm.ceiling import check_ceiling

    check_ceiling(provider, requests, llm, batch=batch, verify=verify_plan)
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
        second_opinion=second_opinion,
    )
    return provider_name, _generate_and_record(ctx, requests, batch, started, verify_note)


def _generate_and_record(
    ctx: GenerationContext,
    requests: list[BriefRequest],
    batch: bool,
    started: float,
    verify_note: str | None = None,
) -> list[PersonaRun]:
    run = ctx.run
    outcomes = generate_reports(ctx, requests)
    if verify_note:
        manifest = run.read_manifest()
        if verify_note not in manifest.notes:
            manifest.notes.append(verify_note)
            run.write_manifest(manifest)
    _record_cache_ttl(run, ctx.provider_name, outcomes, batch)
    written = datetime.now(UTC)
    for outcome in outcomes:
        # a persona that failed before answering keeps whatever report it had before
        answered = outcome.status is PersonaStatus.OK or bool(outcome.warnings)
        if answered and run.report_path(outcome.persona).is_file():
            record_generated(run, outcome, written)
    _record_stage(run, "generate", started)
    return outcomes


# Providers whose requests carry the cache breakpoint (llm/anthropic_api.shape_request).
_CACHING_PROVIDERS = ("anthropic", "bedrock")


def _record_cache_ttl(
    run: RunFolder, provider_name: str, outcomes: list[PersonaRun], batch: bool
) -> None:
    """Note in the manifest which cache time-to-live the personas' requests asked for."""
    if provider_name not in _CACHING_PROVIDERS:
        return
    ttl: CacheTtl = BATCH_CACHE_TTL if batch else "5m"
    manifest = run.read_manifest()
    for outcome in outcomes:
        outcome.cache_ttl = ttl
        if (recorded := manifest.personas.get(outcome.persona)) is not None:
            recorded.cache_ttl = ttl
    run.write_manifest(manifest)


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


def check_batch_provider(workspace: Workspace, environ: Mapping[str, str] | None = None) -> None:
    """Refuse --batch before anything is collected when the provider has no batches."""
    llm = workspace.config.llm
    _require_batch_provider(resolve_provider_name(llm, os.environ if environ is None else environ))


def _require_batch_provider(provider_name: str) -> None:
    if provider_name != "anthropic":
        raise ConfigError(
            f"--batch needs the anthropic provider, not {provider_name!r}",
            field="llm.provider",
            hint="set ANTHROPIC_API_KEY (or llm.provider: anthropic), or drop --batch",
        )


def _batched(
    provider_name: str, llm: LlmConfig, requests: list[BriefRequest], hooks: Hooks
) -> Provider:
    _require_batch_provider(provider_name)
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
    templates, provider settings and a send ledger table that cannot be read up front,
    before a run collects and writes anything; and `run --send` through a transport that
    needs approval, since drafts not yet written cannot have been approved."""
    settings = mail_settings(workspace)
    addresses_for(workspace, personas, settings)
    check_workspace(workspace, personas, provider=True)
    if (ref := workspace.config.ledger_ref()) is not None:
        from execbrief.mail.dynamodb_ledger import DynamoLedger

        DynamoLedger(ref, run_id="").check()
    transport = settings.mail.transport
    # under `approval: {auto: ...}` the run approves its own changed, clean drafts, and
    # `run --send` sends those alone (changed_only and approved_only)
    if sending and transport != "file" and workspace.config.approval.manual:
        raise RefusedError(
            f"`run --send` cannot send through {transport}: its drafts need approval first",
            hint="run `execbrief run` (drafts), then `execbrief review`, `execbrief approve` "
            "and `execbrief send`; or, for unattended runs, set "
            "`approval: {auto: changed_without_warnings}` in execbrief.yaml",
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
        outcome.warnings = (
            check_grounding(report, bundle, persona)
            + missing_sections(report, persona)
            + standing_opinions(outcome.warnings, report)
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
    changed_only: bool = False,
    approved_only: bool = False,
) -> list[DeliveryOutcome]:
    """Send the rendered messages of `run`, then refresh its review page.

    With `changed_only`, personas whose evidence did not change since their last sent
    brief are skipped; with `approved_only`, so are those not approved (through a
    transport that needs approval) instead of refusing the send. Unless `force`,
    recipients that hard-bounced or complained are left out (`withheld_recipients`).
    """
    settings = mail_settings(workspace)
    kept = run.read_manifest().ledger
    if kept != workspace.config.ledger_ref() and notice is not None:
        notice(
            f"run {run.run_id} records its sends in "
            + (f"DynamoDB table {kept.table}" if kept else "its send-ledger.jsonl")
            + ", the ledger it was collected with; `ledger:` in execbrief.yaml applies "
            "to runs collected after it changed"
        )
    transport = get_transport(transport_name or settings.mail.transport, settings, run.outbox)
    order = {p: i for i, p in enumerate(persona_ids)}
    held: list[DeliveryOutcome] = []
    if changed_only:
        persona_ids, held = changed_since_sent(workspace, run, persona_ids)
    if approved_only and transport.delivers and test_to is None:
        persona_ids, unapproved_ones = unapproved(run, persona_ids)
        held += unapproved_ones
    withheld = {} if force or test_to is not None else withheld_recipients(workspace)
    outcomes = held + send_run(
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
        withheld=withheld,
    )
    if not dry_run:
        write_index(run, run.read_manifest(), run.read_bundle())
    return sorted(outcomes, key=lambda o: order.get(o.persona, len(order)))


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


def archive_run(workspace: Workspace, run: RunFolder) -> ArchiveReport | None:
    """Upload the run's folder to the workspace's `archive:`; None when there is none."""
    if workspace.config.archive is None:
        return None
    from execbrief.archive import upload_run

    return upload_run(workspace.config.archive, run)


def fetch_archived_run(workspace: Workspace, url: str) -> RunFolder:
    """An archived run (s3://bucket/prefix/<run-id>) in its cache folder under outputs."""
    from execbrief.archive import fetch_run

    return fetch_run(url, workspace.outputs)


def _run_personas(workspace: Workspace, run: RunFolder, persona_ids: list[str]) -> list[Persona]:
    return personas_for(workspace, run_personas_in(run, persona_ids))


def apply_approval_policy(
    workspace: Workspace, run: RunFolder, persona_ids: list[str], now: datetime | None = None
) -> list[PolicyDecision] | None:
    """Approve what `approval: {auto: ...}` allows; None under `approval: manual`."""
    from execbrief.schedule import auto_approve, since_last_sent

    policy = workspace.config.approval
    if policy.manual:
        return None
    catalogue = discover_personas(workspace.root)
    for persona_id in policy.personas or []:
        if persona_id not in catalogue:
            raise ConfigError(
                f"approval.personas names {persona_id!r}, which is no persona here",
                path=workspace.config_path,
                field="approval.personas",
                hint="personas available: " + ", ".join(sorted(catalogue)),
            )
    personas = _run_personas(workspace, run, persona_ids)
    since = since_last_sent(workspace.outputs, run, personas)
    decisions = auto_approve(
        run, run.read_manifest(), personas, since, policy, now or datetime.now(UTC)
    )
    write_index(run, run.read_manifest(), run.read_bundle())
    return decisions


def changed_since_sent(
    workspace: Workspace, run: RunFolder, persona_ids: list[str]
) -> tuple[list[str], list[DeliveryOutcome]]:
    """For `send --changed-only`: the personas whose evidence changed since their last
    sent brief, and a skipped outcome for each of the others."""
    from execbrief.schedule import since_last_sent

    since = since_last_sent(workspace.outputs, run, _run_personas(workspace, run, persona_ids))
    changed = [p for p in persona_ids if since[p].changed]
    skipped = [
        DeliveryOutcome(persona=p, action=DeliveryAction.SKIPPED, detail=since[p].describe())
        for p in persona_ids
        if not since[p].changed
    ]
    return changed, skipped


def unapproved(run: RunFolder, persona_ids: list[str]) -> tuple[list[str], list[DeliveryOutcome]]:
    """For `send --approved-only`: the personas whose current revision is approved (and
    unchanged since), and a skipped outcome saying why for each of the others."""
    from execbrief.approval import check_approved

    approved: list[str] = []
    skipped: list[DeliveryOutcome] = []
    for persona in persona_ids:
        try:
            check_approved(run, persona, read_history(run, persona))
        except RefusedError as exc:
            detail = exc.message.replace("; nothing was sent", "")
            skipped.append(
                DeliveryOutcome(persona=persona, action=DeliveryAction.SKIPPED, detail=detail)
            )
            continue
        approved.append(persona)
    return approved, skipped


def withheld_recipients(workspace: Workspace) -> dict[str, str]:
    """Address -> why the send preflight leaves it out: its latest delivery news in any run
    of this workspace is a hard bounce or a complaint (execbrief events)."""
    from execbrief.mail.events import bounced_recipients, describe_event

    return {
        address: f"{describe_event(event)} at {event.ts:%Y-%m-%d %H:%M}Z in run {event.run}"
        for address, event in bounced_recipients(workspace).items()
    }


# --- a batch across processes: submit, then status and fetch later (batches.py) ---------


@dataclass(frozen=True)
class PreparedBatch:
    """One run's persona requests, ready to go into a Message Batch."""

    workspace: Workspace
    run: RunFolder
    requests: list[BriefRequest]
    strict: bool = False


def prepare_batch(
    workspace: Workspace,
    run: RunFolder,
    personas: list[Persona],
    *,
    strict: bool = False,
    environ: Mapping[str, str] | None = None,
) -> PreparedBatch:
    """Build every persona's request for `run` and write them to the run folder, refusing
    (before anything is paid) a provider without batches or a run above the ceiling."""
    from execbrief.batches import write_requests

    check_workspace(workspace, personas)
    llm = workspace.config.llm
    provider_name = resolve_provider_name(llm, os.environ if environ is None else environ)
    _require_batch_provider(provider_name)
    provider = get_provider(provider_name, llm)
    env = prompt_environment(workspace.root)
    requests = fit_to_budget(env, run.read_bundle(), personas, llm, {}, provider.count_tokens)
    from execbrief.llm.ceiling import check_ceiling

    check_ceiling(provider, requests, llm, batch=True)
    # each request names its model, so one batch can carry workspaces of different models
    default_model = llm.model or DEFAULT_MODEL
    requests = [r.model_copy(update={"model": r.model or default_model}) for r in requests]
    write_requests(run, requests)
    manifest = run.read_manifest()
    for request in requests:
        manifest.personas.setdefault(
            request.persona.id, PersonaRun(persona=request.persona.id, title=request.persona.title)
        )
    run.write_manifest(manifest)
    return PreparedBatch(workspace, run, requests, strict)


def prepared_batch(workspace: Workspace, run: RunFolder, *, strict: bool) -> PreparedBatch:
    """A run's requests as prepare_batch wrote them (another process prepared them)."""
    from execbrief.batches import read_requests

    return PreparedBatch(workspace, run, read_requests(run), strict)


def submit_batch(prepared: list[PreparedBatch], now: datetime | None = None) -> str:
    """Submit every prepared run's requests as ONE Message Batch; each run's batch.json
    records the batch id and its own custom_ids. Returns the batch id."""
    from execbrief.batches import BatchSubmission, custom_id, write_submission
    from execbrief.llm.batch import BatchRunner

    if not prepared:
        raise ConfigError("nothing to submit: no workspace prepared a request")
    shared = len(prepared) > 1
    ids: list[list[str]] = [
        [custom_id(index if shared else None, r.persona.id) for r in item.requests]
        for index, item in enumerate(prepared)
    ]
    runner = BatchRunner(prepared[0].workspace.config.llm)
    batch_id = runner.submit(
        [r for item in prepared for r in item.requests], [i for group in ids for i in group]
    )
    submitted = now or datetime.now(UTC)
    for item, group in zip(prepared, ids, strict=True):
        submission = BatchSubmission(
            batch_id=batch_id,
            submitted_at=submitted,
            custom_ids={cid: r.persona.id for cid, r in zip(group, item.requests, strict=True)},
            strict=item.strict,
        )
        write_submission(item.run, submission)
    return batch_id


def batch_run(workspace: Workspace, run: str) -> RunFolder:
    """The run `batch status|fetch` work on: `latest` means the newest run with a batch."""
    from execbrief.batches import newest_submitted

    if run != LATEST:
        return resolve_run(workspace, run)
    found = newest_submitted(workspace.outputs)
    if found is None:
        raise ConfigError(
            "no run of this workspace has a submitted batch",
            path=workspace.outputs,
            hint="submit one with `execbrief run --batch --no-wait`",
        )
    return found


@dataclass(frozen=True)
class BatchState:
    """Where one run's batch stands."""

    run: RunFolder
    submission: BatchSubmission
    progress: BatchProgress | None  # None once fetched: nothing left to ask the API


def batch_status(workspace: Workspace, run: RunFolder) -> BatchState:
    """Ask the API how far the run's batch has got (nothing once it was fetched)."""
    from execbrief.batches import read_submission
    from execbrief.llm.batch import BatchRunner

    submission = read_submission(run)
    if submission.fetched_at is not None:
        return BatchState(run, submission, None)
    runner = BatchRunner(workspace.config.llm)
    return BatchState(run, submission, _known_batch(runner, submission.batch_id))


def _known_batch(runner: BatchRunner, batch_id: str) -> BatchProgress:
    from execbrief.errors import ProviderError

    try:
        return runner.status(batch_id)
    except ProviderError as exc:
        if exc.status == 404:
            raise ConfigError(
                f"batch {batch_id} is not known to the API: {exc.message}",
                field="batch.json",
                hint="a batch is kept 29 days, and only for the API key that made it; "
                "submit again: `execbrief run --batch --no-wait`",
            ) from exc
        raise


def wait_batch(
    workspace: Workspace, batch_id: str, on_progress: Callable[[BatchProgress], None] | None
) -> BatchProgress:
    """Poll the batch every llm.batch_poll_seconds until it has ended."""
    from execbrief.llm.batch import BatchRunner

    llm = workspace.config.llm
    runner = BatchRunner(llm, poll_seconds=llm.batch_poll_seconds)
    return runner.wait(batch_id, on_progress)


def download_batch(workspace: Workspace, runs: list[RunFolder], batch_id: str) -> None:
    """Fetch an ended batch's results once and write each run's share into its folder."""
    from execbrief.batches import read_submission, write_results
    from execbrief.llm.batch import BatchRunner

    lines = BatchRunner(workspace.config.llm).download(batch_id)
    for run in runs:
        mine = read_submission(run).custom_ids
        write_results(run, [line for line in lines if line.custom_id in mine])


def finish_batch(
    workspace: Workspace, run: RunFolder, hooks: Hooks | None = None
) -> list[PersonaRun]:
    """Generate (from the downloaded results) and render the run's personas, and mark
    the batch fetched; re-asks after an invalid answer go to the live API."""
    from execbrief.batches import read_requests, read_results, read_submission, write_submission
    from execbrief.errors import ProviderError
    from execbrief.llm.batch import BatchAnswers, BatchOutcome, BatchRunner, outcome_of

    started = time.perf_counter()
    hooks = hooks or Hooks()
    submission = read_submission(run)
    requests = read_requests(run)
    results = read_results(run)
    llm = workspace.config.llm
    by_persona = {persona: cid for cid, persona in submission.custom_ids.items()}
    answers: dict[str, BatchOutcome] = {}
    for request in requests:
        persona = request.persona.id
        line = results.get(by_persona.get(persona, ""))
        model = request.model or llm.model or DEFAULT_MODEL
        answers[persona] = (
            outcome_of(line, model, llm.prices)
            if line is not None
            else ProviderError(
                f"batch {submission.batch_id} returned no result for {persona}",
                provider="anthropic",
            )
        )
    live = BatchRunner(llm).provider
    bundle = run.read_bundle()
    second_opinion, verify_note = plan_second_opinion(
        llm.verify, llm.verify_model, live, "anthropic", bundle
    )
    provider = BatchAnswers(live, answers)
    ctx = GenerationContext(
        run=run,
        bundle=bundle,
        provider=provider,
        provider_name="anthropic",
        concurrency=llm.concurrency,
        strict=submission.strict,
        notes=submission.notes,
        on_done=hooks.persona_done,
        second_opinion=second_opinion,
    )
    outcomes = _generate_and_record(ctx, requests, True, started, verify_note)
    render(workspace, run, [r.persona for r in requests])
    write_submission(run, submission.model_copy(update={"fetched_at": datetime.now(UTC)}))
    return outcomes


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
