"""Safe resend: the ledger records every attempt; nothing is sent twice by accident."""

from __future__ import annotations

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

    def __init__(self, failing: set[str]) -> None:
        self.failing = set(failing)
        self.delivered: list[str] = []

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


def test_a_sender_killed_mid_send_blocks_the_next_send_until_forced(drafted: RunFolder) -> None:
    def die(persona: str) -> None:
        if persona == "cfo":
            raise Killed

    with pytest.raises(Killed):
        send_run(drafted, PERSONAS, FlakyTransport(set()), requested=False, after_attempt=die)
    last = read_records(drafted.ledger_path)[-1]
    assert (last.persona, last.event) == ("cfo", SendEvent.ATTEMPT)

    transport = FlakyTransport(set())
    with pytest.raises(RefusedError, match=r"cfo: an attempt at .* has no outcome"):
        send_run(drafted, PERSONAS, transport, requested=False)
    assert transport.delivered == []

    forced = send_run(drafted, ["cfo"], transport, requested=True, force=True)
    assert [o.action for o in forced] == [DeliveryAction.SENT]


def test_the_cli_says_exactly_why_an_in_doubt_send_is_refused(
    cli: Cli, example_workspace: Path, drafted: RunFolder
) -> None:
    with pytest.raises(Killed):
        send_run(
            drafted, ["cto"], FlakyTransport(set()), requested=False, after_attempt=_raise_killed
        )

    refused = cli("send", "--workspace", example_workspace)
    forced = cli("send", "--workspace", example_workspace, "--force")

    assert refused.code == 2
    assert "may or may not have left" in refused.err
    assert "--force" in refused.err
    assert forced.code == 0


def _raise_killed(persona: str) -> None:
    raise Killed


def test_a_torn_last_ledger_line_is_ignored(drafted: RunFolder) -> None:
    send_run(drafted, ["ceo"], FlakyTransport(set()), requested=False)
    with drafted.ledger_path.open("a") as ledger:
        ledger.write('{"ts": "2026-11-25T14:')

    records = read_records(drafted.ledger_path)

    assert [(r.persona, r.event) for r in records] == [
        ("ceo", SendEvent.ATTEMPT),
        ("ceo", SendEvent.SENT),
    ]
