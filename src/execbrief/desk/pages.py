"""What the desk's pages show, read from the run folder with the stages' own readers."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from execbrief import pipeline
from execbrief.citations import Citations, Endnote, full_source
from execbrief.config import Workspace
from execbrief.diff import LensChanges, changes_in_lens, summarise_changes
from execbrief.mail.events import list_runs
from execbrief.mail.ledger import delivery_states, open_ledger
from execbrief.models import Bundle, CollectorRun, Fact, Gap, GroundingWarning, Persona
from execbrief.review import ReviewRow, review_rows
from execbrief.revisions import read_history, sha256_file
from execbrief.runs import RunFolder, previous_run
from execbrief.send import describe_message, load_message


def warning_key(warning: GroundingWarning) -> str:
    """A short stable name for one warning, for the approve form's checkboxes."""
    return hashlib.sha256(warning.model_dump_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunPage:
    run_id: str
    runs: list[str]
    portfolio: str
    created_at: str
    rows: list[ReviewRow]
    collectors: list[CollectorRun]
    facts_by_collector: dict[str, int]
    facts: int
    gaps: list[Gap]
    notes: list[str]
    tokens: int
    cost_usd: float


def run_ids(workspace: Workspace) -> list[str]:
    """The workspace's complete runs, newest first."""
    return [r.run_id for r in reversed(list_runs(workspace.outputs))]


def run_page(workspace: Workspace, run: RunFolder) -> RunPage:
    manifest = run.read_manifest()
    bundle = run.read_bundle()
    rows = review_rows(run, manifest)
    return RunPage(
        run_id=run.run_id,
        runs=run_ids(workspace),
        portfolio=manifest.portfolio,
        created_at=f"{manifest.created_at:%Y-%m-%d %H:%M}Z",
        rows=rows,
        collectors=bundle.collectors,
        facts_by_collector=dict(sorted(Counter(f.collector for f in bundle.facts).items())),
        facts=len(bundle.facts),
        gaps=bundle.gaps,
        notes=manifest.notes,
        tokens=sum(r.tokens for r in rows),
        cost_usd=sum(r.cost_usd for r in rows),
    )


@dataclass(frozen=True)
class Marked:
    """A claim with the words a warning is about picked out."""

    before: str
    words: str
    after: str


@dataclass(frozen=True)
class WarningView:
    key: str
    warning: GroundingWarning
    field: str
    claim: Marked | None


@dataclass(frozen=True)
class CitedFact:
    note: Endnote
    fact: Fact | None
    source: str


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    markdown: str


@dataclass(frozen=True)
class SentCopy:
    """The previous sent revision: where it was sent, and its message if still on disk."""

    run_id: str
    rev: int
    sent_at: str
    transport: str
    eml: Path | None


@dataclass(frozen=True)
class BriefPage:
    run_id: str
    persona: str
    title: str
    row: ReviewRow
    rev: int | None
    subject: str
    addresses: str
    recipients: list[str]
    warnings: list[WarningView]
    citations: list[CitedFact]
    since: LensChanges | None
    since_base: str | None
    previous: SentCopy | None
    sections: list[Section]
    note: str | None
    files: list[str] = field(default_factory=list)


_WHERE = re.compile(r"^(findings|kpis|recommendations|sections)\[(\d+)\]\.?(\w*)$")
_LABELS = {
    "findings": "Finding",
    "kpis": "KPI",
    "recommendations": "Recommendation",
    "sections": "Section",
}


def _field_label(where: str, titles: dict[str, str], sections: list[str]) -> str:
    match = _WHERE.match(where)
    if not match:
        return where.replace("_", " ").capitalize()
    kind, index, name = match.group(1), int(match.group(2)), match.group(3)
    if kind == "sections" and index < len(sections):
        return f"Section {titles.get(sections[index], sections[index])}"
    return f"{_LABELS[kind]} {index + 1}" + (f" · {name}" if name and name != "markdown" else "")


def _mark(warning: GroundingWarning) -> Marked | None:
    claim = warning.claim
    if not claim:
        return None
    words = warning.text or ""
    at = claim.find(words) if words else -1
    if at < 0:
        return Marked(claim, "", "")
    return Marked(claim[:at], words, claim[at + len(words) :])


def current_rev(run: RunFolder, persona_id: str) -> int | None:
    current = read_history(run, persona_id).current
    return current.rev if current is not None else None


def previous_sent(workspace: Workspace, run: RunFolder, persona_id: str) -> SentCopy | None:
    """The newest sent revision before the current one: earlier in this run, else in an
    earlier run; its message is shown when the bytes sent are still on disk."""
    current = current_rev(run, persona_id)
    folder: RunFolder | None = run
    while folder is not None:
        records = open_ledger(folder, folder.read_manifest().ledger).records()
        delivery = delivery_states(records).get(persona_id)
        sent = delivery.last_sent() if delivery is not None else None
        if sent is not None and not (folder == run and sent[0] == current):
            rev, record = sent
            return SentCopy(
                folder.run_id,
                rev,
                f"{record.ts:%Y-%m-%d %H:%M}Z",
                record.transport,
                _sent_bytes(folder, persona_id, rev, record.message_id),
            )
        folder = previous_run(workspace.outputs, folder)
    return None


def _sent_bytes(run: RunFolder, persona_id: str, rev: int, message_id: str | None) -> Path | None:
    eml = run.persona_dir(persona_id) / "message.eml"
    revision = next((r for r in read_history(run, persona_id).revisions if r.rev == rev), None)
    if revision is not None and eml.is_file() and sha256_file(eml) == revision.eml_sha256:
        return eml
    # the file transport keeps what it delivered, whatever was rendered after it
    for copy in sorted(run.outbox.glob(f"{persona_id}*.eml")):
        parsed = message_from_bytes(copy.read_bytes(), policy=SMTP)
        if message_id is not None and message_id in str(parsed.get("Message-ID", "")):
            return copy
    return None


def brief_page(
    workspace: Workspace, run: RunFolder, persona: Persona, bundle: Bundle, audit: str | None
) -> BriefPage:
    manifest = run.read_manifest()
    outcome = manifest.personas[persona.id]
    row = next(r for r in review_rows(run, manifest) if r.persona == persona.id)
    report = run.read_report(persona.id) if run.report_path(persona.id).is_file() else None
    titles = {s.id: s.title for s in persona.sections}
    section_ids = [s.id for s in report.sections] if report is not None else []
    warnings = [
        WarningView(warning_key(w), w, _field_label(w.where, titles, section_ids), _mark(w))
        for w in outcome.warnings
    ]
    facts = bundle.fact_index()
    citations = (
        [
            CitedFact(n, facts.get(n.fact_id), full_source(facts[n.fact_id]) if n.known else "")
            for n in Citations(report, facts).notes
        ]
        if report is not None
        else []
    )
    subject, addresses, recipients = "", "", []
    if pipeline.is_rendered(run, persona.id):
        message = load_message(run, persona.id)
        headers = message_from_bytes(message.raw, policy=SMTP)
        subject = str(headers.get("Subject", ""))
        # the subject has a line of its own on the page
        addresses = describe_message(message, audit).partition(" | Subject ")[0]
        recipients = message.envelope.recipients
    since_diff = pipeline.since_last_run(workspace, run)
    since = (
        summarise_changes(changes_in_lens(since_diff, persona.evidence))
        if since_diff is not None
        else None
    )
    written = {s.id: s.markdown for s in report.sections} if report is not None else {}
    sections = [Section(s.id, s.title, written.get(s.id, "")) for s in persona.sections]
    return BriefPage(
        run_id=run.run_id,
        persona=persona.id,
        title=outcome.title,
        row=row,
        rev=current_rev(run, persona.id),
        subject=subject,
        addresses=addresses,
        recipients=recipients,
        warnings=warnings,
        citations=citations,
        since=since,
        since_base=since_diff.base_run if since_diff is not None else None,
        previous=previous_sent(workspace, run, persona.id),
        sections=sections,
        note=outcome.note,
        files=row.files,
    )


def html_part(eml: Path) -> str:
    """The HTML part of a message as its recipient's mail client shows it: the charts it
    carries as related parts are inlined, so the frame fetches nothing."""
    message = message_from_bytes(eml.read_bytes(), policy=SMTP)
    assert isinstance(message, EmailMessage)  # the SMTP policy parses to EmailMessage
    body = message.get_body(("html",))
    if body is None:
        return "<p>This message has no HTML part.</p>"
    html = str(body.get_content())
    for part in message.walk():
        # a long Content-ID is folded onto a second line
        cid = "".join(str(part.get("Content-ID", "")).split()).strip("<>")
        payload = part.get_payload(decode=True)
        if cid and isinstance(payload, bytes):
            uri = f"data:{part.get_content_type()};base64,{base64.b64encode(payload).decode()}"
            html = html.replace(f"cid:{cid}", uri)
    return html
