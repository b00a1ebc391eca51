"""The command line: flags in, one stage (or all of them) run, a summary and an exit code out.

Exit codes: 0 all done; 1 the run ended but something failed (a persona, a send, a
grounding warning under --strict); 2 bad input or config, or a refused action.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from execbrief import pipeline
from execbrief.approval import approver
from execbrief.config import TransportName, Workspace, load_workspace
from execbrief.errors import ConfigError, ExecbriefError
from execbrief.models import (
    CollectorRun,
    DeliveryAction,
    DeliveryOutcome,
    GroundingWarning,
    PersonaRun,
    PersonaStatus,
    PrefilterEngine,
    Severity,
)
from execbrief.persona_files import discover_personas, validate_files
from execbrief.review import review_rows
from execbrief.revisions import require_drafts
from execbrief.runs import LATEST, RunFolder
from execbrief.scaffold import review_steps, scaffold_workspace
from execbrief.send import describe_message, load_message
from execbrief.tables import audit_table, diff_table, fleet_table, personas_table, run_table

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _exit_with(code: int | None, **_: object) -> None:
    """Commands return their exit code; typer's standalone mode exits with it."""
    raise typer.Exit(code or EXIT_OK)


app = typer.Typer(
    result_callback=_exit_with,
    name="execbrief",
    help=(
        "Executive briefs from a portfolio's own evidence.\n\n"
        "Stages: collect (evidence -> bundle.json), generate (one report per persona), "
        "render (drafts and message.eml), approve, send (with a ledger). `run` does the first "
        "three and stops at the drafts; ses and smtp send only approved drafts. "
        "Drafts land in the workspace's outputs/<run-id>/, with outputs/latest pointing "
        "at the newest run.\n\n"
        "Exit codes: 0 all done; 1 the run ended but something failed (a persona, a send, "
        "a grounding warning under --strict); 2 bad input or config, or a refused action."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
personas_app = typer.Typer(
    help="List and validate persona files.", no_args_is_help=True, result_callback=_exit_with
)
app.add_typer(personas_app, name="personas")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class State:
    workspace_dir: Path = Path()
    debug: bool = False


state = State()

PersonaOpt = Annotated[
    list[str] | None,
    typer.Option("--persona", "-p", help="Only this persona (repeat for more). Default: all."),
]
RunOpt = Annotated[str, typer.Option("--run", help="Run id, or `latest`.")]
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


@app.callback()
def _global(
    workspace: Annotated[
        Path,
        typer.Option(
            "--workspace", "-w", help="Workspace folder holding execbrief.yaml.", show_default="."
        ),
    ] = Path(),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state.workspace_dir = workspace
    state.debug = debug


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


def _collect(workspace: Workspace, aws_snapshot_out: Path | None = None) -> RunFolder:
    done: list[CollectorRun] = []
    with _progress("Collecting evidence", None) as advance:

        def collector_done(name: str, run: CollectorRun) -> None:
            done.append(run)
            advance()

        hooks = pipeline.Hooks(collector_done=collector_done)
        run, bundle = pipeline.collect(workspace, hooks, aws_snapshot_out=aws_snapshot_out)
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
    if dry_run:
        err.print(f"[bold]Dry run:[/] would send {len(outcomes) - len(skipped)} messages")
    elif sent == 0 and skipped and all(o.action is DeliveryAction.SKIPPED for o in outcomes):
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
            help="Also send the drafts (file transport only). Default: stop at the drafts.",
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
) -> int:
    """Collect, generate and render drafts for review; with --send, send them too."""
    if workspaces is not None:
        if workspace is not None:
            raise ConfigError("give --workspace or --workspaces, not both")
        return _run_fleet(workspaces, jobs, persona or [], strict, as_json)
    ws = _workspace(workspace)
    persona_ids = persona or []
    # refuse unknown personas and unusable mail settings before collecting anything
    pipeline.check_delivery(ws, pipeline.personas_for(ws, persona_ids), sending=send)
    folder = _collect(ws)
    outcomes = _generate(ws, folder, persona_ids, strict)
    _render(ws, folder, persona_ids)
    deliveries: list[DeliveryOutcome] = []
    if send:
        ok = [o.persona for o in outcomes if o.status is PersonaStatus.OK]
        if ok:
            deliveries = _send(ws, folder, ok, requested=False)
        else:
            err.print("No persona passed; nothing was sent.")
    else:
        err.print(f"Drafts written, nothing sent. Next: {' -> '.join(review_steps(ws.root)[1:])}")
    _summary(folder, as_json)
    return _exit_code(outcomes, deliveries)


def _run_fleet(spec: str, jobs: int, persona_ids: list[str], strict: bool, as_json: bool) -> int:
    from execbrief.fleet import FleetStatus, find_workspaces, run_fleet

    roots = find_workspaces(spec)
    err.print(f"Running {len(roots)} workspaces, {min(jobs, len(roots))} at a time (no send)")
    with _progress("Workspaces", len(roots)) as advance:
        outcomes = run_fleet(
            roots, jobs=jobs, persona_ids=persona_ids, strict=strict, on_done=lambda _: advance()
        )
    if as_json:
        sys.stdout.write(json.dumps([o.model_dump(mode="json") for o in outcomes], indent=2) + "\n")
    else:
        out.print(fleet_table(outcomes))
        for outcome in outcomes:
            if outcome.error:
                err.print(f"[red]{escape(outcome.workspace)}:[/] {escape(outcome.error)}")
    return EXIT_FAILED if any(o.status is FleetStatus.FAILED for o in outcomes) else EXIT_OK


@app.command()
def collect(
    workspace: WorkspaceOpt = None,
    aws_snapshot_out: Annotated[
        Path | None,
        typer.Option("--aws-snapshot-out", help="Also write the raw AWS inventory to FILE."),
    ] = None,
) -> int:
    """Start a new run: gather evidence into bundle.json and move `latest` to it."""
    ws = _workspace(workspace)
    _collect(ws, aws_snapshot_out)
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
    return _exit_code(outcomes, [])


@app.command()
def render(workspace: WorkspaceOpt = None, persona: PersonaOpt = None, run: RunOpt = LATEST) -> int:
    """Re-render drafts and message.eml from report.json (e.g. after editing it by hand)."""
    ws = _workspace(workspace)
    folder = pipeline.resolve_run(ws, run)
    personas = pipeline.run_personas_in(folder, persona or [])
    require_drafts(ws.outputs, folder, personas, "report.json")
    _render(ws, folder, personas)
    return EXIT_OK


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
) -> int:
    """Send each persona's current revision at most once; ses and smtp send approved ones."""
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
    )
    _summary(folder, as_json)
    return _exit_code([], deliveries)


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
) -> int:
    """Approve drafts for ses/smtp: binds who, when and the sha256 of each message.eml."""
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


