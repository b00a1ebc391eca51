"""The review stage: one row per persona (status, grounding, cost, delivery) and index.html."""

from __future__ import annotations

from pydantic import BaseModel, Field

from execbrief.mail.events import describe_event, recipient_states
from execbrief.mail.ledger import delivery_states, read_records
from execbrief.models import Bundle, Manifest, PersonaStatus, Severity
from execbrief.runs import RunFolder, write_atomic
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
    delivery: str
    delivery_detail: str = ""
    events: dict[str, str] = Field(
        default_factory=dict, description="Recipient -> latest SES event (execbrief events)."
    )
    error: str | None = None
    files: list[str]


def review_rows(run: RunFolder, manifest: Manifest) -> list[ReviewRow]:
    """The state of every persona of a run, from its manifest, drafts and send ledger."""
    states = delivery_states(read_records(run.ledger_path))
    recipients = recipient_states(run)
    rows: list[ReviewRow] = []
    for persona_id, outcome in manifest.personas.items():
        state = states.get(persona_id)
        detail = ""
        if state is None or state.last is None:
            delivery = "not sent"
        elif state.in_doubt:
            delivery = "in doubt"
            detail = f"attempt at {state.last.ts:%Y-%m-%d %H:%M}Z has no outcome"
        elif state.sent is not None:
            delivery = "sent"
            detail = f"{state.sent.ts:%Y-%m-%d %H:%M}Z via {state.sent.transport}"
        else:
            delivery = "failed"
            detail = state.last.error or ""
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
                tokens=outcome.usage.total,
                cost_usd=outcome.cost_usd,
                delivery=delivery,
                delivery_detail=detail,
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
