"""The shared send ledger (DynamoDB on moto's server) and the S3 run archive.

Two senders on one ledger send each brief once: the one that loses a claim says so and
skips it. In-doubt sends stay in doubt across machines. A finished run is uploaded to
the archive and `review --run s3://...` reads it back; an upload that fails keeps the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from execbrief import pipeline
from execbrief.archive import upload_run
from execbrief.config import load_workspace
from execbrief.mail import get_transport
from execbrief.mail.dynamodb_ledger import DynamoLedger
from execbrief.mail.events import read_events
from execbrief.mail.ledger import Claim, FileLedger, SendLedger, open_ledger
from execbrief.models import DeliveryAction, DeliveryOutcome, LedgerRef, SendEvent, SendRecord
from execbrief.runs import RunFolder, open_run
from execbrief.send import send_run
from tests.conftest import EXAMPLE, Cli

REGION = "us-west-2"
TABLE = "execbrief-ledger"
BUCKET = "execbrief-archive"
PERSONAS = ["ceo", "cfo", "cto"]
DYNAMODB = f"ledger: {{backend: dynamodb, table: {TABLE}, region: {REGION}}}\n"
LOST = "was claimed in DynamoDB table execbrief-ledger by another sender"


@pytest.fixture
def moto_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto on loopback answering one request at a time, as conftest's but not threaded.

    DynamoDB applies a conditional write atomically; moto's threaded server checks and
    writes in two steps that two request threads can interleave. Served one at a time,
    moto's conditions hold as the service's do, so a double send here is our bug alone.
    """
    import requests
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    requests.post(f"{url}/moto-api/reset", timeout=5).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield url
    server.shutdown()
    thread.join(timeout=10)


def _workspace(root: Path, extra: str = "") -> Path:
    """A small workspace (one handoff note, three personas, offline, file transport)."""
    (root / "notes").mkdir(parents=True)
    shutil.copy(EXAMPLE / "handoffs" / "dangerouscentaur.md", root / "notes")
    (root / "execbrief.yaml").write_text(
        "portfolio: Ledger Test\n"
        "entities:\n"
        "  - {id: dangerouscentaur, name: DangerousCentaur, aliases: [dangerous centaur]}\n"
        "sources: {handoffs: [notes/*.md]}\n"
        f"personas: [{', '.join(PERSONAS)}]\n"
        "llm: {provider: offline}\n"
        "mail: {transport: file, from: briefs@example.com}\n" + extra,
        encoding="utf-8",
    )
    return root


def _drafted(root: Path) -> RunFolder:
    """Collect, generate and render the workspace in this process: a run with drafts."""
    workspace = load_workspace(root)
    personas = pipeline.personas_for(workspace, [])
    run, _ = pipeline.collect(workspace)
    pipeline.generate(workspace, run, personas)
    pipeline.render(workspace, run, personas)
    return run


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drafted workspace (file ledger), drafted once for the module and copied per test."""
    root = _workspace(tmp_path_factory.mktemp("template") / "ws")
    _drafted(root)
    return root


def _copy(template: Path, tmp_path: Path, extra: str = "") -> tuple[Path, RunFolder]:
    """A copy of the drafted workspace with `extra` settings; a DynamoDB ledger setting
    also goes into its run's manifest, as if the run had been collected with it."""
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    config = root / "execbrief.yaml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    workspace = load_workspace(root)
    run = open_run(workspace.outputs)
    manifest = run.read_manifest()
    manifest.ledger = workspace.config.ledger_ref()
    run.write_manifest(manifest)
    return root, run


def _copies(run: RunFolder, n: int) -> list[RunFolder]:
    """`n` unsent copies of a drafted run, each a run of its own (one per round)."""
    copies = []
    for i in range(n):
        target = run.path.with_name(f"{run.run_id}-r{i:02d}")
        shutil.copytree(run.path, target)
        copies.append(RunFolder(target))
    return copies


