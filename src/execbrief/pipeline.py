"""The stages wired to a workspace and a run folder; the CLI calls these, one per command."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from execbrief.bundle import (
    Collector,
    collect_bundle,
    collectors_for,
    installed_collectors,
)
from execbrief.config import LlmConfig, TransportName, Workspace
from execbrief.diff import diff_bundles
from execbrief.errors import ConfigError
from execbrief.generate import fit_to_budget, generate_reports, prompt_environment
from execbrief.llm import get_provider, resolve_provider_name
from execbrief.llm.base import BriefRequest, Provider
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
    StageTiming,
)
from execbrief.persona_files import discover_personas, select_personas
from execbrief.render import build_envelope_addresses, render_persona
from execbrief.review import write_index
from execbrief.runs import RunFolder, create_run, open_run, previous_run
from execbrief.secrets.mask import mask_fact
from execbrief.send import AfterAttempt, make_transport, send_run

if TYPE_CHECKING:
    from execbrief.llm.batch import BatchProgress


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
    """Start a new run: collect the bundle, write it and an empty manifest.

    With `aws_snapshot_out`, the AWS inventory read for this bundle is also saved there,
    so the file and the bundle always describe the same moment.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    chosen = (
        collectors
        if collectors is not None
        else collectors_for(workspace.config, installed_collectors())
    )
    if aws_snapshot_out is not None:
        chosen = _with_snapshot_out(workspace, chosen, aws_snapshot_out)
    bundle = collect_bundle(workspace, chosen, now, (hooks or Hooks()).collector_done)
    run = create_run(workspace.outputs, now)
    run.write_bundle(bundle)
    run.write_manifest(
        Manifest(
            run_id=run.run_id,
            created_at=now,
            portfolio=bundle.portfolio,
            workspace=str(workspace.root),
            bundle_digest=bundle.digest,
        )
    )
    _record_stage(run, "collect", started)
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
    bundle = run.read_bundle()
    llm = workspace.config.llm
    provider_name = resolve_provider_name(llm, os.environ if environ is None else environ)
    provider = get_provider(provider_name, llm)
    env = prompt_environment(workspace.root)
    notes = {p.id: note for p in personas} if note else {}
    counter = getattr(provider, "count_tokens", None)
    requests = fit_to_budget(env, bundle, personas, llm, notes, counter)
    if hooks.generation_started:
        hooks.generation_started(provider_name, len(requests))
    if batch:
        provider = _batched(provider_name, llm, requests, hooks)
    outcomes = generate_reports(
        run=run,
        bundle=bundle,
        requests=requests,
        provider=provider,
        provider_name=provider_name,
        concurrency=llm.concurrency,
        strict=strict,
        notes=notes,
        on_done=hooks.persona_done,
    )
    _record_stage(run, "generate", started)
    return provider_name, outcomes


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


def check_delivery(workspace: Workspace, personas: list[Persona]) -> None:
    """Refuse bad mail settings (no sender, no recipients, a malformed address) up front,
    before a run collects and writes anything."""
    settings = mail_settings(workspace)
    for persona in personas:
        build_envelope_addresses(persona, settings.mail, settings.default_to)


def render(
    workspace: Workspace,
    run: RunFolder,
    personas: list[Persona],
    now: datetime | None = None,
) -> list[str]:
    """Render every persona of `run` that has a report; returns the ids rendered."""
    started = time.perf_counter()
    settings = mail_settings(workspace)
    manifest = run.read_manifest()
    bundle = run.read_bundle()
    since = None
    if (earlier := previous_run(workspace.outputs, run)) is not None:
        since = diff_bundles(earlier.read_bundle(), bundle, earlier.run_id, run.run_id)
    rendered: list[str] = []
    for persona in personas:
        outcome = manifest.personas.get(persona.id)
        if outcome is None or not run.report_path(persona.id).is_file():
            continue
        render_persona(
            run,
            persona,
            manifest,
            settings.mail,
            now or datetime.now(UTC),
            since,
            bundle,
            settings.default_to,
        )
        rendered.append(persona.id)
    run.write_manifest(manifest)
    write_index(run, manifest, bundle)
    _record_stage(run, "render", started)
    return rendered


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
) -> list[DeliveryOutcome]:
    """Send the rendered messages of `run`, then refresh its review page."""
    mail = mail_settings(workspace).mail
    transport = make_transport(transport_name or mail.transport, run, mail)
    outcomes = send_run(
        run,
        persona_ids,
        transport,
        requested=requested,
        force=force,
        dry_run=dry_run,
        after_attempt=after_attempt,
    )
    if not dry_run:
        write_index(run, run.read_manifest(), run.read_bundle())
    return outcomes


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
