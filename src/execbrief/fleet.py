"""Many workspaces at once: `execbrief run --workspaces 'clients/*'`.

Each workspace goes through collect, generate and render (no send: sending waits for a
reviewer, or for an approval policy) in a pool of worker processes, a bounded number at a
time. A workspace that fails is recorded as failed and the others go on. Processes rather
than threads because the offline provider, rendering and the code audit are CPU-bound
Python; they are started with `spawn`, so no worker inherits the parent's threads or locks.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from concurrent.futures.process import BrokenProcessPool
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from execbrief import pipeline
from execbrief.batches import read_submission
from execbrief.config import CONFIG_NAME, Workspace, load_workspace
from execbrief.errors import ConfigError, ExecbriefError
from execbrief.models import PersonaRun, PersonaStatus
from execbrief.runs import LATEST, RunFolder, open_run

if TYPE_CHECKING:
    from execbrief.llm.batch import BatchProgress


class FleetStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    PENDING = "pending"  # its batch has not ended yet: nothing fetched


class WorkspaceOutcome(BaseModel):
    """What one workspace's collect, generate and render came to."""

    workspace: str
    status: FleetStatus
    portfolio: str | None = None
    run_id: str | None = None
    personas_ok: int = 0
    personas_failed: int = 0
    warnings: int = Field(0, description="Grounding warnings across its personas.")
    cost_usd: float = 0.0
    seconds: float = 0.0
    error: str | None = None
    batch_id: str | None = Field(None, description="The Message Batch its personas went in.")


Work = Callable[[Path, list[str], bool], WorkspaceOutcome]
OnDone = Callable[[WorkspaceOutcome], None]


def find_workspaces(spec: str, cwd: Path | None = None) -> list[Path]:
    """The workspace folders `spec` names: a file listing one folder a line, or a glob.

    A glob matches folders holding an execbrief.yaml; a list file's entries (relative
    to the file; `#` starts a comment) are taken as given, so a missing one fails.
    """
    base = cwd or Path.cwd()
    listing = base / spec
    if listing.is_file():
        lines = listing.read_text(encoding="utf-8").splitlines()
        entries = [line.split("#", 1)[0].strip() for line in lines]
        found = [(listing.parent / entry).resolve() for entry in entries if entry]
    else:
        given = Path(spec)
        top = Path(given.anchor) if given.is_absolute() else base
        pattern = str(given.relative_to(top)) if given.is_absolute() else spec
        matches = sorted(top.glob(pattern)) if pattern not in ("", ".") else []
        found = [p.resolve() for p in matches if (p / CONFIG_NAME).is_file()]
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ConfigError(
            f"no workspace matched {spec!r}",
            field="--workspaces",
            hint="quote a glob of folders holding execbrief.yaml (e.g. 'clients/*'),"
            " or name a file listing one workspace folder a line",
        )
    return unique


def run_workspace(root: Path, persona_ids: list[str], strict: bool) -> WorkspaceOutcome:
    """Collect, generate and render one workspace; a failure becomes the outcome."""
    started = time.perf_counter()
    try:
        workspace = load_workspace(root)
        personas = pipeline.personas_for(workspace, persona_ids)
        run, bundle = pipeline.collect(workspace)
        _, outcomes = pipeline.generate(workspace, run, personas, strict=strict)
        pipeline.render(workspace, run, personas)
        pipeline.apply_approval_policy(workspace, run, [p.id for p in personas])
        archived = pipeline.archive_run(workspace, run)
    except ExecbriefError as exc:
        return _failed(root, str(exc), started)
    except Exception as exc:
        # Anything else one workspace raises is still that workspace's failure: the
        # others must go on, and the summary names what happened.
        return _failed(root, f"{type(exc).__name__}: {exc}", started)
    archive_error = archived.error if archived is not None else None
    return _done(root, bundle.portfolio, run.run_id, outcomes, started, archive_error)