def _create_table() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "workspace", "AttributeType": "S"},
            {"AttributeName": "claim", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "workspace", "KeyType": "HASH"},
            {"AttributeName": "claim", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _sent(records: list[SendRecord]) -> Counter[str]:
    return Counter(r.persona for r in records if r.event is SendEvent.SENT and not r.test)


def _outbox(run: RunFolder) -> list[str]:
    return sorted(p.name for p in run.outbox.iterdir()) if run.outbox.is_dir() else []


@pytest.fixture
def dynamodb_drafted(moto_server: str, template: Path, tmp_path: Path) -> tuple[Path, RunFolder]:
    """A drafted workspace and run whose ledger is the DynamoDB table (on moto)."""
    _create_table()
    return _copy(template, tmp_path, DYNAMODB)


class RacingLedger:
    """A ledger whose readers wait for each other after reading, so that both senders
    decide from the same (stale) view and then race for the claims."""

    def __init__(self, inner: SendLedger, barrier: threading.Barrier) -> None:
        self.inner = inner
        self.barrier = barrier

    @property
    def where(self) -> str:
        return self.inner.where

    def repair(self) -> str | None:
        return self.inner.repair()

    def records(self) -> list[SendRecord]:
        records = self.inner.records()
        self.barrier.wait(timeout=30)
        return records

    def claim(self, attempt: SendRecord, *, seen: int, sha256: str) -> Claim | None:
        return self.inner.claim(attempt, seen=seen, sha256=sha256)

    def settle(self, claim: Claim, outcome: SendRecord) -> None:
        self.inner.settle(claim, outcome)


@pytest.mark.parametrize("backend", ["dynamodb", "file"])
def test_two_racing_senders_send_each_brief_exactly_once_round_after_round(
    moto_server: str, template: Path, tmp_path: Path, backend: str
) -> None:
    if backend == "dynamodb":
        _create_table()
    root, run = _copy(template, tmp_path, DYNAMODB if backend == "dynamodb" else "")
    settings = pipeline.mail_settings(load_workspace(root))
    rounds = _copies(run, 20)
    losses = 0

    session = boto3.Session()

    def ledger_of(run: RunFolder) -> SendLedger:
        ref = run.read_manifest().ledger
        return (
            FileLedger(run.ledger_path) if ref is None else DynamoLedger(ref, run.run_id, session)
        )

    def sender(
        run: RunFolder,
        ledger: SendLedger,
        barrier: threading.Barrier,
        results: list[list[DeliveryOutcome]],
        notices: list[str],
    ) -> None:
        ledger = RacingLedger(ledger, barrier)
        transport = get_transport("file", settings, run.outbox)
        outcomes = send_run(
            run, PERSONAS, transport, requested=False, notice=notices.append, ledger=ledger
        )
        results.append(outcomes)

    for run in rounds:
        barrier = threading.Barrier(2)
        results: list[list[DeliveryOutcome]] = []
        notices: list[str] = []
        # each sender's client is made here: a boto3 session is not for sharing by threads
        threads = [
            threading.Thread(target=sender, args=(run, ledger_of(run), barrier, results, notices))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert len(results) == 2
        actions = Counter(o.action for outcomes in results for o in outcomes)
        assert actions == {DeliveryAction.SENT: 3, DeliveryAction.SKIPPED: 3}
        assert _outbox(run) == sorted(f"{p}.eml" for p in PERSONAS)
        records = ledger_of(run).records()
        assert _sent(records) == dict.fromkeys(PERSONAS, 1)
        assert Counter(r.persona for r in records if r.event is SendEvent.ATTEMPT) == _sent(records)
        # the sender that read the same view and lost each claim said so, per persona
        assert len(notices) == 3
        assert all("by another sender after this one read it" in n for n in notices)
        losses += len(notices)
    assert losses == 60
    # on DynamoDB every record is in the table, none in the run folders
    assert {r.ledger_path.exists() for r in rounds} == {backend == "file"}


@pytest.mark.slow
def test_two_send_processes_on_one_dynamodb_ledger_send_each_brief_once(
    dynamodb_drafted: tuple[Path, RunFolder],
) -> None:
    root, run = dynamodb_drafted
    rounds = _copies(run, 3)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}

    for run in rounds:
        command = [sys.executable, "-m", "execbrief", "send", "--workspace"]
        command += [str(root), "--run", run.run_id]
        procs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        errs = [" ".join(p.communicate(timeout=180)[1].decode().split()) for p in procs]

        assert _outbox(run) == sorted(f"{p}.eml" for p in PERSONAS)
        records = open_ledger(run, run.read_manifest().ledger).records()
        assert _sent(records) == dict.fromkeys(PERSONAS, 1)
        said = [re.search(r"Sent (\d+) messages", e) for e in errs]
        assert sum(int(m.group(1)) for m in said if m) == 3, errs
        for proc, err in zip(procs, errs, strict=True):
            # the second sender saw each brief sent, lost its claim, or (reading while
            # the first was mid-send) saw an attempt with no outcome yet: in doubt, exit 1
            assert proc.returncode == (1 if " in doubt: skipped" in err else 0), err
    assert not any(r.ledger_path.exists() for r in rounds)


def test_a_claim_lost_to_another_machine_is_reported_and_the_others_are_sent(
    cli: Cli, dynamodb_drafted: tuple[Path, RunFolder], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, run = dynamodb_drafted
    kept = run.read_manifest().ledger
    assert kept is not None and kept.workspace == "Ledger Test"
    ref: LedgerRef = kept

    class OtherMachineSendsCfo(RacingLedger):
        """Between this sender's read and its claims, another machine sends cfo."""

        def records(self) -> list[SendRecord]:
            records = self.inner.records()
            other = DynamoLedger(ref, run.run_id)
            now = datetime.now(UTC)
            attempt = SendRecord(
                ts=now,
                run=run.run_id,
                persona="cfo",
                event=SendEvent.ATTEMPT,
                transport="ses",
                revision=1,
            )
            claim = other.claim(attempt, seen=0, sha256="0" * 64)
            assert claim is not None
            other.settle(
                claim,
                attempt.model_copy(update={"event": SendEvent.SENT, "message_id": "<m1@other>"}),
            )
            return records

    def racing(run: RunFolder, ref: LedgerRef | None) -> SendLedger:
        assert ref is not None
        return OtherMachineSendsCfo(DynamoLedger(ref, run.run_id), threading.Barrier(1))

    with monkeypatch.context() as patch:
        patch.setattr("execbrief.send.open_ledger", racing)
        result = cli("send", "--workspace", root)

    assert result.code == 0, result.err
    assert "cfo: skipped, rev 1 " + LOST in " ".join(result.err.split())
    assert _outbox(run) == ["ceo.eml", "cto.eml"]
    rows = {r["persona"]: r for r in _review_json(cli, root)}
    assert {p: rows[p]["delivery"] for p in PERSONAS} == dict.fromkeys(PERSONAS, "sent")
    assert "<m1@other>" in str(rows["cfo"]["delivery_detail"])
    assert not run.ledger_path.exists()  # every record is in the table


def _review_json(cli: Cli, root: Path, *extra: str) -> list[dict[str, object]]:
    result = cli("review", "--workspace", root, "--json", *extra)
    assert result.code == 0, result.err
    rows: list[dict[str, object]] = json.loads(result.out)
    return rows


class Killed(BaseException):
    """Stands for the process dying mid-send: nothing after it runs."""


def test_an_in_doubt_send_on_dynamodb_is_not_resent_without_force(
    cli: Cli, dynamodb_drafted: tuple[Path, RunFolder]
) -> None:
    root, run = dynamodb_drafted
    settings = pipeline.mail_settings(load_workspace(root))

    def die(persona: str) -> None:
        if persona == "cfo":
            raise Killed

    transport = get_transport("file", settings, run.outbox)
    with pytest.raises(Killed):
        send_run(run, PERSONAS, transport, requested=False, after_attempt=die)

    # another machine (a fresh process, the same table) sees cfo in doubt
    again = cli("send", "--workspace", root)
    rows = {r["persona"]: r for r in _review_json(cli, root)}
    forced = cli("send", "--workspace", root, "--persona", "cfo", "--force")

    assert again.code == 1
    assert "cfo in doubt: skipped, in doubt: rev 1's attempt" in " ".join(again.err.split())
    assert rows["cfo"]["delivery"] == "in doubt"
    assert forced.code == 0, forced.err
    records = open_ledger(run, run.read_manifest().ledger).records()
    assert [r.event for r in records if r.persona == "cfo"] == [
        SendEvent.ATTEMPT,
        SendEvent.ATTEMPT,
        SendEvent.SENT,
    ]
    assert _outbox(run) == ["ceo.eml", "cfo.eml", "cto.eml"]


def test_test_sends_on_dynamodb_are_recorded_and_change_no_state(
    cli: Cli, dynamodb_drafted: tuple[Path, RunFolder]
) -> None:
    root, run = dynamodb_drafted

    for _ in range(2):
        result = cli("send", "--workspace", root, "--to", "me@example.com")
        assert result.code == 0, result.err

    records = open_ledger(run, run.read_manifest().ledger).records()
    assert len(records) == 12 and all(r.test for r in records)
    rows = _review_json(cli, root)
    assert {r["delivery"] for r in rows} == {"not sent"}


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("ledger: {backend: dynamodb}\n", "ledger", "backend dynamodb needs `table:`"),
        ("ledger: {backend: file, table: t1x}\n", "ledger", "for backend: dynamodb only"),
        ("ledger: {backend: sqlite}\n", "ledger.backend", "'file' or 'dynamodb'"),
        ("ledger: {backend: dynamodb, table: 'a b'}\n", "ledger", "not a DynamoDB table name"),
        ("ledger: {backend: dynamodb, tabel: x}\n", "ledger.tabel", "unknown key 'tabel'"),
        ("archive: http://bucket/prefix\n", "archive", "expected s3://bucket/prefix"),
        ("archive: s3://Bad_Bucket/x\n", "archive", "expected s3://bucket/prefix"),
        ("archive: s3://bucket/../up\n", "archive", "expected s3://bucket/prefix"),
    ],
)
def test_bad_ledger_or_archive_settings_are_one_line_errors_naming_the_field(
    cli: Cli, template: Path, tmp_path: Path, extra: str, field: str, message: str
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(template, root, symlinks=True)
    with (root / "execbrief.yaml").open("a", encoding="utf-8") as config:
        config.write(extra)

    result = cli("send", "--workspace", root)

    assert result.code == 2
    (line,) = [line for line in result.err.splitlines() if line.strip()][:1]
    assert f"({field})" in line and message in line
    assert "Traceback" not in result.err


def test_a_ledger_table_that_does_not_exist_stops_run_and_send_with_a_hint(
    cli: Cli, dynamodb_drafted: tuple[Path, RunFolder]
) -> None:
    root, run = dynamodb_drafted
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=TABLE)
    runs_before = sorted(p.name for p in run.path.parent.iterdir())

    sent = cli("send", "--workspace", root)
    ran = cli("run", "--workspace", root)

    for result in (sent, ran):
        assert result.code == 2
        assert f"the send ledger table '{TABLE}' does not exist" in result.err
        assert "ledger.table: " in result.err and "docs/MAIL.md" in result.err
    assert _outbox(run) == []
    # refused before collecting: no new run folder
    assert sorted(p.name for p in run.path.parent.iterdir()) == runs_before


