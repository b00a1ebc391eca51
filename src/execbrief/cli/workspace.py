"""The commands that work on a workspace: its runs, briefs, approvals, sends and batches."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from execbrief import pipeline
from execbrief.approval import approver
from execbrief.cli.app import (
    EXIT_FAILED,
    EXIT_OK,
    app,
    batch_app,
    err,
    out,
    personas_app,
    state,
)
from execbrief.config import TransportName, Workspace, load_workspace
from execbrief.errors import ConfigError, ExecbriefError, RefusedError
from execbrief.models import (
    CollectorRun,
    DeliveryAction,
    DeliveryOutcome,
    GroundingWarning,
    PersonaRun,
    PersonaStatus,
)
from execbrief.persona_files import discover_personas, validate_files
from execbrief.review import review_rows
from execbrief.revisions import require_drafts
from execbrief.runs import LATEST, RunFolder
from execbrief.scaffold import review_steps, scaffold_workspace
from execbrief.send import describe_message, load_message
from execbrief.tables import diff_table, fleet_table, personas_table, run_table

if TYPE_CHECKING:
    from execbrief.fleet import WorkspaceOutcome
    from execbrief.llm.batch import BatchProgress


PersonaOpt = Annotated[
    list[str] | None,
    typer.Option("--persona", "-p", help="Only this persona (repeat for more). Default: all."),
]
RunOpt = Annotated[str, typer.Option("--run", help="Run id, or `latest`.")]
ReviewRunOpt = Annotated[
    str,
    typer.Option(
        "--run", help="Run id, `latest`, or an archived run: s3://bucket/prefix/<run-id>."
    ),
]
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder holding execbrief.yaml."),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Print the run's manifest and review rows as JSON on stdout only."),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="A grounding warning fails its persona (exit 1).")
]


def _workspace(override: Path | None = None) -> Workspace:
    return load_workspace(override or state.workspace_dir)


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr; yields the function that advances it."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


# --- stages ---------------------------------------------------------------------------


def _collect(
    workspace: Workspace, aws_snapshot_out: Path | None = None, cache: bool = True
) -> RunFolder:
    done: list[CollectorRun] = []
    with _progress("Collecting evidence", None) as advance:

        def collector_done(name: str, run: CollectorRun) -> None:
            done.append(run)
            advance()

        hooks = pipeline.Hooks(collector_done=collector_done)
        run, bundle = pipeline.collect(
            workspace, hooks, aws_snapshot_out=aws_snapshot_out, cache=cache
        )
    for item in done:
        mark = "[green]ok[/]" if item.ok else "[red]failed[/]"
        err.print(
            f"  collector {item.collector}: {mark}, {item.facts} facts, {item.gaps} gaps, "
            f"{item.seconds:.2f}s"
        )
    err.print(
        f"[bold]Collected[/] {len(bundle.facts)} facts and {len(bundle.gaps)} gaps "
        f"into run [cyan]{run.run_id}[/]"
    )
    return run


def _generate(
    workspace: Workspace,
    run: RunFolder,
    persona_ids: list[str],
    strict: bool,
    note: str | None = None,
    batch: bool = False,
    resume: bool = False,
) -> list[PersonaRun]:
    personas = pipeline.personas_for(workspace, persona_ids)
    if resume:
        todo = pipeline.pending_personas(run, personas)
        if len(todo) < len(personas):
            err.print(
                f"Keeping {len(personas) - len(todo)} valid reports, generating the other "
                f"{len(todo)} (--all regenerates every persona)"
            )
        personas = todo
    with _progress("Writing briefs", len(personas)) as advance:
        hooks = pipeline.Hooks(
            generation_started=lambda name, n: err.print(
                f"Generating {n} briefs with provider [bold]{name}[/]"
                + (
                    " (no model: briefs are built from the facts alone)"
                    if name == "offline"
                    else ""
                )
            ),
            persona_done=lambda outcome: advance(),
            batch_progress=lambda done, total: err.print(
                f"  batch: {done}/{total} requests finished"
            ),
        )
        _, outcomes = pipeline.generate(
            workspace, run, personas, hooks, strict=strict, note=note, batch=batch
        )
    for outcome in outcomes:
        if outcome.status is PersonaStatus.FAILED:
            err.print(f"[red]  {outcome.persona} failed:[/] {outcome.error}")
    return outcomes


def _render(workspace: Workspace, run: RunFolder, persona_ids: list[str]) -> list[str]:
    personas = pipeline.personas_for(workspace, persona_ids)
    rendered = pipeline.render(workspace, run, personas)
    err.print(f"[bold]Rendered[/] {len(rendered)} drafts: {run.path}/index.html")
    return rendered


def _send(
    workspace: Workspace,
    run: RunFolder,
    persona_ids: list[str],
    *,
    requested: bool,
    force: bool = False,
    dry_run: bool = False,
    transport: TransportName | None = None,
    test_to: str | None = None,
    changed_only: bool = False,
    approved_only: bool = False,
) -> list[DeliveryOutcome]:
    personas = pipeline.run_personas_in(run, persona_ids)
    require_drafts(workspace.outputs, run, personas, "message.eml")
    outcomes = pipeline.send(
        workspace,
        run,
        personas,
        requested=requested,
        transport_name=transport,
        force=force,
        dry_run=dry_run,
        test_to=test_to,
        notice=lambda text: err.print(f"[yellow]note:[/] {escape(text)}"),
        changed_only=changed_only,
        approved_only=approved_only,
    )
    sent = sum(o.action is DeliveryAction.SENT for o in outcomes)
    skipped = [o for o in outcomes if o.action is DeliveryAction.SKIPPED]
    for outcome in outcomes:
        if outcome.action is DeliveryAction.FAILED:
            err.print(f"[red]  {outcome.persona} not sent:[/] {escape(outcome.detail)}")
        elif outcome.action is DeliveryAction.IN_DOUBT:
            err.print(f"[red]  {outcome.persona} in doubt:[/] {escape(outcome.detail)}")
        elif outcome.action is DeliveryAction.WOULD_SEND:
            err.print(f"  {outcome.persona}: {escape(outcome.detail)}")
        elif outcome.action is DeliveryAction.SKIPPED and (changed_only or approved_only):
            err.print(f"  {outcome.persona} skipped: {escape(outcome.detail)}")
    if dry_run:
        err.print(f"[bold]Dry run:[/] would send {len(outcomes) - len(skipped)} messages")
    elif (
        sent == 0
        and skipped
        and all(o.action is DeliveryAction.SKIPPED for o in outcomes)
        and not (changed_only or approved_only)
    ):
        unrendered = [o.persona for o in skipped if not pipeline.is_rendered(run, o.persona)]
        if unrendered:
            # e.g. after a killed generate: nothing was sent, and nothing was ready to send
            err.print(
                f"Nothing sent: {len(unrendered)} personas have no rendered message "
                f"({', '.join(unrendered)}); run `execbrief generate` to finish the run."
            )
        else:
            err.print("Nothing left to send: every current revision of this run was already sent.")
    else:
        err.print(
            f"[bold]Sent[/] {sent} messages{' (test)' if test_to else ''}, {len(skipped)} skipped"
        )
    return outcomes


def _apply_policy(workspace: Workspace, run: RunFolder, persona_ids: list[str]) -> None:
    """Under `approval: {auto: ...}`, approve what the policy allows and say why not the rest."""
    decisions = pipeline.apply_approval_policy(workspace, run, persona_ids)
    for decision in decisions or []:
        if decision.approved:
            err.print(
                f"[green]Approved[/] {decision.persona} rev {decision.rev} as {decision.by}: "
                f"{escape(decision.reason)}"
            )
        else:
            err.print(f"  {decision.persona} left for review: {escape(decision.reason)}")


def _summary(run: RunFolder, as_json: bool = False) -> None:
    manifest = run.read_manifest()
    if as_json:
        document = {
            "run": run.run_id,
            "path": str(run.path),
            "manifest": manifest.model_dump(mode="json", by_alias=True),
            "review": [row.model_dump(mode="json") for row in review_rows(run, manifest)],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    out.print(run_table(run.run_id, review_rows(run, manifest)))
    for note in manifest.notes:
        out.print(f"[yellow]note:[/] {escape(note)}")
    out.print(f"Drafts: {run.path}  (review page: {run.path / 'index.html'})")


def _archive(workspace: Workspace, run: RunFolder) -> int:
    """Upload the finished run to `archive:` (if set); a failure is one line and exit 1."""
    report = pipeline.archive_run(workspace, run)
    if report is None:
        return EXIT_OK
    if report.error:
        err.print(f"[red]archive:[/] {escape(report.error)}; the run is kept in {run.path}")
        return EXIT_FAILED
    err.print(f"Archived {report.files} files to {report.url}")
    return EXIT_OK


def _exit_code(outcomes: list[PersonaRun], deliveries: list[DeliveryOutcome]) -> int:
    failed = any(o.status is PersonaStatus.FAILED for o in outcomes) or any(
        d.action in (DeliveryAction.FAILED, DeliveryAction.IN_DOUBT) for d in deliveries
    )
    return EXIT_FAILED if failed else EXIT_OK


@app.command()
def run(
    workspace: WorkspaceOpt = None,
    persona: PersonaOpt = None,
    send: Annotated[
        bool,
        typer.Option(
            "--send/--no-send",
            help="Also send the drafts: through the file transport, or, under an automatic"
            " approval policy, the auto-approved changed ones (as send --changed-only"
            " --approved-only). Default: stop at the drafts.",
        ),
    ] = False,
    strict: StrictOpt = False,
    as_json: JsonOpt = False,
    workspaces: Annotated[
        str | None,
        typer.Option(
            "--workspaces",
            help="Many workspaces: a quoted glob of folders ('clients/*') or a file listing"
            " one a line; collect, generate and render each (no send), one summary table.",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, max=64, help="With --workspaces: how many at once.")
    ] = 4,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Through the Message Batches API (half the price); with --workspaces, every"
            " workspace's personas in one batch.",
        ),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="With --batch: submit and exit; `execbrief batch fetch` finishes the run.",
        ),
    ] = False,
) -> int:
    """Collect, generate and render drafts for review; with --send, send them too."""
    if no_wait and not batch:
        raise ConfigError("--no-wait goes with --batch", hint="execbrief run --batch --no-wait")
    if no_wait and send:
        raise ConfigError(
            "--send cannot follow --no-wait: the drafts are written by `execbrief batch fetch`",
            hint="send after the fetch: `execbrief batch fetch`, then `execbrief send`",
        )
    if workspaces is not None:
        if workspace is not None:
            raise ConfigError("give --workspace or --workspaces, not both")
        if batch:
            return _run_fleet_batch(workspaces, jobs, persona or [], strict, as_json, no_wait)
        return _run_fleet(workspaces, jobs, persona or [], strict, as_json)
    ws = _workspace(workspace)
    persona_ids = persona or []
    # refuse unknown personas and unusable mail settings before collecting anything
    pipeline.check_delivery(ws, pipeline.personas_for(ws, persona_ids), sending=send)
    if batch:
        pipeline.check_batch_provider(ws)
    folder = _collect(ws)
    if no_wait:
        return _submit(ws, folder, persona_ids, strict)
    outcomes = _generate(ws, folder, persona_ids, strict, batch=batch)
    _render(ws, folder, persona_ids)
    _apply_policy(ws, folder, persona_ids)
    deliveries: list[DeliveryOutcome] = []
    if send:
        ok = [o.persona for o in outcomes if o.status is PersonaStatus.OK]
        if ok:
            auto = not ws.config.approval.manual
            deliveries = _send(
                ws, folder, ok, requested=False, changed_only=auto, approved_only=auto
            )
        else:
            err.print("No persona passed; nothing was sent.")
    else:
        err.print(f"Drafts written, nothing sent. Next: {' -> '.join(review_steps(ws.root)[1:])}")
    _summary(folder, as_json)
    return max(_exit_code(outcomes, deliveries), _archive(ws, folder))


def _run_fleet(spec: str, jobs: int, persona_ids: list[str], strict: bool, as_json: bool) -> int:
    from execbrief.fleet import FleetStatus, find_workspaces, run_fleet

    roots = find_workspaces(spec)
    err.print(f"Running {len(roots)} workspaces, {min(jobs, len(roots))} at a time (no send)")
    with _progress("Workspaces", len(roots)) as advance:
        outcomes = run_fleet(
            roots, jobs=jobs, persona_ids=persona_ids, strict=strict, on_done=lambda _: advance()
        )
    _fleet_report(outcomes, as_json)
    return EXIT_FAILED if any(o.status is FleetStatus.FAILED for o in outcomes) else EXIT_OK


def _submit(workspace: Workspace, run: RunFolder, persona_ids: list[str], strict: bool) -> int:
    personas = pipeline.personas_for(workspace, persona_ids)
    prepared = pipeline.prepare_batch(workspace, run, personas, strict=strict)
    batch_id = pipeline.submit_batch([prepared])
    err.print(
        f"[bold]Submitted[/] batch [cyan]{escape(batch_id)}[/] with {len(prepared.requests)} "
        f"requests for run {run.run_id}; nothing is rendered yet."
    )
    where = f"-w {workspace.root}"
    err.print(
        f"Next: `execbrief batch status {where}` shows its progress; "
        f"`execbrief batch fetch {where}` writes and renders the briefs once it has ended."
    )
    return EXIT_OK


def _run_fleet_batch(
    spec: str, jobs: int, persona_ids: list[str], strict: bool, as_json: bool, no_wait: bool
) -> int:
    from execbrief.fleet import FleetStatus, find_workspaces, submit_fleet

    roots = find_workspaces(spec)
    err.print(f"Preparing {len(roots)} workspaces, {min(jobs, len(roots))} at a time")
    with _progress("Workspaces", len(roots)) as advance:
        outcomes, batch_id = submit_fleet(
            roots, jobs=jobs, persona_ids=persona_ids, strict=strict, on_done=lambda _: advance()
        )
    if batch_id is not None:
        prepared = sum(o.run_id is not None and o.error is None for o in outcomes)
        err.print(f"[bold]Submitted[/] batch [cyan]{escape(batch_id)}[/] for {prepared} workspaces")
    if batch_id is None or no_wait:
        _fleet_report(outcomes, as_json)
        if batch_id is not None:
            err.print(f"Next: `execbrief batch fetch --workspaces '{spec}'` once it has ended.")
        return EXIT_FAILED if any(o.status is FleetStatus.FAILED for o in outcomes) else EXIT_OK
    failed_early = [o for o in outcomes if o.status is FleetStatus.FAILED]
    return _fleet_fetch(spec, jobs, wait=True, as_json=as_json, earlier=failed_early)


def _fleet_report(outcomes: list[WorkspaceOutcome], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps([o.model_dump(mode="json") for o in outcomes], indent=2) + "\n")
        return
    out.print(fleet_table(outcomes))
    for outcome in outcomes:
        if outcome.error:
            err.print(f"[red]{escape(outcome.workspace)}:[/] {escape(outcome.error)}")


def _fleet_fetch(
    spec: str,
    jobs: int,
    *,
    wait: bool,
    as_json: bool,
    earlier: list[WorkspaceOutcome] | None = None,
) -> int:
    from execbrief.fleet import FleetStatus, fetch_fleet, find_workspaces

    roots = find_workspaces(spec)
    skip = {Path(o.workspace) for o in earlier or []}
    todo = [r for r in roots if r not in skip]

    def progress(state: BatchProgress) -> None:
        err.print(f"  batch {state.batch_id}: {state.finished}/{state.total} requests finished")

    with _progress("Workspaces", len(todo)) as advance:
        fetched = fetch_fleet(
            todo, jobs=jobs, wait=wait, on_progress=progress, on_done=lambda _: advance()
        )
    by_root = {Path(o.workspace): o for o in [*(earlier or []), *fetched]}
    outcomes = [by_root[r] for r in roots if r in by_root]
    _fleet_report(outcomes, as_json)
    pending = [o for o in outcomes if o.status is FleetStatus.PENDING]
    if pending:
        err.print(
            f"{len(pending)} workspaces wait for their batch; nothing fetched for them: "
            "run `execbrief batch fetch` again later (exit 1)"
        )
    return EXIT_OK if all(o.status is FleetStatus.OK for o in outcomes) else EXIT_FAILED


@app.command()
def collect(
    workspace: WorkspaceOpt = None,
    aws_snapshot_out: Annotated[
        Path | None,
        typer.Option("--aws-snapshot-out", help="Also write the raw AWS inventory to FILE."),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Audit every repository afresh; skip the result cache."),
    ] = False,
) -> int:
    """Start a new run: gather evidence into bundle.json and move `latest` to it."""
    ws = _workspace(workspace)
    _collect(ws, aws_snapshot_out, cache=not no_cache)
    if aws_snapshot_out is not None:
        err.print(f"AWS inventory snapshot written to {aws_snapshot_out}")
    return EXIT_OK


@app.command()
def generate(
    workspace: WorkspaceOpt = None,
    persona: PersonaOpt = None,
    run: RunOpt = LATEST,
    note: Annotated[
        str | None, typer.Option("--note", help="An analyst's note added to the prompt.")
    ] = None,
    new_run: Annotated[
        bool, typer.Option("--new-run", help="Collect into a new run first.")
    ] = False,
    strict: StrictOpt = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch", help="Use the Message Batches API: half the price, minutes not seconds."
        ),
    ] = False,
    regenerate_all: Annotated[
        bool, typer.Option("--all", help="Regenerate personas that already have a valid report.")
    ] = False,
    as_json: JsonOpt = False,
) -> int:
    """Write reports for the run's bundle; other personas' reports are left untouched.

    Without --persona, --note or --all it resumes: personas whose report is valid are kept.
    """
    ws = _workspace(workspace)
    folder = _collect(ws) if new_run else pipeline.resolve_run(ws, run)
    resume = not (persona or note or regenerate_all)
    outcomes = _generate(ws, folder, persona or [], strict, note, batch, resume)
    unrendered = [
        p for p in pipeline.run_personas_in(folder, []) if not pipeline.is_rendered(folder, p)
    ]
    if to_render := list(dict.fromkeys([o.persona for o in outcomes] + unrendered)):
        _render(ws, folder, to_render)
    _summary(folder, as_json)
    return max(_exit_code(outcomes, []), _archive(ws, folder))


@app.command()
def render(workspace: WorkspaceOpt = None, persona: PersonaOpt = None, run: RunOpt = LATEST) -> int:
    """Re-render drafts and message.eml from report.json (e.g. after editing it by hand)."""
    ws = _workspace(workspace)
    folder = pipeline.resolve_run(ws, run)
    personas = pipeline.run_personas_in(folder, persona or [])
    require_drafts(ws.outputs, folder, personas, "report.json")
    _render(ws, folder, personas)
    return _archive(ws, folder)


@app.command()
def send(
    workspace: WorkspaceOpt = None,
    persona: PersonaOpt = None,
    run: RunOpt = LATEST,
    force: Annotated[
        bool,
        typer.Option("--force", help="With --persona: send again, or release an in-doubt send."),
    ] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Test send to this one address: [TEST] subject, no sent state."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent; send nothing.")
    ] = False,
    transport: Annotated[
        str | None, typer.Option("--transport", help="ses, smtp or file, for this send only.")
    ] = None,
    as_json: JsonOpt = False,
    changed_only: Annotated[
        bool,
        typer.Option(
            "--changed-only",
            help="Skip personas whose evidence did not change since their last sent brief.",
        ),
    ] = False,
    approved_only: Annotated[
        bool,
        typer.Option(
            "--approved-only",
            help="Skip (and list) unapproved drafts instead of refusing the whole send.",
        ),
    ] = False,
) -> int:
    """Send each persona's current revision at most once; ses and smtp send approved ones.

    Recipients that hard-bounced or complained (execbrief events) are left out unless
    --force.
    """
    if transport is not None and transport not in ("ses", "smtp", "file"):
        raise ConfigError(f"unknown transport {transport!r}", hint="one of: ses, smtp, file")
    ws = _workspace(workspace)
    folder = pipeline.resolve_run(ws, run)
    deliveries = _send(
        ws,
        folder,
        persona or [],
        requested=bool(persona),
        force=force,
        dry_run=dry_run,
        transport=cast(TransportName | None, transport),  # checked against the names above
        test_to=to,
        changed_only=changed_only,
        approved_only=approved_only,
    )
    _summary(folder, as_json)
    return max(_exit_code([], deliveries), EXIT_OK if dry_run else _archive(ws, folder))


@app.command()
def approve(
    workspace: WorkspaceOpt = None,
    persona: PersonaOpt = None,
    run: RunOpt = LATEST,
    approve_all: Annotated[
        bool, typer.Option("--all", help="Approve every persona's current revision.")
    ] = False,
    who: Annotated[
        str | None,
        typer.Option("--as", help="Who approves. Default: git's user.email, else the login."),
    ] = None,
    accept_warnings: Annotated[
        bool,
        typer.Option("--accept-warnings", help="Acknowledge every grounding warning shown."),
    ] = False,
    policy: Annotated[
        bool,
        typer.Option(
            "--policy",
            help="Apply execbrief.yaml's `approval: {auto: ...}` (as auto-policy) instead.",
        ),
    ] = False,
) -> int:
    """Approve drafts for ses/smtp: binds who, when and the sha256 of each message.eml."""
    if policy:
        return _approve_by_policy(workspace, run, persona or [], bool(who or approve_all))
    if not persona and not approve_all:
        raise ConfigError(
            "name the drafts to approve", hint="pass --persona ID (repeat for more) or --all"
        )
    ws = _workspace(workspace)
    folder = pipeline.resolve_run(ws, run)
    personas = pipeline.run_personas_in(folder, persona or [])
    require_drafts(ws.outputs, folder, personas, "message.eml")
    manifest = folder.read_manifest()
    rows = {row.persona: row for row in review_rows(folder, manifest)}
    if not persona:  # --all: every persona that has a draft; a named one must have one
        personas = [p for p in personas if p in rows and rows[p].revision is not None]
    audit = pipeline.mail_settings(ws).mail.bcc_audit
    for persona_id in personas:
        shown = describe_message(load_message(folder, persona_id), audit)
        out.print(f"[bold]{persona_id}[/] rev {rows[persona_id].revision}: {escape(shown)}")
        for warning in manifest.personas[persona_id].warnings:
            out.print(f"  [yellow]warning[/] {escape(warning.where)}: {escape(warning.detail)}")
    interactive = sys.stdin.isatty() and not accept_warnings

    def acknowledge(persona_id: str, warning: GroundingWarning) -> bool:
        return typer.confirm(f"{persona_id}: accept {warning.where}: {warning.detail}?")

    results = pipeline.approve(
        ws,
        folder,
        personas,
        by=approver(who, ws.root),
        accept_warnings=accept_warnings,
        acknowledge=acknowledge if interactive else None,
    )
    for result in results:
        if result.already:
            err.print(f"  {result.persona} rev {result.rev} was already approved by {result.by}")
            continue
        accepted = (
            f", {result.accepted_warnings} grounding warnings accepted"
            if result.accepted_warnings
            else ""
        )
        err.print(f"[green]Approved[/] {result.persona} rev {result.rev} as {result.by}{accepted}")
    return EXIT_OK


def _approve_by_policy(
    workspace: Path | None, run: str, persona_ids: list[str], conflicting: bool
) -> int:
    if conflicting:
        raise ConfigError(
            "--policy approves as auto-policy, by the workspace's rule",
            hint="drop --as and --all (name personas with --persona to limit it)",
        )
    ws = _workspace(workspace)
    if ws.config.approval.manual:
        raise RefusedError(
            "this workspace's approval is manual: there is no policy to apply",
            hint="set `approval: {auto: changed_without_warnings}` in execbrief.yaml, or "
            "approve by hand: `execbrief approve --persona ID`",
        )
    folder = pipeline.resolve_run(ws, run)
    require_drafts(ws.outputs, folder, pipeline.run_personas_in(folder, persona_ids), "message.eml")
    _apply_policy(ws, folder, persona_ids)
    return EXIT_OK


@app.command()
def review(
    workspace: WorkspaceOpt = None,
    run: ReviewRunOpt = LATEST,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="First read new delivery events (execbrief events)."),
    ] = False,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Open the review desk: a local web app on 127.0.0.1."),
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="With --serve: the port (0: any free).")
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="With --serve: print the URL, open no browser.")
    ] = False,
) -> int:
    """Show each persona's status, grounding warnings, cost and delivery for a run.

    With --serve, review in the browser instead: read each brief as sent, approve,
    regenerate with a note, edit, test-send and send, from one local page.
    """
    ws = _workspace(workspace)
    if refresh:
        _refresh_events(ws)
    if serve:
        # the desk opens on the latest run; a named one is checked and opened instead
        start = "/" if run == LATEST else f"/runs/{pipeline.resolve_run(ws, run).run_id}"
        return _serve_desk(ws, port, start, open_browser=not no_browser)
    # an archived run is read into a cache folder under outputs, for reading only
    archived = run.startswith("s3://")
    folder = pipeline.fetch_archived_run(ws, run) if archived else pipeline.resolve_run(ws, run)
    if as_json:
        rows = review_rows(folder, folder.read_manifest())
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
        return EXIT_OK
    _summary(folder)
    manifest = folder.read_manifest()
    for outcome in manifest.personas.values():
        for warning in outcome.warnings:
            out.print(f"[yellow]{outcome.persona}[/] {warning.where}: {warning.detail}")
    for row in review_rows(folder, manifest):
        for recipient, event in row.events.items():
            out.print(f"[cyan]{row.persona}[/] {escape(recipient)}: {escape(event)}")
    return EXIT_OK


def _refresh_events(workspace: Workspace) -> None:
    if not pipeline.mail_settings(workspace).mail.events_queue:
        err.print(
            "No events queue configured (mail.events_queue): delivery events not read; "
            "showing the review as recorded."
        )
        return
    report = pipeline.record_events(workspace)
    err.print(
        f"Read delivery events: {len(report.recorded)} new, {report.duplicates} already "
        f"recorded, {len(report.skipped)} skipped"
    )


def _stop_serving(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_desk(ws: Workspace, port: int, start: str, *, open_browser: bool) -> int:
    import logging
    import signal
    import webbrowser

    from execbrief.desk.app import create_app, desk_url, jobs_of, make_desk_server
    from execbrief.desk.security import new_token

    token = new_token()
    desk = create_app(ws, token)
    server = make_desk_server(desk, port=port)
    # one line per request would bury the URL, and the first one carries the token
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    url = desk_url(server, token, start)
    # one line, never wrapped: the URL is copied from the terminal
    err.print(f"[bold]Review desk[/] for {escape(str(ws.root))}: {url}", soft_wrap=True)
    err.print("Only this machine can reach it; press Ctrl-C to stop.")
    if open_browser:
        webbrowser.open(url)
    # Ctrl-C stops the desk even when started from a shell that ignores it for background
    # jobs, and so does a service manager's SIGTERM
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_serving)
    try:
        server.serve_forever()  # werkzeug's returns on KeyboardInterrupt
    finally:
        err.print("Stopping the review desk; a regenerate under way finishes first.")
        server.server_close()
        jobs_of(desk).wait()
    return EXIT_OK


@app.command()
def events(
    workspace: WorkspaceOpt = None,
    setup: Annotated[
        bool,
        typer.Option("--setup", help="Create the configuration set, topic and queue (idempotent)."),
    ] = False,
) -> int:
    """Record SES delivery events (bounces, complaints...) from mail.events_queue in the runs."""
    from execbrief.mail.events import describe_event
    from execbrief.mail.events_setup import setup_events

    ws = _workspace(workspace)
    if setup:
        for step in setup_events(pipeline.mail_settings(ws).mail):
            out.print(f"  {step.action:<8} {step.resource}: {escape(step.name)}")
        return EXIT_OK
    report = pipeline.record_events(ws)
    for event in report.recorded:
        where = f"{event.run} {event.persona} {event.recipient}"
        out.print(f"  {escape(where)}: {escape(describe_event(event))}")
    for skip in report.skipped:
        err.print(
            f"[yellow]skipped[/] queue message {skip.queue_message_id}: {escape(skip.reason)}"
            " (left in the queue)"
        )
    err.print(
        f"Recorded {len(report.recorded)} events; {report.duplicates} already recorded, "
        f"{report.ignored} of types not recorded, {len(report.skipped)} skipped"
    )
    return EXIT_OK


@app.command()
def diff(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="BASE HEAD run ids; one id compares it with the run before it."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> int:
    """List facts new, resolved and changed between two runs (default: latest vs the one before)."""
    ws = _workspace(workspace)
    given = runs or []
    if len(given) > 2:
        raise ConfigError("diff takes at most two runs", hint="execbrief diff [BASE] [HEAD]")
    base, head = (given[0], given[1]) if len(given) == 2 else (None, given[0] if given else LATEST)
    result = pipeline.diff_runs(ws, base, head)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return EXIT_OK
    out.print(diff_table(result) if result.changes else "No facts changed between these runs.")
    return EXIT_OK


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="A new or empty folder.")]) -> int:
    """Scaffold a workspace: a commented execbrief.yaml, a handoff note, a personas folder."""
    created = scaffold_workspace(directory)
    for path in created:
        err.print(f"  created {path}")
    err.print(
        f"Next: edit {directory / 'execbrief.yaml'}, then: {' -> '.join(review_steps(directory))}"
    )
    return EXIT_OK


@personas_app.command("list")
def personas_list(workspace: WorkspaceOpt = None) -> int:
    """List the personas available here: shipped ones and the workspace's own."""
    root = (workspace or state.workspace_dir).resolve()
    catalogue = discover_personas(root if (root / "personas").is_dir() else None)
    out.print(personas_table(catalogue))
    return EXIT_OK


