"""What a scheduled run decides without a reviewer: whose evidence changed since that
persona's last sent brief (`send --changed-only`), and the automatic approval policy of
execbrief.yaml (`approval: {auto: changed_without_warnings}`).

"Since the last sent brief" compares this run's bundle with the bundle of the newest run
(up to this one) whose send ledger says the persona was sent, through the persona's lens
(diff.py). A persona never sent counts as changed: everything in its lens is news.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from execbrief.approval import approve_drafts
from execbrief.config import ApprovalPolicy
from execbrief.diff import changes_in_lens, diff_bundles, summarise_changes
from execbrief.mail.ledger import delivery_states, open_ledger
from execbrief.models import BundleDiff, FactChange, Manifest, Persona, PersonaStatus
from execbrief.runs import RunFolder

AUTO_APPROVER = "auto-policy"


@dataclass(frozen=True)
class SinceSent:
    """One persona's evidence changes since its last sent brief."""

    persona: str
    base_run: str | None  # the run its last brief was sent from; None: never sent
    changes: list[FactChange]

    @property
    def changed(self) -> bool:
        return self.base_run is None or bool(self.changes)

    def describe(self) -> str:
        if self.base_run is None:
            return "never sent before"
        if not self.changes:
            return f"evidence unchanged since its last sent brief (run {self.base_run})"
        summary = summarise_changes(self.changes).summary()
        return f"{summary} since its last sent brief (run {self.base_run})"


def _was_sent(run: RunFolder, persona: str) -> bool:
    # through the run's own ledger (file or DynamoDB), as review and send read it
    state = delivery_states(open_ledger(run, run.read_manifest().ledger).records()).get(persona)
    return state is not None and state.last_sent() is not None


def _runs_up_to(outputs: Path, run: RunFolder) -> list[RunFolder]:
    """Complete runs up to and including `run`, newest first."""
    return [
        RunFolder(path)
        for path in sorted(outputs.iterdir(), reverse=True)
        if path.is_dir()
        and not path.is_symlink()
        and path.name <= run.run_id
        and (path / "bundle.json").is_file()
    ]


def since_last_sent(outputs: Path, run: RunFolder, personas: list[Persona]) -> dict[str, SinceSent]:
    """Each persona's lens changes from its last sent brief's run to `run`."""
    earlier = _runs_up_to(outputs, run)
    head = run.read_bundle()
    diffs: dict[str, BundleDiff] = {}
    found: dict[str, SinceSent] = {}
    for persona in personas:
        base = next((r for r in earlier if _was_sent(r, persona.id)), None)
        if base is None:
            found[persona.id] = SinceSent(persona.id, None, [])
            continue
        if base.run_id not in diffs:
            diffs[base.run_id] = diff_bundles(base.read_bundle(), head, base.run_id, run.run_id)
        changes = changes_in_lens(diffs[base.run_id], persona.evidence)
        found[persona.id] = SinceSent(persona.id, base.run_id, changes)
    return found


class PolicyDecision(BaseModel):
    """What the approval policy did with one persona's current draft."""

    persona: str
    approved: bool
    reason: str
    rev: int | None = None
    by: str | None = None


def _hold(persona: str, reason: str) -> PolicyDecision:
    return PolicyDecision(persona=persona, approved=False, reason=reason)


def auto_approve(
    run: RunFolder,
    manifest: Manifest,
    personas: list[Persona],
    since: dict[str, SinceSent],
    policy: ApprovalPolicy,
    now: datetime,
) -> list[PolicyDecision]:
    """Approve, as `auto-policy`, each draft with no grounding warnings whose evidence
    changed since the persona's last sent brief; every other draft waits for a reviewer.

    The approval is the same record a reviewer's is (approval.py), bound to the sha256
    of message.eml, so send checks it the same way.
    """
    decisions: dict[str, PolicyDecision] = {}
    eligible: list[str] = []
    for persona in personas:
        outcome = manifest.personas.get(persona.id)
        rendered = (run.persona_dir(persona.id) / "message.eml").is_file()
        if policy.personas is not None and persona.id not in policy.personas:
            decisions[persona.id] = _hold(persona.id, "not in approval.personas")
        elif outcome is None or outcome.status is not PersonaStatus.OK or not rendered:
            decisions[persona.id] = _hold(persona.id, "no passing rendered draft")
        elif outcome.warnings:
            decisions[persona.id] = _hold(persona.id, f"{len(outcome.warnings)} grounding warnings")
        elif not since[persona.id].changed:
            decisions[persona.id] = _hold(persona.id, since[persona.id].describe())
        else:
            eligible.append(persona.id)
    for result in approve_drafts(run, manifest, eligible, by=AUTO_APPROVER, now=now):
        reason = since[result.persona].describe()
        if result.already:
            reason = f"already approved by {result.by}"
        decisions[result.persona] = PolicyDecision(
            persona=result.persona, approved=True, reason=reason, rev=result.rev, by=result.by
        )
    return [decisions[p.id] for p in personas]