def _done(
    root: Path,
    portfolio: str,
    run_id: str,
    outcomes: list[PersonaRun],
    started: float,
    archive_error: str | None = None,
) -> WorkspaceOutcome:
    failed = sum(o.status is PersonaStatus.FAILED for o in outcomes)
    problems = [f"{failed} personas failed"] if failed else []
    if archive_error:
        problems.append(f"archive: {archive_error}")
    return WorkspaceOutcome(
        workspace=str(root),
        status=FleetStatus.FAILED if problems else FleetStatus.OK,
        portfolio=portfolio,
        run_id=run_id,
        personas_ok=len(outcomes) - failed,
        personas_failed=failed,
        warnings=sum(len(o.warnings) for o in outcomes),
        cost_usd=round(sum(o.total_cost_usd for o in outcomes), 6),
        seconds=round(time.perf_counter() - started, 3),
        error="; ".join(problems) or None,
    )


def _failed(root: Path, error: str, started: float) -> WorkspaceOutcome:
    return WorkspaceOutcome(
        workspace=str(root),
        status=FleetStatus.FAILED,
        seconds=round(time.perf_counter() - started, 3),
        error=error,
    )


def run_fleet(
    roots: list[Path],
    *,
    jobs: int,
    persona_ids: list[str] | None = None,
    strict: bool = False,
    executor: Literal["process", "thread"] = "process",
    work: Work = run_workspace,
    on_done: OnDone | None = None,
) -> list[WorkspaceOutcome]:
    """Run every workspace, at most `jobs` at once; outcomes in the order of `roots`."""
    pool: Executor
    if executor == "process":
        pool = ProcessPoolExecutor(
            max_workers=max(1, min(jobs, len(roots))),
            mp_context=multiprocessing.get_context("spawn"),
        )
    else:
        pool = ThreadPoolExecutor(max_workers=jobs)
    outcomes: dict[Path, WorkspaceOutcome] = {}
    with pool:
        futures: dict[Future[WorkspaceOutcome], Path] = {
            pool.submit(work, root, list(persona_ids or []), strict): root for root in roots
        }
        for future in as_completed(futures):
            root = futures[future]
            try:
                outcome = future.result()
            except BrokenProcessPool as exc:
                # A worker died (killed, out of memory): the workspaces it had are failed.
                outcome = _failed(root, f"worker process died: {exc}", time.perf_counter())
            outcomes[root] = outcome
            if on_done is not None:
                on_done(outcome)
    return [outcomes[root] for root in roots]


# --- every workspace's personas in one Message Batch --------------------------------------


def prepare_workspace(root: Path, persona_ids: list[str], strict: bool) -> WorkspaceOutcome:
    """Collect one workspace and write its batch requests into the new run (no call paid)."""
    started = time.perf_counter()
    try:
        workspace = load_workspace(root)
        personas = pipeline.personas_for(workspace, persona_ids)
        run, bundle = pipeline.collect(workspace)
        pipeline.prepare_batch(workspace, run, personas, strict=strict)
    except Exception as exc:  # one workspace's failure, whatever it is (see run_workspace)
        return _failed(root, _message(exc), started)
    return WorkspaceOutcome(
        workspace=str(root),
        status=FleetStatus.OK,
        portfolio=bundle.portfolio,
        run_id=run.run_id,
        seconds=round(time.perf_counter() - started, 3),
    )


def _message(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ExecbriefError) else f"{type(exc).__name__}: {exc}"