@personas_app.command("validate")
def personas_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Persona files. Default: the shipped and workspace personas."),
    ] = None,
    workspace: WorkspaceOpt = None,
) -> int:
    """Check persona files; a bad one is named with its file, line and field (exit 2)."""
    if files:
        checked = validate_files(files)
    else:
        root = (workspace or state.workspace_dir).resolve()
        checked = list(discover_personas(root if (root / "personas").is_dir() else None).values())
    for entry in checked:
        out.print(f"[green]ok[/] {entry.persona.id}  {entry.path}")
    out.print(f"{len(checked)} personas valid")
    return EXIT_OK


BatchRunOpt = Annotated[
    str,
    typer.Option("--run", help="Run id; default: the newest run with a submitted batch."),
]
FleetOpt = Annotated[
    str | None,
    typer.Option(
        "--workspaces", help="The workspaces of `run --workspaces ... --batch` (glob or list)."
    ),
]


def _progress_line(state: pipeline.BatchState) -> str:
    submission, progress = state.submission, state.progress
    head = f"batch {submission.batch_id} for run {state.run.run_id}"
    if progress is None:
        return f"{head}: fetched at {submission.fetched_at:%Y-%m-%d %H:%M}Z"
    counts = ", ".join(
        f"{n} {name}"
        for name, n in (
            ("succeeded", progress.succeeded),
            ("errored", progress.errored),
            ("canceled", progress.canceled),
            ("expired", progress.expired),
        )
        if n
    )
    word = "ended" if progress.status == "ended" else progress.status.replace("_", " ")
    return f"{head}: {word}, {progress.finished}/{progress.total} requests finished" + (
        f" ({counts})" if counts else ""
    )


