"""The desk's pages and actions; each action is one pipeline call, as a CLI command is."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from execbrief import pipeline
from execbrief.config import Workspace
from execbrief.desk.jobs import Job, Jobs
from execbrief.desk.pages import (
    brief_page,
    current_rev,
    html_part,
    previous_sent,
    run_page,
    warning_key,
)
from execbrief.desk.security import MESSAGE_POLICY
from execbrief.errors import ConfigError, ExecbriefError, RefusedError
from execbrief.models import DeliveryAction, DeliveryOutcome, Persona, PersonaStatus
from execbrief.runs import LATEST, RunFolder

bp = Blueprint("desk", __name__)

# Files of a run the desk hands out as they are; HTML only ever through the sandboxed frame.
_FILE_TYPES = {
    ".md": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".eml": "text/plain; charset=utf-8",
    ".png": "image/png",
}
# How long an action waits for a running regenerate before saying the desk is busy.
_BUSY_SECONDS = 1.0


@dataclass
class Desk:
    """What every request of one desk shares."""

    workspace: Workspace
    analyst: str
    jobs: Jobs
    # one writer at a time: generate and render rewrite the run's manifest
    lock: threading.Lock


def desk() -> Desk:
    found = current_app.extensions["execbrief.desk"]
    assert isinstance(found, Desk)
    return found


def _run(run_id: str) -> RunFolder:
    try:
        run = pipeline.resolve_run(desk().workspace, run_id)
        run.read_manifest()
    except ConfigError:
        abort(404)
    return run


def _known(run: RunFolder, persona_id: str) -> str:
    """A persona of this run's manifest, or 404: what a path may name."""
    if persona_id not in run.read_manifest().personas:
        abort(404)
    return persona_id


def _persona(run: RunFolder, persona_id: str) -> Persona:
    _known(run, persona_id)
    try:
        return pipeline.personas_for(desk().workspace, [persona_id])[0]
    except ConfigError:
        abort(404)


def _describe(exc: ExecbriefError) -> str:
    return str(exc) + (f" (hint: {exc.hint})" if exc.hint else "")


# --- pages ------------------------------------------------------------------------------


@bp.get("/")
def home() -> BaseResponse | str:
    try:
        run = pipeline.resolve_run(desk().workspace, LATEST)
    except ConfigError as exc:
        return render_template("desk/empty.html.j2", message=_describe(exc))
    return redirect(url_for("desk.run_view", run_id=run.run_id))


@bp.get("/runs/<run_id>")
def run_view(run_id: str) -> str:
    run = _run(run_id)
    page = run_page(desk().workspace, run)
    running = {j.persona for j in desk().jobs.running(run.run_id)}
    return render_template("desk/run.html.j2", page=page, running=running)


@bp.get("/runs/<run_id>/<persona_id>")
def brief_view(run_id: str, persona_id: str) -> str:
    ws = desk().workspace
    run = _run(run_id)
    persona = _persona(run, persona_id)
    audit = pipeline.mail_settings(ws).mail.bcc_audit
    page = brief_page(ws, run, persona, run.read_bundle(), audit)
    return render_template(
        "desk/brief.html.j2",
        page=page,
        job=desk().jobs.get(run.run_id, persona.id),
        analyst=desk().analyst,
    )


@bp.get("/runs/<run_id>/<persona_id>/state.json")
def state(run_id: str, persona_id: str) -> Response:
    """What a second tab polls: the current revision and any regenerate under way."""
    run = _run(run_id)
    persona = _known(run, persona_id)
    job = desk().jobs.get(run.run_id, persona)
    return jsonify(rev=current_rev(run, persona), job=job.as_json() if job is not None else None)


def _frame(eml: Path | None) -> Response:
    html = html_part(eml) if eml is not None and eml.is_file() else "<p>Not on disk.</p>"
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MESSAGE_POLICY
    return response


@bp.get("/runs/<run_id>/<persona_id>/message.html")
def message_frame(run_id: str, persona_id: str) -> Response:
    run = _run(run_id)
    return _frame(run.persona_dir(_known(run, persona_id)) / "message.eml")


@bp.get("/runs/<run_id>/<persona_id>/sent.html")
def sent_frame(run_id: str, persona_id: str) -> Response:
    run = _run(run_id)
    previous = previous_sent(desk().workspace, run, _known(run, persona_id))
    return _frame(previous.eml if previous is not None else None)


@bp.get("/runs/<run_id>/files/<path:name>")
def run_file(run_id: str, name: str) -> Response:
    run = _run(run_id)
    outputs = desk().workspace.outputs.resolve()
    target = (run.path / name).resolve()
    kind = _FILE_TYPES.get(target.suffix)
    if (
        kind is None
        or not target.is_relative_to(run.path.resolve())
        or not target.is_relative_to(outputs)
        or not target.is_file()
    ):
        abort(404)
    return send_file(target, mimetype=kind)


# --- actions ----------------------------------------------------------------------------

Action = Callable[[Desk, RunFolder, Persona], str]


def _check_fresh(run: RunFolder, persona: str) -> None:
    """Refuse a form shown for another revision (a second tab, the CLI, a regenerate)."""
    shown = request.form.get("rev", "")
    current = current_rev(run, persona)
    if shown != str(current):
        raise RefusedError(
            f"{persona}: this page showed rev {shown or 'none'}, but the draft is now rev "
            f"{current}; nothing was done",
            hint="read the current revision below, then act on it",
        )


