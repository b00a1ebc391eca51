"""Each desk action through Flask's test client: what it records (the same files the CLI
writes) and how it refuses: a stale revision, an unacknowledged warning, an unapproved
send through smtp, a resend without its confirmation, a regenerate the model fails."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from markupsafe import escape

from execbrief.citations import full_source
from execbrief.desk.pages import warning_key
from execbrief.models import Manifest, Provenance, SendEvent, SendRecord
from execbrief.revisions import read_history
from execbrief.runs import RunFolder
from tests.desk_client import ANALYST, RECIPIENT, Desk, copy_run, open_desk, use_smtp
from tests.mail_servers import Inbox, smtp_inbox
from tests.messages_api_server import Fault, MessagesApiServer, serving_anthropic

INVENTED = "Revenue reached $12,345 last month."


@pytest.fixture
def desk(desk_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Desk:
    monkeypatch.setenv("SES_TO_ADDRESS", RECIPIENT)
    return open_desk(copy_run(desk_template, tmp_path / "copy"))


@pytest.fixture
def smtp_desk(desk: Desk) -> Iterator[tuple[Desk, Inbox]]:
    with smtp_inbox() as (inbox, port):
        use_smtp(desk.workspace, port)
        yield open_desk(desk.workspace), inbox


def _manifest(desk: Desk) -> Manifest:
    return RunFolder(desk.run).read_manifest()


def _ledger(desk: Desk) -> list[SendRecord]:
    path = desk.run / "send-ledger.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [SendRecord.model_validate_json(line) for line in lines]


def _with_warning(desk: Desk, persona: str = "ceo") -> None:
    section = _manifest_sections(desk, persona)[0]
    messages = desk.act(persona, "edit", section=section, markdown=INVENTED)
    assert messages[0][0] == "ok", messages


def _manifest_sections(desk: Desk, persona: str) -> list[str]:
    report = json.loads((desk.run / persona / "report.json").read_text())
    return [s["id"] for s in report["sections"]]


# --- approve ----------------------------------------------------------------------------


def test_approve_records_who_approved_which_revision(desk: Desk) -> None:
    messages = desk.act("ceo", "approve", by="bo@execbrief-e2e.dev")

    assert messages == [("ok", "Approved ceo rev 1 as bo@execbrief-e2e.dev")]
    (approval,) = read_history(RunFolder(desk.run), "ceo").approvals
    assert (approval.rev, approval.by) == (1, "bo@execbrief-e2e.dev")
    assert "approved" in desk.page(f"/runs/{desk.run.name}")


def test_approve_defaults_to_the_analyst(desk: Desk) -> None:
    assert desk.act("cfo", "approve") == [("ok", f"Approved cfo rev 1 as {ANALYST}")]


def test_an_unacknowledged_warning_refuses_the_approval(desk: Desk) -> None:
    _with_warning(desk)
    warnings = _manifest(desk).personas["ceo"].warnings
    assert warnings

    refused = desk.act("ceo", "approve")
    keys = [warning_key(w) for w in warnings]
    partly = desk.act("ceo", "approve", ack=keys[:-1]) if len(keys) > 1 else refused
    accepted = desk.act("ceo", "approve", ack=keys)

    assert refused[0][0] == "error"
    assert f"ceo: {len(keys)} of {len(keys)} grounding warnings not acknowledged" in refused[0][1]
    assert partly[0][0] == "error"
    assert accepted[0] == (
        "ok",
        f"Approved ceo rev 2 as {ANALYST}, {len(keys)} warnings acknowledged",
    )
    (approval,) = read_history(RunFolder(desk.run), "ceo").approvals
    assert approval.accepted_warnings == len(keys)


def test_a_stale_revision_refuses_the_approval(desk: Desk) -> None:
    shown = desk.rev("ceo")
    csrf = desk.csrf()
    _with_warning(desk)  # another tab edits: rev 2

    answer = desk.client.post(
        f"{desk.brief('ceo')}/approve", data={"csrf": csrf, "rev": shown}, follow_redirects=True
    )

    assert answer.status_code == 200
    assert "ceo: this page showed rev 1, but the draft is now rev 2; nothing was done" in (
        answer.text
    )
    assert read_history(RunFolder(desk.run), "ceo").approvals == []


def test_the_state_endpoint_tells_a_second_tab_the_revision(desk: Desk) -> None:
    state = f"{desk.brief('ceo')}/state.json"
    before = desk.client.get(state).get_json()
    _with_warning(desk)
    after = desk.client.get(state).get_json()

    assert before == {"rev": 1, "job": None}
    assert after == {"rev": 2, "job": None}


# --- edit -------------------------------------------------------------------------------


def test_an_edited_section_is_saved_rendered_and_checked_again(desk: Desk) -> None:
    section = _manifest_sections(desk, "cfo")[0]

    messages = desk.act("cfo", "edit", section=section, markdown=INVENTED)

    report = json.loads((desk.run / "cfo" / "report.json").read_text())
    assert {s["id"]: s["markdown"] for s in report["sections"]}[section] == INVENTED
    outcome = _manifest(desk).personas["cfo"]
    assert outcome.provenance is Provenance.EDITED
    assert any(w.text == "$12,345" for w in outcome.warnings)
    assert messages[0][0] == "ok"
    assert messages[0][1].startswith(f"Saved section {section} and rendered rev 2:")
    assert "$12,345 [unverified]" in (desk.run / "cfo" / "report.md").read_text()
    page = desk.page(desk.brief("cfo"))
    assert "<mark>$12,345</mark>" in page


def test_editing_a_section_the_persona_does_not_have_is_refused(desk: Desk) -> None:
    messages = desk.act("cfo", "edit", section="nonsense", markdown="x")

    assert messages[0][0] == "error"
    assert "cfo has no section 'nonsense'" in messages[0][1]
    assert read_history(RunFolder(desk.run), "cfo").current.rev == 1  # type: ignore[union-attr]


def test_a_secret_typed_into_a_section_is_masked_before_it_is_saved(desk: Desk) -> None:
    section = _manifest_sections(desk, "cfo")[0]
    key = "sk_live_" + "51HxQzR8tK2mVbN7cYwPdLf3aa"

    desk.act("cfo", "edit", section=section, markdown=f"The key {key} is live.")

    assert key not in (desk.run / "cfo" / "report.json").read_text()
    assert key not in (desk.run / "cfo" / "message.eml").read_text()


# --- send -------------------------------------------------------------------------------


def test_send_through_the_file_transport_then_resend_only_when_confirmed(desk: Desk) -> None:
    sent = desk.act("cfo", "send")
    again = desk.act("cfo", "send")
    unconfirmed = desk.act("cfo", "resend")
    confirmed = desk.act("cfo", "resend", confirm="yes")

    assert sent[0][0] == "ok"
    assert sent[0][1].startswith("Sent: cfo (")
    assert again[0][0] == "error"
    assert "cfo rev 1 was already sent in run" in again[0][1]
    assert unconfirmed[0][0] == "error"
    assert "sending again needs the confirmation ticked; nothing was sent" in unconfirmed[0][1]
    assert confirmed[0][0] == "ok"
    records = [r for r in _ledger(desk) if r.event is SendEvent.SENT]
    assert [(r.persona, r.transport, r.revision) for r in records] == [("cfo", "file", 1)] * 2
    assert len(list((desk.run / "outbox").glob("cfo*.eml"))) == 2
    assert "Send again" in desk.page(desk.brief("cfo"))


def test_an_unapproved_brief_is_not_sent_through_smtp(smtp_desk: tuple[Desk, Inbox]) -> None:
    desk, inbox = smtp_desk

    refused = desk.act("ceo", "send")
    desk.act("ceo", "approve")
    sent = desk.act("ceo", "send")

    assert refused[0] == (
        "error",
        "ceo: rev 1 is not approved; nothing was sent (hint: review the draft "
        "(`execbrief review`), then run `execbrief approve --persona ceo`)",
    )
    assert sent[0][0] == "ok", sent
    assert len(inbox.received) == 1
    recipients, _ = inbox.received[0]
    assert RECIPIENT in recipients
    assert [(r.event, r.transport) for r in _ledger(desk)][-1] == (SendEvent.SENT, "smtp")


def test_a_test_send_goes_to_the_analyst_only_and_changes_no_state(
    smtp_desk: tuple[Desk, Inbox],
) -> None:
    desk, inbox = smtp_desk

    messages = desk.act("cfo", "test")

    assert messages[0][0] == "ok"
    assert messages[0][1].startswith("Test sent: cfo (")
    ((recipients, raw),) = inbox.received
    assert recipients == [ANALYST]
    assert message_from_bytes(raw, policy=policy.default)["Subject"].startswith("[TEST] ")
    (record,) = [r for r in _ledger(desk) if r.event is SendEvent.SENT]
    assert record.test
    assert "not sent" in desk.page(f"/runs/{desk.run.name}")


def test_a_test_send_to_a_reserved_address_is_refused(smtp_desk: tuple[Desk, Inbox]) -> None:
    desk, inbox = smtp_desk

    messages = desk.act("cfo", "test", to="me@example.com")

    assert messages[0][0] == "error"
    assert "reserved domain" in messages[0][1]
    assert inbox.received == []


# --- regenerate -------------------------------------------------------------------------


def _wait_for_job(desk: Desk, persona: str) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = desk.client.get(f"{desk.brief(persona)}/state.json").get_json()["job"]
        if job is not None and job["state"] != "running":
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the regenerate did not finish")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessagesApiServer]:
    with serving_anthropic(monkeypatch, ttfb=0.05, tokens_per_second=20_000) as server:
        yield server


def test_regenerate_with_a_note_puts_it_in_the_prompt_and_makes_a_new_revision(
    desk: Desk, api: MessagesApiServer
) -> None:
    note = "Lead with the cash runway; the board meets on Friday."

    started = desk.act("cfo", "regenerate", note=note)
    job = _wait_for_job(desk, "cfo")

    assert started[0] == ("ok", "Regenerating cfo with your note")
    assert job["state"] == "done", job
    assert str(job["message"]).startswith("Regenerated cfo: rev 2,")
    (request,) = api.messages()
    assert note in json.dumps(request.body)
    outcome = _manifest(desk).personas["cfo"]
    assert (outcome.provider, outcome.note) == ("anthropic", note)
    assert read_history(RunFolder(desk.run), "cfo").current.rev == 2  # type: ignore[union-attr]
    assert "Last regenerate: Regenerated cfo" in desk.page(desk.brief("cfo"))


def test_a_regenerate_the_model_fails_shows_why_and_keeps_the_draft(
    desk: Desk, api: MessagesApiServer
) -> None:
    config = desk.workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace("concurrency: 8", "concurrency: 8\n  max_attempts: 1")
    )
    api.inject(Fault(500))
    desk = open_desk(desk.workspace)
    before = (desk.run / "cfo" / "report.json").read_bytes()

    desk.act("cfo", "regenerate")
    job = _wait_for_job(desk, "cfo")

    assert job["state"] == "failed"
    assert str(job["message"]).startswith("cfo failed:")
    assert "500" in str(job["message"])
    assert (desk.run / "cfo" / "report.json").read_bytes() == before
    assert "Last regenerate: cfo failed:" in desk.page(desk.brief("cfo"))


def test_a_regenerate_on_a_stale_revision_is_refused(desk: Desk) -> None:
    answer = desk.client.post(
        f"{desk.brief('cfo')}/regenerate",
        data={"csrf": desk.csrf(), "rev": "7"},
        follow_redirects=True,
    )

    assert "this page showed rev 7, but the draft is now rev 1" in answer.text
    assert desk.client.get(f"{desk.brief('cfo')}/state.json").get_json()["job"] is None


# --- what the pages show ----------------------------------------------------------------


def test_delivery_events_and_an_in_doubt_send_show_on_the_run_and_the_brief(desk: Desk) -> None:
    from datetime import UTC, datetime

    from execbrief.jsonl import append_line
    from execbrief.mail.ledger import append_record
    from execbrief.models import DeliveryEvent, DeliveryEventKind

    run = RunFolder(desk.run)
    bounce = DeliveryEvent(
        event_id="e1",
        ts=datetime(2026, 12, 1, 9, tzinfo=UTC),
        run=run.run_id,
        persona="cfo",
        message_id="m-1",
        kind=DeliveryEventKind.BOUNCE,
        recipient=RECIPIENT,
        bounce_type="Permanent",
        diagnostic="550 5.1.1 no such user",
    )
    append_line(run.events_path, bounce.model_dump_json())
    attempt = SendRecord(
        ts=datetime(2026, 12, 1, 9, tzinfo=UTC),
        run=run.run_id,
        persona="ceo",
        event=SendEvent.ATTEMPT,
        transport="smtp",
        message_id="<m-2@x>",
        revision=1,
    )
    append_record(run.ledger_path, attempt)

    overview = desk.page(f"/runs/{run.run_id}")
    brief = desk.page(desk.brief("cfo"))

    event = f"{RECIPIENT}: bounced (Permanent: 550 5.1.1 no such user)"
    assert event in overview
    assert event in brief
    assert '<span class="badge bad">in doubt</span>' in overview
    in_doubt = desk.page(desk.brief("ceo"))
    assert "Rev 1 is in doubt: attempt at 2026-12-01 09:00Z has no known outcome" in in_doubt
    assert "Send again" in in_doubt


def test_citations_open_the_cited_fact_and_since_the_last_brief_compares_runs(
    desk: Desk,
) -> None:
    first = RunFolder(desk.run)
    bundle = first.read_bundle()
    report = json.loads((desk.run / "cfo" / "report.json").read_text())
    cited = report["findings"][0]["evidence"][0]
    fact = bundle.fact_index()[cited]
    page = desk.page(desk.brief("cfo"))
    # a later run whose evidence no longer has that fact: resolved since the last brief
    second = RunFolder(desk.run.parent / "20991231T000000Z")
    shutil.copytree(first.path, second.path)
    second.write_bundle(
        bundle.model_copy(update={"facts": [f for f in bundle.facts if f.id != cited]})
    )
    later = desk.page(f"/runs/{second.run_id}/cfo")

    assert f'id="fact-{cited}"' in page
    assert escape(fact.title) in page
    assert escape(full_source(fact)) in page
    assert "This is the first run: nothing to compare with." in page
    assert f"Since run {first.run_id}: 1 resolved" in later
    assert f'<span class="badge">resolved</span> {escape(fact.title)}' in later