def test_a_run_keeps_the_ledger_it_was_collected_with_and_send_says_so(
    cli: Cli, dynamodb_drafted: tuple[Path, RunFolder]
) -> None:
    root, run = dynamodb_drafted
    config = root / "execbrief.yaml"
    config.write_text(config.read_text().replace(DYNAMODB, ""), encoding="utf-8")

    result = cli("send", "--workspace", root)

    assert result.code == 0, result.err
    assert "records its sends in DynamoDB table execbrief-ledger" in " ".join(result.err.split())
    assert _sent(open_ledger(run, run.read_manifest().ledger).records()) == dict.fromkeys(
        PERSONAS, 1
    )
    assert not run.ledger_path.exists()


def test_events_find_a_message_sent_through_the_dynamodb_ledger(
    dynamodb_drafted: tuple[Path, RunFolder],
) -> None:
    root, run = dynamodb_drafted
    workspace = load_workspace(root)
    transport = get_transport("file", pipeline.mail_settings(workspace), run.outbox)
    send_run(run, ["cto"], transport, requested=False)
    records = open_ledger(run, run.read_manifest().ledger).records()
    (sent,) = [r for r in records if r.event is SendEvent.SENT]
    assert sent.message_id
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="execbrief-events")["QueueUrl"]
    # no run/persona tags: the message is found by its id in the run's (DynamoDB) ledger
    body = (
        '{"eventType": "Delivery", "mail": {"timestamp": "2026-11-30T09:00:00.000Z", '
        f'"messageId": "{sent.message_id}", "destination": ["cto@example.com"]}}, '
        '"delivery": {"timestamp": "2026-11-30T09:00:05.000Z", "recipients": ["cto@example.com"]}}'
    )
    sqs.send_message(QueueUrl=queue, MessageBody=body)
    mail = workspace.config.mail.model_copy(update={"events_queue": "execbrief-events"})

    report = read_events(mail.model_copy(update={"region": REGION}), workspace.outputs)

    assert [(e.run, e.persona, e.kind.value) for e in report.recorded] == [
        (run.run_id, "cto", "delivery")
    ]


