"""The review gate: an analyst's approval of one revision's exact message.eml, and the
check that ses and smtp send only approved, unchanged revisions."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from execbrief.errors import RefusedError
from execbrief.models import GroundingWarning, Manifest
from execbrief.revisions import Approval, History, read_history, record_approval, sha256_file
from execbrief.runs import RunFolder

# (persona, warning) -> True when the analyst acknowledges it
Acknowledge = Callable[[str, GroundingWarning], bool]


class ApprovalResult(BaseModel):
    """What `approve` did for one persona."""

    persona: str
    rev: int
    by: str
    accepted_warnings: int
    already: bool = False


def approver(explicit: str | None, cwd: Path) -> str:
    """Who approves: --as, else git's user.email, else the login name."""
    if explicit and explicit.strip():
        return explicit.strip()
    git = shutil.which("git")
    if git is not None:
        try:
            found = subprocess.run(
                [git, "config", "user.email"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            found = None
        if found is not None and found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return getpass.getuser()


def approve_drafts(
    run: RunFolder,
    manifest: Manifest,
    personas: list[str],
    *,
    by: str,
    now: datetime,
    accept_warnings: bool = False,
    acknowledge: Acknowledge | None = None,
) -> list[ApprovalResult]:
    """Approve each persona's current revision; refuses (nothing recorded) when a draft
    is missing or a grounding warning is not acknowledged."""
    pending: list[tuple[str, Approval, bool]] = []
    for persona in personas:
        history = read_history(run, persona)
        current = history.current
        eml = run.persona_dir(persona) / "message.eml"
        if current is None or not eml.is_file():
            raise RefusedError(
                f"{persona} has no rendered draft to approve in run {run.run_id}",
                hint=f"run `execbrief render --persona {persona}`",
            )
        eml_sha = sha256_file(eml)
        existing = history.approval_of(current.rev)
        if existing is not None and existing.eml_sha256 == eml_sha:
            pending.append((persona, existing, True))
            continue
        outcome = manifest.personas.get(persona)
        warnings = outcome.warnings if outcome is not None else []
        if warnings and not accept_warnings:
            declined = (
                len(warnings)
                if acknowledge is None
                else sum(not acknowledge(persona, w) for w in warnings)
            )
            if declined:
                raise RefusedError(
                    f"{persona}: {declined} of {len(warnings)} grounding warnings not "
                    f"acknowledged; rev {current.rev} was not approved",
                    hint="read them with `execbrief review`, fix the report or pass "
                    f"--accept-warnings: `execbrief approve --persona {persona} --accept-warnings`",
                )
        approval = Approval(
            ts=now, rev=current.rev, by=by, eml_sha256=eml_sha, accepted_warnings=len(warnings)
        )
        pending.append((persona, approval, False))
    results: list[ApprovalResult] = []
    for persona, approval, already in pending:
        if not already:
            record_approval(run, persona, approval)
        results.append(
            ApprovalResult(
                persona=persona,
                rev=approval.rev,
                by=approval.by,
                accepted_warnings=approval.accepted_warnings,
                already=already,
            )
        )
    return results


def check_approved(run: RunFolder, persona: str, history: History) -> None:
    """Refuse a persona whose current revision is not approved, or whose message.eml
    changed after it was approved."""
    current = history.current
    if current is None:
        return
    approval = history.approval_of(current.rev)
    fix = f"`execbrief approve --persona {persona}`"
    if approval is None:
        raise RefusedError(
            f"{persona}: rev {current.rev} is not approved; nothing was sent",
            hint=f"review the draft (`execbrief review`), then run {fix}",
        )
    if sha256_file(run.persona_dir(persona) / "message.eml") != approval.eml_sha256:
        raise RefusedError(
            f"{persona}: message.eml changed after rev {current.rev} was approved by "
            f"{approval.by} at {approval.ts:%Y-%m-%d %H:%M}Z; nothing was sent",
            hint=f"review the changed draft, then run {fix} again",
        )