def submit_fleet(
    roots: list[Path],
    *,
    jobs: int,
    persona_ids: list[str] | None = None,
    strict: bool = False,
    on_done: OnDone | None = None,
) -> tuple[list[WorkspaceOutcome], str | None]:
    """Prepare every workspace (in the pool), then submit all their requests as ONE batch;
    the batch id, or None when no workspace got as far as its requests."""
    outcomes = run_fleet(
        roots,
        jobs=jobs,
        persona_ids=persona_ids,
        strict=strict,
        work=prepare_workspace,
        on_done=on_done,
    )
    prepared = []
    for outcome in outcomes:
        if outcome.status is FleetStatus.OK and outcome.run_id is not None:
            workspace = load_workspace(Path(outcome.workspace))
            run = open_run(workspace.outputs, outcome.run_id)
            prepared.append(pipeline.prepared_batch(workspace, run, strict=strict))
    if not prepared:
        return outcomes, None
    batch_id = pipeline.submit_batch(prepared)
    for outcome in outcomes:
        if outcome.status is FleetStatus.OK:
            outcome.batch_id = batch_id
    return outcomes, batch_id


def finish_workspace(root: Path, persona_ids: list[str], strict: bool) -> WorkspaceOutcome:
    """Generate and render one workspace from its downloaded share of the batch."""
    started = time.perf_counter()
    try:
        workspace = load_workspace(root)
        run = pipeline.batch_run(workspace, LATEST)
        outcomes = pipeline.finish_batch(workspace, run)
        pipeline.apply_approval_policy(workspace, run, [o.persona for o in outcomes])
        archived = pipeline.archive_run(workspace, run)
        portfolio = run.read_manifest().portfolio
    except Exception as exc:
        return _failed(root, _message(exc), started)
    archive_error = archived.error if archived is not None else None
    return _done(root, portfolio, run.run_id, outcomes, started, archive_error)


def _fetched(root: Path, run: RunFolder) -> WorkspaceOutcome:
    manifest = run.read_manifest()
    return _done(root, manifest.portfolio, run.run_id, list(manifest.personas.values()), 0.0)


def fetch_fleet(
    roots: list[Path],
    *,
    jobs: int,
    wait: bool = False,
    on_progress: Callable[[BatchProgress], None] | None = None,
    on_done: OnDone | None = None,
) -> list[WorkspaceOutcome]:
    """Download each ended batch once, split it into its workspaces' runs, and finish those
    runs in the pool; a workspace whose batch has not ended is `pending`."""
    outcomes: dict[Path, WorkspaceOutcome] = {}
    by_batch: dict[str, list[tuple[Path, Workspace, RunFolder]]] = {}
    for root in roots:
        try:
            workspace = load_workspace(root)
            run = pipeline.batch_run(workspace, LATEST)
            submission = read_submission(run)
        except ExecbriefError as exc:
            outcomes[root] = _failed(root, str(exc), time.perf_counter())
            continue
        if submission.fetched_at is not None:
            outcomes[root] = _fetched(root, run)
        else:
            by_batch.setdefault(submission.batch_id, []).append((root, workspace, run))
    ready: list[Path] = []
    for batch_id, members in by_batch.items():
        workspace = members[0][1]
        try:
            progress = pipeline.batch_status(workspace, members[0][2]).progress
            if progress is not None and progress.status != "ended" and wait:
                progress = pipeline.wait_batch(workspace, batch_id, on_progress)
            elif progress is not None and on_progress is not None:
                on_progress(progress)
            if progress is not None and progress.status != "ended":
                for root, _, run in members:
                    outcomes[root] = WorkspaceOutcome(
                        workspace=str(root),
                        status=FleetStatus.PENDING,
                        run_id=run.run_id,
                        batch_id=batch_id,
                        error=f"batch {batch_id} has not ended: "
                        f"{progress.finished}/{progress.total} requests finished",
                    )
                continue
            pipeline.download_batch(workspace, [run for _, _, run in members], batch_id)
        except ExecbriefError as exc:
            for root, _, _ in members:
                outcomes[root] = _failed(root, str(exc), time.perf_counter())
            continue
        ready += [root for root, _, _ in members]
    finished = run_fleet(ready, jobs=jobs, work=finish_workspace, on_done=on_done) if ready else []
    outcomes.update({Path(o.workspace): o for o in finished})
    return [outcomes[root] for root in roots]