def _act(run_id: str, persona_id: str, action: Action) -> BaseResponse:
    the_desk = desk()
    run = _run(run_id)
    persona = _persona(run, persona_id)
    try:
        _check_fresh(run, persona.id)
        if not the_desk.lock.acquire(timeout=_BUSY_SECONDS):
            raise RefusedError(
                "the desk is busy regenerating a brief; nothing was done",
                hint="try again when its progress shows done",
            )
        try:
            flash(action(the_desk, run, persona), "ok")
        finally:
            the_desk.lock.release()
    except ExecbriefError as exc:
        flash(_describe(exc), "error")
    return redirect(url_for("desk.brief_view", run_id=run.run_id, persona_id=persona.id), 303)


def _approve(the_desk: Desk, run: RunFolder, persona: Persona) -> str:
    acknowledged = set(request.form.getlist("ack"))
    by = request.form.get("by", "").strip() or the_desk.analyst
    (result,) = pipeline.approve(
        the_desk.workspace,
        run,
        [persona.id],
        by=by,
        acknowledge=lambda _persona, warning: warning_key(warning) in acknowledged,
    )
    if result.already:
        return f"{persona.id} rev {result.rev} was already approved by {result.by}"
    accepted = (
        f", {result.accepted_warnings} warnings acknowledged" if result.accepted_warnings else ""
    )
    return f"Approved {persona.id} rev {result.rev} as {result.by}{accepted}"


def _delivered(outcome: DeliveryOutcome, test: bool) -> str:
    if outcome.action is DeliveryAction.SENT:
        what = "Test sent" if test else "Sent"
        return f"{what}: {outcome.persona} ({outcome.message_id})"
    # failed and in doubt are errors the analyst must see; they are already in the ledger
    raise RefusedError(f"{outcome.persona} {outcome.action.value}: {outcome.detail}")


def _send(the_desk: Desk, run: RunFolder, persona: Persona, *, force: bool = False) -> str:
    (outcome,) = pipeline.send(the_desk.workspace, run, [persona.id], requested=True, force=force)
    return _delivered(outcome, test=False)


def _resend(the_desk: Desk, run: RunFolder, persona: Persona) -> str:
    if request.form.get("confirm") != "yes":
        raise RefusedError(
            f"{persona.id}: sending again needs the confirmation ticked; nothing was sent",
            hint="tick “I checked: send this revision again”, as `send --force` would",
        )
    return _send(the_desk, run, persona, force=True)


def _test_send(the_desk: Desk, run: RunFolder, persona: Persona) -> str:
    address = request.form.get("to", "").strip() or the_desk.analyst
    (outcome,) = pipeline.send(
        the_desk.workspace, run, [persona.id], requested=True, test_to=address
    )
    return _delivered(outcome, test=True)


def _edit(the_desk: Desk, run: RunFolder, persona: Persona) -> str:
    section = request.form.get("section", "")
    text = request.form.get("markdown", "").replace("\r\n", "\n")
    pipeline.edit_section(the_desk.workspace, run, persona, section, text)
    warnings = len(run.read_manifest().personas[persona.id].warnings)
    return (
        f"Saved section {section} and rendered rev {current_rev(run, persona.id)}: "
        f"{warnings} grounding warnings"
    )


@bp.post("/runs/<run_id>/<persona_id>/approve")
def approve(run_id: str, persona_id: str) -> BaseResponse:
    return _act(run_id, persona_id, _approve)


@bp.post("/runs/<run_id>/<persona_id>/send")
def send(run_id: str, persona_id: str) -> BaseResponse:
    return _act(run_id, persona_id, _send)


@bp.post("/runs/<run_id>/<persona_id>/resend")
def resend(run_id: str, persona_id: str) -> BaseResponse:
    return _act(run_id, persona_id, _resend)


@bp.post("/runs/<run_id>/<persona_id>/test")
def test_send(run_id: str, persona_id: str) -> BaseResponse:
    return _act(run_id, persona_id, _test_send)


@bp.post("/runs/<run_id>/<persona_id>/edit")
def edit(run_id: str, persona_id: str) -> BaseResponse:
    return _act(run_id, persona_id, _edit)


@bp.post("/runs/<run_id>/<persona_id>/regenerate")
def regenerate(run_id: str, persona_id: str) -> BaseResponse:
    the_desk = desk()
    run = _run(run_id)
    persona = _persona(run, persona_id)
    note = request.form.get("note", "").strip() or None
    try:
        _check_fresh(run, persona.id)
        started = the_desk.jobs.start(
            run.run_id, persona.id, lambda job: _regenerate(the_desk, run, persona, note, job)
        )
        if started is None:
            raise RefusedError(f"{persona.id} is already being regenerated")
        flash(f"Regenerating {persona.id}" + (" with your note" if note else ""), "ok")
    except ExecbriefError as exc:
        flash(_describe(exc), "error")
    return redirect(url_for("desk.brief_view", run_id=run.run_id, persona_id=persona.id), 303)


def _regenerate(
    the_desk: Desk, run: RunFolder, persona: Persona, note: str | None, job: Job
) -> str:
    """What `execbrief generate --persona ID --note TEXT` does, then its render."""
    job.step = "waiting for the desk"
    with the_desk.lock:

        def started(provider: str, _count: int) -> None:
            job.step = f"the model writes (provider {provider})"

        hooks = pipeline.Hooks(generation_started=started)
        _, (outcome,) = pipeline.generate(the_desk.workspace, run, [persona], hooks, note=note)
        job.step = "rendering and checking"
        pipeline.render(the_desk.workspace, run, [persona])
    if outcome.status is PersonaStatus.FAILED:
        raise RefusedError(f"{persona.id} failed: {outcome.error}")
    job.step = "done"
    warnings = len(run.read_manifest().personas[persona.id].warnings)
    return (
        f"Regenerated {persona.id}: rev {current_rev(run, persona.id)}, "
        f"{warnings} grounding warnings"
    )
