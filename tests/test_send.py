"""Safe resend: the ledger records every attempt; nothing is sent twice by accident."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from execbrief.config import load_workspace
from execbrief.errors import RefusedError, SendError
from execbrief.mail.ledger import read_records
from execbrief.models import DeliveryAction, OutgoingMessage, SendEvent
from execbrief.runs import RunFolder, open_run
from execbrief.send import send_run
from tests.conftest import Cli


class Killed(BaseException):
    """Stands for the process dying: nothing after it runs."""


class FlakyTransport:
    """Fails the personas named in `failing` once, then delivers."""

    name = "flaky"
    delivers = False

    def __init__(self, failing: set[str]) -> None:
        self.failing = set(failing)
        self.delivered: list[str] = []

    def preflight(self, messages: Sequence[OutgoingMessage]) -> None:
        """A fake with nothing to check."""

    def send(self, message: OutgoingMessage) -> str:
        if message.persona in self.failing:
            self.failing.discard(message.persona)
            raise SendError("421 try again later", transport=self.name)
        self.delivered.append(message.persona)
        return f"<{message.persona}@flaky>"


@pytest.fixture
def drafted(cli: Cli, example_workspace: Path) -> RunFolder:
    assert cli("run", "--workspace", example_workspace, "--no-send").code == 0
    return open_run(load_workspace(example_workspace).outputs)


PERSONAS = ["ceo", "cfo", "cto"]


def test_a_failed_send_is_recorded_and_retried_by_the_next_send(drafted: RunFolder) -> None:
    transport = FlakyTransport(failing={"cfo"})

    first = send_run(drafted, PERSONAS, transport, requested=False)
    second = send_run(drafted, PERSONAS, transport, requested=False)

    assert [o.action for o in first] == [
        DeliveryAction.SENT,
        DeliveryAction.FAILED,
        DeliveryAction.SENT,
    ]
    assert [(o.persona, o.action) for o in second] == [
        ("ceo", DeliveryAction.SKIPPED),
        ("cfo", DeliveryAction.SENT),
        ("cto", DeliveryAction.SKIPPED),
    ]
    events = [(r.persona, r.event) for r in read_records(drafted.ledger_path)]
    assert events.count(("cfo", SendEvent.FAILED)) == 1
    assert events.count(("cfo", SendEvent.SENT)) == 1
    assert transport.delivered == ["ceo", "cto", "cfo"]


def test_a_sender_killed_mid_send_skips_that_persona_until_it_alone_is_forced(
    drafted: RunFolder,
) -> None:
    def die(persona: str) -> None:
        if persona == "cfo":
            raise Killed

    with pytest.raises(Killed):
        send_run(drafted, PERSONAS, FlakyTransport(set()), requested=False, after_attempt=die)
    last = read_records(drafted.ledger_path)[-1]
    assert (last.persona, last.event) == ("cfo", SendEvent.ATTEMPT)

    transport = FlakyTransport(set())
    second = send_run(drafted, PERSONAS, transport, requested=False)

    assert [(o.persona, o.action) for o in second] == [
        ("ceo", DeliveryAction.SKIPPED),
        ("cfo", DeliveryAction.IN_DOUBT),
        ("cto", DeliveryAction.SENT),
    ]
    assert "look for Message-ID <" in second[1].detail
    assert "`execbrief send --persona cfo --force`" in second[1].detail
    assert transport.delivered == ["cto"]
    with pytest.raises(RefusedError, match="--force sends again only the personas it names"):
        send_run(drafted, PERSONAS, transport, requested=False, force=True)

    forced = send_run(drafted, ["cfo"], transport, requested=True, force=True)

    assert [o.action for o in forced] == [DeliveryAction.SENT]
    assert transport.delivered == ["cto", "cfo"]


def test_the_cli_says_how_to_check_an_in_doubt_send_and_releases_only_the_named_persona(
    cli: Cli, example_workspace: Path, drafted: RunFolder
) -> None:
    assert cli("send", "--workspace", example_workspace, "--persona", "ceo").code == 0
    with pytest.raises(Killed):
        send_run(
            drafted, ["cto"], FlakyTransport(set()), requested=False, after_attempt=_raise_killed
        )

    skipped = cli("send", "--workspace", example_workspace)
    unnamed = cli("send", "--workspace", example_workspace, "--force")
    forced = cli("send", "--workspace", example_workspace, "--persona", "cto", "--force")

    assert skipped.code == 1
    assert "cto in doubt: skipped" in skipped.err
    assert "execbrief send --persona cto --force" in skipped.err
    assert unnamed.code == 2
    assert "--force sends again only the personas it names" in unnamed.err
    assert forced.code == 0, forced.err
    sent = [(r.persona, r.event) for r in read_records(drafted.ledger_path)]
    assert sent.count(("ceo", SendEvent.SENT)) == 1
    assert sent.count(("cto", SendEvent.SENT)) == 1


def _raise_killed(persona: str) -> None:
    raise Killed


def test_a_torn_last_ledger_line_is_ignored_reported_once_and_sends_continue(
    drafted: RunFolder,
) -> None:
    send_run(drafted, ["ceo"], FlakyTransport(set()), requested=False)
    with drafted.ledger_path.open("a") as ledger:
        ledger.write('{"ts": "2026-11-25T14:')
    notices: list[str] = []

    records = read_records(drafted.ledger_path)
    outcomes = send_run(
        drafted, ["ceo", "cfo"], FlakyTransport(set()), requested=False, notice=notices.append
    )
    again = send_run(
        drafted, ["cto"], FlakyTransport(set()), requested=False, notice=notices.append
    )

    assert [(r.persona, r.event) for r in records] == [
        ("ceo", SendEvent.ATTEMPT),
        ("ceo", SendEvent.SENT),
    ]
    assert [o.action for o in outcomes + again] == [
        DeliveryAction.SKIPPED,
        DeliveryAction.SENT,
        DeliveryAction.SENT,
    ]
    assert len(notices) == 1
    assert "send-ledger.jsonl: its last line was torn" in notices[0]
    assert (drafted.path / "send-ledger.jsonl.torn").read_text() == '{"ts": "2026-11-25T14:\n'
    assert len(read_records(drafted.ledger_path)) == 6