@app.command()
def review(
    workspace: WorkspaceOpt = None,
    run: RunOpt = LATEST,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
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
    if serve:
        # the desk opens on the latest run; a named one is checked and opened instead
        start = "/" if run == LATEST else f"/runs/{pipeline.resolve_run(ws, run).run_id}"
        return _serve_desk(ws, port, start, open_browser=not no_browser)
    folder = pipeline.resolve_run(ws, run)
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
def audit(
    paths: Annotated[list[Path], typer.Argument(help="Repositories (folders) to audit.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the facts as a JSON list on stdout, only.")
    ] = False,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Exit 1 if a finding is at least this severe.")
    ] = Severity.HIGH,
    checks: Annotated[
        str | None,
        typer.Option(
            "--checks",
            help="Comma-separated: secrets,env,python,endpoints,inventory (default all).",
        ),
    ] = None,
    engine: Annotated[
        PrefilterEngine,
        typer.Option("--engine", help="Secret prefilter: hyperscan, re, or auto (the fastest)."),
    ] = PrefilterEngine.AUTO,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Audit every repository afresh; skip the result cache."),
    ] = False,
) -> int:
    """Run the code audit on repositories without a workspace; secret values are masked."""
    selected = {c.strip() for c in checks.split(",") if c.strip()} if checks else None
    result = pipeline.audit(paths, selected, engine.value, cache=not no_cache)
    failing = [f for f in result.facts if f.severity.rank <= fail_on.rank]
    if as_json:
        facts = [f.model_dump(mode="json") for f in result.facts]
        sys.stdout.write(json.dumps(facts, indent=2, ensure_ascii=False) + "\n")
    else:
        out.print(audit_table(result.facts))
    for gap in result.gaps:
        err.print(f"[yellow]gap:[/] {escape(gap.source)}: {escape(gap.reason)}")
    err.print(
        f"{len(result.facts)} findings, {len(failing)} at or above {fail_on.value}"
        + (f"; exit 1 (--fail-on {fail_on.value})" if failing else "")
    )
    return EXIT_FAILED if failing else EXIT_OK


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


def _report_error(exc: ExecbriefError) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if exc.hint:
        err.print(f"[dim]hint:[/] {escape(exc.hint)}", soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `execbrief` console script; returns the exit code."""
    try:
        app(args=argv, prog_name="execbrief")
    except ExecbriefError as exc:
        if state.debug:
            traceback.print_exc()
        _report_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted; what was written is complete, the rest was not started")
        return 130
    except SystemExit as exc:
        # typer exits with the command's code, or 2 for a usage error it has printed
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    return EXIT_OK


def console_main() -> None:
    sys.exit(main())
