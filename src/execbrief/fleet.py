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
from typing import Literal

from pydantic import BaseModel, Field

from execbrief import pipeline
from execbrief.config import CONFIG_NAME, load_workspace
from execbrief.errors import ConfigError, ExecbriefError
from execbrief.models import PersonaStatus


class FleetStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


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
        archived = pipeline.archive_run(workspace, run)
    except ExecbriefError as exc:
        return _failed(root, str(exc), started)
    except Exception as exc:
        # Anything else one workspace raises is still that workspace's failure: the
        # others must go on, and the summary names what happened.
        return _failed(root, f"{type(exc).__name__}: {exc}", started)
    failed = sum(o.status is PersonaStatus.FAILED for o in outcomes)
    problems = [f"{failed} personas failed"] if failed else []
    if archived is not None and archived.error:
        problems.append(f"archive: {archived.error}")
    return WorkspaceOutcome(
        workspace=str(root),
        status=FleetStatus.FAILED if problems else FleetStatus.OK,
        portfolio=bundle.portfolio,
        run_id=run.run_id,
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