# --- the archive ---------------------------------------------------------------------


ARCHIVE = f"archive: s3://{BUCKET}/briefs\n"


def _keys(prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    answer = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(str(o["Key"]) for o in answer.get("Contents", []))


def _bucket() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def test_a_finished_run_is_archived_and_reviewed_back_from_s3(
    cli: Cli, moto_server: str, template: Path, tmp_path: Path
) -> None:
    _bucket()
    root, run = _copy(template, tmp_path, ARCHIVE)
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of any run", encoding="utf-8")
    (run.path / "link-outside.txt").symlink_to(outside)

    rendered = cli("render", "--workspace", root)
    uploaded = len(_keys(f"briefs/{run.run_id}/"))
    sent = cli("send", "--workspace", root, "--persona", "cto")
    local = _review_json(cli, root)

    assert rendered.code == 0, rendered.err
    said = " ".join(rendered.err.split())
    assert f"Archived {uploaded} files to s3://{BUCKET}/briefs/{run.run_id}" in said
    assert sent.code == 0, sent.err
    keys = _keys(f"briefs/{run.run_id}/")
    assert f"briefs/{run.run_id}/manifest.json" in keys
    assert f"briefs/{run.run_id}/send-ledger.jsonl" in keys
    assert f"briefs/{run.run_id}/cto/message.eml" in keys
    assert not any("link-outside" in k or "secret" in k for k in keys)
    assert len(keys) == len([p for p in run.path.rglob("*") if p.is_file() and not p.is_symlink()])

    # the laptop's copy is gone: the archive alone answers
    shutil.rmtree(run.path)
    archived = _review_json(cli, root, "--run", f"s3://{BUCKET}/briefs/{run.run_id}")
    table = cli("review", "--workspace", root, "--run", f"s3://{BUCKET}/briefs/{run.run_id}")

    assert [(r["persona"], r["delivery"]) for r in archived] == [
        (r["persona"], r["delivery"]) for r in local
    ]
    assert {r["persona"]: r["delivery"] for r in archived}["cto"] == "sent"
    cache = load_workspace(root).outputs / ".archive" / BUCKET / "briefs" / run.run_id
    assert (cache / "manifest.json").is_file()
    assert table.code == 0 and "cto" in table.out and str(cache) in " ".join(table.out.split())


def test_a_failed_upload_is_one_line_and_exit_1_and_the_run_is_kept(
    cli: Cli, moto_server: str, tmp_path: Path
) -> None:
    # a whole run, collect to render: the bucket was never created
    root = _workspace(tmp_path / "ws", ARCHIVE)

    result = cli("run", "--workspace", root)

    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.startswith("archive:")]
    assert len(lines) == 1
    assert "s3:PutObject" in lines[0] and "NoSuchBucket" in lines[0]
    assert "the run is kept in" in " ".join(result.err.split())
    run = open_run(load_workspace(root).outputs)
    assert (run.path / "manifest.json").is_file()
    assert (run.path / "cto" / "message.eml").is_file()


