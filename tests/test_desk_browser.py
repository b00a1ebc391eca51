"""The review desk in headless Chromium: edit a section and see its warning, approve it
acknowledged, send over SMTP on loopback; regenerate with a note against the local
Messages API while the page shows progress, send through the file transport; a second
tab is told its revision is stale. One browser for the module."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from execbrief.models import SendEvent, SendRecord
from execbrief.revisions import read_history
from execbrief.runs import RunFolder
from tests.browser import chromium, chromium_path
from tests.desk_client import ANALYST, RECIPIENT, copy_run, latest, serve_desk, use_smtp
from tests.mail_servers import smtp_inbox
from tests.messages_api_server import MessagesApiServer

pytestmark = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (apt-get install chromium); CI installs it",
)

INVENTED = "Revenue reached $12,345 last month."


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def workspace(desk_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SES_TO_ADDRESS", RECIPIENT)
    return copy_run(desk_template, tmp_path / "copy")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert errors == []


def _ledger(run: Path) -> list[SendRecord]:
    lines = (run / "send-ledger.jsonl").read_text().splitlines()
    return [SendRecord.model_validate_json(line) for line in lines]


def _open_brief(page: Page, url: str, persona: str) -> None:
    page.goto(url)
    page.click(f"tr[data-persona={persona}] a")
    expect(page.locator("h1")).to_contain_text("rev")


def test_edit_see_the_warning_approve_it_acknowledged_and_send_over_smtp(
    page: Page, workspace: Path
) -> None:
    with smtp_inbox() as (inbox, port):
        use_smtp(workspace, port)
        with serve_desk(workspace) as url:
            _open_brief(page, url, "ceo")
            # the brief as the recipient sees it, in a frame that runs nothing
            frame = page.frame_locator("iframe").first
            expect(frame.locator("body")).to_contain_text("Chief Executive Officer")
            page.locator("#sections summary").first.click()
            page.locator("#sections textarea").first.fill(INVENTED)
            page.locator("#sections button").first.click()
            expect(page.locator(".flash.ok")).to_contain_text("rendered rev 2: 1 grounding")
            warning = page.locator("li.warning")
            expect(warning).to_have_count(1)
            expect(warning.locator("mark")).to_have_text("$12,345")

            page.click("#approve button")
            expect(page.locator(".flash.error")).to_contain_text(
                "1 of 1 grounding warnings not acknowledged"
            )
            page.check("li.warning input[type=checkbox]")
            page.click("#approve button")
            expect(page.locator(".flash.ok")).to_have_text(
                f"Approved ceo rev 2 as {ANALYST}, 1 warnings acknowledged"
            )

            page.click("#send button.primary")
            expect(page.locator(".flash.ok")).to_contain_text("Sent: ceo (")
            expect(page.locator("#send")).to_contain_text("Send again")
            page.click("text=Run ")
            expect(page.locator("tr[data-persona=ceo] .badge").first).to_have_text("sent")

    run = latest(workspace)
    ((recipients, raw),) = inbox.received
    assert RECIPIENT in recipients
    assert b"$12,345 [unverified]" in raw
    (record,) = [r for r in _ledger(run) if r.event is SendEvent.SENT]
    assert (record.persona, record.transport, record.revision) == ("ceo", "smtp", 2)
    (approval,) = read_history(RunFolder(run), "ceo").approvals
    assert (approval.rev, approval.by, approval.accepted_warnings) == (2, ANALYST, 1)


def test_regenerate_with_a_note_shows_progress_then_send_through_the_file_transport(
    page: Page, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = "Open with the cash runway: the board meets on Friday."
    # slow enough that the page shows the model writing
    with MessagesApiServer(ttfb=0.8, tokens_per_second=2_000) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        with serve_desk(workspace) as url:
            _open_brief(page, url, "cfo")
            page.fill("#note", note)
            page.click("#regenerate button")
            expect(page.locator("#job")).to_contain_text("Regenerating:")
            expect(page.locator("#job")).to_contain_text(
                re.compile(r"Last regenerate: Regenerated cfo: rev 2"), timeout=20_000
            )
            expect(page.locator("h1")).to_contain_text("rev 2")
            expect(page.locator("#note")).to_have_value(note)

            page.click("#send button.primary")
            expect(page.locator(".flash.ok")).to_contain_text("Sent: cfo (")

    (request,) = api.messages()
    assert note in json.dumps(request.body)
    run = latest(workspace)
    (record,) = [r for r in _ledger(run) if r.event is SendEvent.SENT]
    assert (record.persona, record.transport, record.revision) == ("cfo", "file", 2)
    assert len(list((run / "outbox").glob("cfo*.eml"))) == 1


def test_a_second_tab_is_told_its_revision_changed_and_its_approve_is_refused(
    page: Page, workspace: Path
) -> None:
    with serve_desk(workspace) as url:
        _open_brief(page, url, "cfo")
        other = page.context.new_page()
        other.goto(page.url)
        page.locator("#sections summary").first.click()
        page.locator("#sections textarea").first.fill("The books closed on time.")
        page.locator("#sections button").first.click()
        expect(page.locator(".flash.ok")).to_contain_text("rendered rev 2")

        expect(other.locator("#stale")).to_contain_text("now rev 2", timeout=10_000)
        other.click("#approve button")
        expect(other.locator(".flash.error")).to_contain_text(
            "this page showed rev 1, but the draft is now rev 2; nothing was done"
        )
    assert read_history(RunFolder(latest(workspace)), "cfo").approvals == []
