"""The review stage: one row per persona (status, grounding, cost, delivery) and index.html."""

from __future__ import annotations

from pydantic import BaseModel, Field

from execbrief.files import write_atomic
from execbrief.mail.events import describe_event, recipient_states
from execbrief.mail.ledger import PersonaDelivery, delivery_states, open_ledger
from execbrief.models import Bundle, Manifest, PersonaStatus, Provenance, Severity
from execbrief.revisions import read_history, sha256_file
from execbrief.runs import RunFolder
from execbrief.templates import environment

_SHORT = {
    Severity.CRITICAL: "crit",
    Severity.HIGH: "high",
    Severity.MEDIUM: "med",
    Severity.LOW: "low",
    Severity.INFO: "info",
}
DRAFT_FILES = ("report.md", "report.html", "report.txt", "message.eml", "report.json")


class ReviewRow(BaseModel):
    persona: str
    title: str
    status: PersonaStatus
    findings: str
    warnings: int
    tokens: int
    cost_usd: float
    delivery: str = Field(description="The current revision's: not sent, sent, failed, in doubt.")
    delivery_detail: str = ""
    revision: int | None = Field(None, description="The current revision, if rendered.")
    approved_by: str | None = Field(None, description="Who approved the current revision.")
    provenance: Provenance | None = None
    state: str = Field("", description="e.g. `rev 2 draft; rev 1 sent 07:07Z`.")
    events: dict[str, str] = Field(
        default_factory=dict, description="Recipient -> latest SES event (execbrief events)."
    )
    error: str | None = None
    files: list[str]


def _draft_state(
    run: RunFolder, persona: str, warnings: int, delivery: PersonaDelivery
) -> tuple[int | None, str, str, str, str | None]:
    """(revision, delivery, detail, state text, approver) of a persona's current draft."""
    history = read_history(run, persona)
    current = history.current
    if current is None:
        return None, "not sent", "", "no draft", None
    rev = current.rev
    state = delivery.of(rev)
    approval = history.approval_of(rev)
    eml = run.persona_dir(persona) / "message.eml"
    changed = approval is not None and (
        not eml.is_file() or sha256_file(eml) != approval.eml_sha256
    )
    approver = approval.by if approval is not None and not changed else None
    detail = ""
    if state.in_doubt and state.last is not None:
        delivery_word = "in doubt"
        detail = f"attempt at {state.last.ts:%Y-%m-%d %H:%M}Z has no known outcome"
        word = f"in doubt since {state.last.ts:%H:%M}Z"
    elif state.sent is not None:
        delivery_word = "sent"
        detail = (
            f"{state.sent.ts:%Y-%m-%d %H:%M}Z via {state.sent.transport} ({state.sent.message_id})"
        )
        # the message id stays in the detail: in the table it would wrap every row
        word = f"sent {state.sent.ts:%H:%M}Z"
    elif state.failed and state.last is not None:
        delivery_word = "failed"
        detail = state.last.error or ""
        word = "failed"
    else:
        delivery_word = "not sent"
        if changed:
            word = "changed after approval"
        elif approver is not None:
            word = f"approved by {approver}"
        elif warnings:
            word = f"draft, {warnings} warnings"
        else:
            word = "draft"
    parts = [f"rev {rev} {word}"]
    earlier = delivery.last_sent()
    if earlier is not None and earlier[0] != rev:
        parts.append(f"rev {earlier[0]} sent {earlier[1].ts:%H:%M}Z")
    return rev, delivery_word, detail, "; ".join(parts), approver


def review_rows(run: RunFolder, manifest: Manifest) -> list[ReviewRow]:
    """The state of every persona of a run, from its manifest, drafts, revisions and ledger."""
    states = delivery_states(open_ledger(run, manifest.ledger).records())
    recipients = recipient_states(run)
    rows: list[ReviewRow] = []
    for persona_id, outcome in manifest.personas.items():
        rev, delivery, detail, state, approver = _draft_state(
            run, persona_id, len(outcome.warnings), states.get(persona_id, PersonaDelivery())
        )
        by_severity = outcome.findings_by_severity
        findings = (
            " ".join(f"{by_severity[s]} {_SHORT[s]}" for s in Severity if by_severity.get(s))
            or "none"
        )
        rows.append(
            ReviewRow(
                persona=persona_id,
                title=outcome.title,
                status=outcome.status,
                findings=findings,
                warnings=len(outcome.warnings),
                tokens=outcome.total_usage.total,
                cost_usd=outcome.total_cost_usd,
                delivery=delivery,
                delivery_detail=detail,
                revision=rev,
                approved_by=approver,
                provenance=outcome.provenance,
                state=state,
                events={r: describe_event(e) for r, e in recipients.get(persona_id, {}).items()},
                error=outcome.error,
                files=[n for n in DRAFT_FILES if (run.persona_dir(persona_id) / n).is_file()],
            )
        )
    return rows


def write_index(run: RunFolder, manifest: Manifest, bundle: Bundle) -> None:
    """Write the run's index.html review page."""
    html = (
        environment()
        .get_template("index.html.j2")
        .render(
            portfolio=manifest.portfolio,
            run_id=run.run_id,
            created_at=f"{manifest.created_at:%Y-%m-%d %H:%M}Z",
            digest=manifest.bundle_digest,
            facts=len(bundle.facts),
            gaps=bundle.gaps,
            rows=review_rows(run, manifest),
            notes=manifest.notes,
        )
    )
    write_atomic(run.path / "index.html", html)