def test_review_of_an_archive_address_with_no_run_is_bad_input(
    cli: Cli, moto_server: str, template: Path, tmp_path: Path
) -> None:
    _bucket()
    root, _ = _copy(template, tmp_path, ARCHIVE)

    missing = cli("review", "--workspace", root, "--run", f"s3://{BUCKET}/briefs/20990101T000000Z")
    escapes = [
        cli("review", "--workspace", root, "--run", url)
        for url in (f"s3://{BUCKET}/briefs/../x", "s3://../20261130T090000Z", "s3:///x")
    ]

    assert missing.code == 2 and "no archived run at" in missing.err
    for escape in escapes:
        assert escape.code == 2 and "not an archive address" in escape.err


def test_an_archived_object_naming_a_path_outside_the_run_is_refused(
    cli: Cli, moto_server: str, template: Path, tmp_path: Path
) -> None:
    _bucket()
    s3 = boto3.client("s3", region_name=REGION)
    root, run = _copy(template, tmp_path, ARCHIVE)
    report = upload_run(f"s3://{BUCKET}/briefs", run)
    assert report.error is None and report.files > 5
    s3.put_object(Bucket=BUCKET, Key=f"briefs/{run.run_id}/../../evil.txt", Body=b"x")

    result = cli("review", "--workspace", root, "--run", f"s3://{BUCKET}/briefs/{run.run_id}")

    assert result.code == 2 and "does not name a file inside the run" in result.err
    assert not list(tmp_path.rglob("evil.txt"))


def test_each_workspace_of_a_fleet_is_archived_and_a_failed_upload_fails_only_it(
    moto_server: str, tmp_path: Path
) -> None:
    from execbrief.fleet import FleetStatus, run_workspace

    root = _workspace(tmp_path / "ws", ARCHIVE)

    missing = run_workspace(root, [], False)  # the bucket does not exist yet
    _bucket()
    archived = run_workspace(root, [], False)

    assert missing.status is FleetStatus.FAILED
    assert missing.error is not None and missing.error.startswith("archive: s3:PutObject")
    assert missing.personas_ok == 3  # the drafts are written; only the upload failed
    assert archived.status is FleetStatus.OK, archived.error
    assert f"briefs/{archived.run_id}/manifest.json" in _keys(f"briefs/{archived.run_id}/")