@batch_app.command("status")
def batch_status(
    workspace: WorkspaceOpt = None, run: BatchRunOpt = LATEST, workspaces: FleetOpt = None
) -> int:
    """Say how far the run's batch has got (exit 0 whatever its state; with --workspaces,
    1 when a workspace's batch could not be read, each named on its own line)."""
    from execbrief.fleet import find_workspaces

    if workspaces is None:
        ws = _workspace(workspace)
        out.print(escape(_progress_line(pipeline.batch_status(ws, pipeline.batch_run(ws, run)))))
        return EXIT_OK
    failed = 0
    for root in find_workspaces(workspaces):
        try:
            ws = _workspace(root)
            line = _progress_line(pipeline.batch_status(ws, pipeline.batch_run(ws, run)))
        except ExecbriefError as exc:
            failed += 1
            err.print(f"[red]{escape(str(root))}:[/] {escape(str(exc))}")
            continue
        out.print(escape(f"{root}: {line}"))
    return EXIT_FAILED if failed else EXIT_OK


@batch_app.command("fetch")
def batch_fetch(
    workspace: WorkspaceOpt = None,
    run: BatchRunOpt = LATEST,
    workspaces: FleetOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Poll until the batch has ended, then fetch.")
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, max=64, help="With --workspaces: how many at once.")
    ] = 4,
    as_json: JsonOpt = False,
) -> int:
    """Finish a submitted batch's run: write, check and render its briefs.

    Exit 0 when fetched (or fetched before), 1 when the batch has not ended yet (nothing
    is fetched: run it again later, or with --wait) or a persona failed.
    """
    if workspaces is not None:
        if workspace is not None or run != LATEST:
            raise ConfigError("--workspaces fetches each one's newest batch; drop -w and --run")
        return _fleet_fetch(workspaces, jobs, wait=wait, as_json=as_json)
    ws = _workspace(workspace)
    folder = pipeline.batch_run(ws, run)
    state = pipeline.batch_status(ws, folder)
    if state.progress is None:
        err.print(escape(_progress_line(state)) + "; nothing to do")
        _summary(folder, as_json)
        return EXIT_OK
    if state.progress.status != "ended":
        if not wait:
            err.print(
                escape(_progress_line(state)) + ". It has not ended: nothing fetched; run "
                "`execbrief batch fetch` again later, or with --wait"
            )
            return EXIT_FAILED
        pipeline.wait_batch(
            ws,
            state.submission.batch_id,
            lambda p: err.print(f"  batch: {p.finished}/{p.total} requests finished"),
        )
    pipeline.download_batch(ws, [folder], state.submission.batch_id)
    outcomes = pipeline.finish_batch(ws, folder)
    for outcome in outcomes:
        if outcome.status is PersonaStatus.FAILED:
            err.print(f"[red]  {outcome.persona} failed:[/] {escape(outcome.error or '')}")
    err.print(f"[bold]Fetched[/] batch {state.submission.batch_id}: {len(outcomes)} briefs")
    _apply_policy(ws, folder, [o.persona for o in outcomes])
    _summary(folder, as_json)
    return _exit_code(outcomes, [])
