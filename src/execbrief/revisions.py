"""Draft revisions: every generate or render of a persona makes a new revision, and
approval belongs to one revision and the exact bytes of its message.eml.

Each persona keeps `<persona>/revisions.jsonl` in the run folder, append-only: what
generate wrote (so render can tell a hand edit from the model's answer), each revision
rendered, and each approval. Sent state lives in the send ledger, per revision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from execbrief.errors import RefusedError
from execbrief.jsonl import append_line, read_lines
from execbrief.mail.ledger import FIRST_REVISION
from execbrief.models import PersonaRun, Provenance, Strict
from execbrief.runs import RunFolder

REVISIONS_FILE = "revisions.jsonl"


class Generated(Strict):
    """generate wrote report.json from a provider's answer."""

    event: Literal["generated"] = "generated"
    ts: datetime
    report_sha256: str
    provider: str | None = None
    model: str | None = None


class Revision(Strict):
    """render wrote message.eml: a new revision of the draft."""

    event: Literal["revision"] = "revision"
    ts: datetime
    rev: int = Field(ge=1)
    report_sha256: str
    eml_sha256: str
    provenance: Provenance
    warnings: int = Field(0, ge=0, description="Grounding warnings of this revision.")


class Approval(Strict):
    """The analyst approved one revision, bound to the sha256 of its message.eml."""

    event: Literal["approved"] = "approved"
    ts: datetime
    rev: int = Field(ge=1)
    by: str
    eml_sha256: str
    accepted_warnings: int = Field(0, ge=0)


RevisionLine = Annotated[Generated | Revision | Approval, Field(discriminator="event")]
_LINE: TypeAdapter[Generated | Revision | Approval] = TypeAdapter(RevisionLine)


@dataclass(frozen=True)
class History:
    """One persona's revision history in a run."""

    generated: Generated | None
    revisions: list[Revision]
    approvals: list[Approval]

    @property
    def current(self) -> Revision | None:
        return self.revisions[-1] if self.revisions else None

    def approval_of(self, rev: int) -> Approval | None:
        """The latest approval of revision `rev`, if any."""
        matching = [a for a in self.approvals if a.rev == rev]
        return matching[-1] if matching else None


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def revisions_path(run: RunFolder, persona: str) -> Path:
    return run.persona_dir(persona) / REVISIONS_FILE


def read_history(run: RunFolder, persona: str) -> History:
    """The persona's history; a draft rendered before revisions existed counts as rev 1."""
    lines, _ = read_lines(revisions_path(run, persona), _LINE.validate_json)
    generated = [x for x in lines if isinstance(x, Generated)]
    revisions = [x for x in lines if isinstance(x, Revision)]
    approvals = [x for x in lines if isinstance(x, Approval)]
    eml = run.persona_dir(persona) / "message.eml"
    report = run.report_path(persona)
    if not revisions and eml.is_file() and report.is_file():
        revisions = [
            Revision(
                ts=datetime.fromtimestamp(eml.stat().st_mtime).astimezone(),
                rev=FIRST_REVISION,
                report_sha256=sha256_file(report),
                eml_sha256=sha256_file(eml),
                provenance=Provenance.MODEL,
            )
        ]
    return History(generated[-1] if generated else None, revisions, approvals)


def record_generated(run: RunFolder, outcome: PersonaRun, now: datetime) -> None:
    """Note that generate wrote this persona's report.json just now."""
    line = Generated(
        ts=now,
        report_sha256=sha256_file(run.report_path(outcome.persona)),
        provider=outcome.provider,
        model=outcome.model,
    )
    append_line(revisions_path(run, outcome.persona), line.model_dump_json())


def provenance_of(history: History, report_sha256: str, outcome: PersonaRun) -> Provenance:
    """Who wrote the report about to be rendered: as generated, or edited by hand."""
    written_by = Provenance.OFFLINE if outcome.provider == "offline" else Provenance.MODEL
    if history.generated is not None:
        return written_by if history.generated.report_sha256 == report_sha256 else Provenance.EDITED
    # a run generated before revisions were recorded: compare with the last render
    current = history.current
    if current is not None and (
        current.provenance is Provenance.EDITED or current.report_sha256 != report_sha256
    ):
        return Provenance.EDITED
    return written_by


def record_revision(
    run: RunFolder,
    persona: str,
    before: History,
    *,
    report_sha256: str,
    provenance: Provenance,
    warnings: int,
    now: datetime,
) -> Revision:
    """Record the message.eml just rendered as the revision after those in `before`
    (the history read before rendering, so a draft from before revisions counts)."""
    previous = before.current.rev if before.current else 0
    revision = Revision(
        ts=now,
        rev=previous + 1,
        report_sha256=report_sha256,
        eml_sha256=sha256_file(run.persona_dir(persona) / "message.eml"),
        provenance=provenance,
        warnings=warnings,
    )
    append_line(revisions_path(run, persona), revision.model_dump_json())
    return revision


def record_approval(run: RunFolder, persona: str, approval: Approval) -> None:
    append_line(revisions_path(run, persona), approval.model_dump_json())


def require_drafts(outputs: Path, run: RunFolder, personas: list[str], draft: str) -> None:
    """Refuse a stage with nothing to work on: no persona of `run` has `draft` (report.json
    for render, message.eml for approve and send); names the newest run that has some."""
    if any((run.persona_dir(p) / draft).is_file() for p in personas):
        return
    newest = next(
        (
            path.name
            for path in sorted(outputs.iterdir(), reverse=True)
            if path.is_dir() and not path.is_symlink() and any(path.glob(f"*/{draft}"))
        ),
        None,
    )
    hint = (
        f"the most recent run with drafts is {newest}: pass --run {newest}"
        if newest is not None and newest != run.run_id
        else f"write them with `execbrief generate --run {run.run_id}`"
    )
    what = "no report (report.json)" if draft == "report.json" else "no rendered message"
    raise RefusedError(f"run {run.run_id} has no drafts: {what} for any persona", hint=hint)
