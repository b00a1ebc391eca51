"""End to end, the analyst's path through a real transport (SES on moto's server, SMTP on
aiosmtpd): run, review, approve with a warning acknowledged, send, regenerate one persona,
see it as an unapproved new revision, approve it, send it alone. Nothing is sent twice."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import SESQuota, ses_backends
from pydantic import TypeAdapter

from execbrief.models import (
    GroundingWarning,
    Manifest,
    Provenance,
    SendEvent,
    SendRecord,
    WarningKind,
)
from tests.conftest import Cli
from tests.mail_servers import DOMAIN, smtp_inbox, use_addresses

pytestmark = pytest.mark.slow

REGION = "us-west-2"
# (persona, sorted envelope recipients, subject) of every delivered message
Delivered = Callable[[], list[tuple[str, list[str], str]]]


def _limit_to_three_personas(workspace: Path, transport: str, extra: str = "") -> None:
    config = workspace / "execbrief.yaml"
    text = use_addresses(config.read_text(), transport) + extra
    text += f"personas: [ceo, cfo, cto]\nrecipients:\n  cto: {{to: [eng@{DOMAIN}]}}\n"
    config.write_text(text)


@pytest.fixture
def ses_path(
    example_workspace: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Delivered]]:
    original = SESQuota.__init__

    def faster(self: SESQuota, sent: int) -> None:
        original(self, sent)
        self.max_send_rate = 200  # moto's one a second would only slow the test down

    monkeypatch.setattr(SESQuota, "__init__", faster)
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    _limit_to_three_personas(example_workspace, "ses")
    boto3.client("sesv2", region_name=REGION).create_email_identity(
        EmailIdentity=f"briefs@{DOMAIN}"
    )

    def delivered() -> list[tuple[str, list[str], str]]:
        found = []
        for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
            parsed = message_from_bytes(message.raw_data.encode(), policy=policy.default)
            found.append(
                (
                    str(parsed["X-Execbrief-Persona"]),
                    sorted(set(message.destinations)),  # moto lists To twice
                    str(parsed["Subject"]),
                )
            )
        return found

    yield example_workspace, delivered


@pytest.fixture
def smtp_path(
    example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Delivered]]:
    with smtp_inbox() as (inbox, port):
        monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
        smtp = f"  smtp: {{host: 127.0.0.1, port: {port}, security: none}}\n"
        config = example_workspace / "execbrief.yaml"
        config.write_text(
            config.read_text().replace("  region: us-west-2\n", "  region: us-west-2\n" + smtp)
        )
        _limit_to_three_personas(example_workspace, "smtp")

        def delivered() -> list[tuple[str, list[str], str]]:
            found = []
            for recipients, content in inbox.received:
                parsed = message_from_bytes(content, policy=policy.default)
                found.append(
                    (str(parsed["X-Execbrief-Persona"]), sorted(recipients), str(parsed["Subject"]))
                )
            return found

        yield example_workspace, delivered


@pytest.fixture(params=["ses", "smtp"])
def analyst_path(request: pytest.FixtureRequest) -> tuple[Path, Delivered]:
    fixture = "ses_path" if request.param == "ses" else "smtp_path"
    path: tuple[Path, Delivered] = request.getfixturevalue(fixture)
    return path


def _run(workspace: Path) -> Path:
    return (workspace.parent.parent / "outputs" / "latest").resolve()


def test_the_analyst_path_sends_each_revision_once_and_only_once_approved(
    cli: Cli, analyst_path: tuple[Path, Delivered]
) -> None:
    ws, delivered = analyst_path

    drafted = cli("run", "-w", ws)
    assert drafted.code == 0, drafted.err
    assert "nothing sent" in drafted.err and "execbrief approve" in drafted.err
    assert delivered() == []
    run = _run(ws)
    review = cli("review", "-w", ws, "--json")
    assert all(row["state"].startswith("rev 1 draft") for row in json.loads(review.out))

    unapproved = cli("send", "-w", ws)
    assert unapproved.code == 2
    assert "error: ceo: rev 1 is not approved; nothing was sent" in unapproved.err
    assert "execbrief approve --persona ceo" in unapproved.err
    assert delivered() == []

    # a hand edit with an invented figure: checked like a model's answer, flagged, labelled
    report = run / "cfo" / "report.json"
    edited = json.loads(report.read_text())
    edited["summary"] = "Burn is $99,999 a month."
    report.write_text(json.dumps(edited))
    assert cli("render", "-w", ws, "--persona", "cfo").code == 0
    cfo = Manifest.model_validate_json((run / "manifest.json").read_bytes()).personas["cfo"]
    assert cfo.provenance is Provenance.EDITED
    assert "$99,999" in [w.text for w in cfo.warnings if w.kind is WarningKind.UNGROUNDED_NUMBER]
    beside = TypeAdapter(list[GroundingWarning]).validate_json(
        (run / "cfo" / "grounding.json").read_bytes()
    )
    assert beside == cfo.warnings  # the file beside the report says what the manifest says
    count = len(cfo.warnings)
    assert "Edited by hand" in (run / "cfo" / "report.md").read_text()

    refused = cli("approve", "-w", ws, "--all", "--as", f"analyst@{DOMAIN}")
    assert refused.code == 2
    assert re.search(
        r"error: (ceo|cfo|cto): (\d+) of \2 grounding warnings not acknowledged; rev \d was not",
        refused.err,
    )
    assert "$99,999" in refused.out  # the warning was shown
    assert not any(
        "approved" in row["state"] for row in json.loads(cli("review", "-w", ws, "--json").out)
    )  # nothing was recorded

    approved = cli("approve", "-w", ws, "--all", "--accept-warnings", "--as", f"analyst@{DOMAIN}")
    assert approved.code == 0, approved.err
    assert f"Approved cfo rev 2 as analyst@{DOMAIN}, {count} grounding warnings accepted" in (
        approved.err
    )
    assert "Approved ceo rev 1 as analyst@" in approved.err

    sent = cli("send", "-w", ws)
    assert sent.code == 0, sent.err
    audit = f"audit@{DOMAIN}"
    assert sorted((p, r) for p, r, _ in delivered()) == [
        ("ceo", sorted([f"owner@{DOMAIN}", audit])),
        ("cfo", sorted([f"owner@{DOMAIN}", audit])),
        ("cto", sorted([f"eng@{DOMAIN}", audit])),
    ]

    assert cli("generate", "-w", ws, "--persona", "cfo").code == 0
    review = cli("review", "-w", ws, "--json")
    assert review.code == 0
    rows = {row["persona"]: row for row in json.loads(review.out)}
    assert re.fullmatch(
        r"rev 3 draft(, \d+ warnings)?; rev 2 sent \d\d:\d\dZ", rows["cfo"]["state"]
    )
    assert rows["ceo"]["state"].startswith("rev 1 sent ")

    again = cli("send", "-w", ws)
    assert again.code == 2
    assert "error: cfo: rev 3 is not approved; nothing was sent" in again.err
    regenerated = cli(
        "approve", "-w", ws, "--persona", "cfo", "--accept-warnings", "--as", f"a@{DOMAIN}"
    )
    assert regenerated.code == 0
    alone = cli("send", "-w", ws, "--persona", "cfo")
    assert alone.code == 0, alone.err
    assert "Nothing left to send" in cli("send", "-w", ws).err

    assert sorted(p for p, _, _ in delivered()) == ["ceo", "cfo", "cfo", "cto"]
    ledger = [
        SendRecord.model_validate_json(line)
        for line in (run / "send-ledger.jsonl").read_text().splitlines()
    ]
    sends = [(r.persona, r.revision) for r in ledger if r.event is SendEvent.SENT]
    assert sorted(sends) == [("ceo", 1), ("cfo", 2), ("cfo", 3), ("cto", 1)]
    attempts = [(r.persona, r.revision) for r in ledger if r.event is SendEvent.ATTEMPT]
    assert sorted(attempts) == sorted(sends)
    history = (run / "cfo" / "revisions.jsonl").read_text().splitlines()
    events = [json.loads(line)["event"] for line in history]
    assert events == [
        "generated", "revision", "revision", "approved", "generated", "revision", "approved"
    ]  # fmt: skip
