"""The canary run (issue 13): every secret kind planted in notes, ledger memos, repo files,
git history, env files and AWS snapshot tags; a full run offline and against the local
Messages API, rendered and sent over SMTP; then no file under outputs/, no request body, no
delivered mail and no line of the process output holds any value, base64 or URL-encoded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from execbrief.models import Bundle
from tests.adversarial.canaries import CANARIES, forms, written
from tests.fixtures_repos import commit_all, git, init_repo, write
from tests.mail_servers import DOMAIN, Inbox, smtp_inbox, use_addresses
from tests.messages_api_server import MessagesApiServer

pytestmark = pytest.mark.slow

# How each kind sits in code (the rest are written as in a note).
_IN_CODE = {
    "aws_secret_access_key": 'aws_secret_access_key = "{v}"',
    "twilio_auth_token": 'twilio_auth_token = "{v}"',
    "generic_secret": 'api_token = "{v}"',
    "private_key": 'KEY = """-----BEGIN RSA PRIVATE KEY-----\n{v}\n'
    '-----END RSA PRIVATE KEY-----"""',
}


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as served:
        yield served


def _plant(workspace: Path, smtp_port: int) -> None:
    kinds = sorted(CANARIES)
    note = workspace / "handoffs" / "jada.md"
    planted = "\n## Access notes\n\n" + "".join(f"- TODO rotate {written(k)}\n" for k in kinds)
    note.write_text(note.read_text() + planted)

    ledger = workspace / "books" / "ledger.csv"
    header = ledger.read_text().splitlines()[0].split(",")
    rows = []
    for n, kind in enumerate(k for k in kinds if k != "private_key"):
        cells = {"date": f"2026-10-{n + 1:02d}", "entity": "JADA", "amount": "-1.00"}
        cells["memo"] = '"' + written(kind).replace('"', '""') + '"'
        cells["category"] = "software"
        rows.append(",".join(cells.get(column, "") for column in header))
    ledger.write_text(ledger.read_text().rstrip("\n") + "\n" + "\n".join(rows) + "\n")

    repo = init_repo(workspace / "repos" / "jada-canary")
    for kind in kinds:
        code = _IN_CODE.get(kind, 'value = "{v}"').format(v=CANARIES[kind])
        write(repo, f"app/{kind}.py", f"import os\n\n{code}\n")
    env_lines = [f"{k.upper()}_SECRET={v}" for k, v in CANARIES.items() if "\n" not in v]
    write(repo, ".env", "\n".join(env_lines) + "\n")
    commit_all(repo, "add config")
    write(repo, "old/creds.py", f'api_token = "{CANARIES["generic_secret"]}x9"\n')
    commit_all(repo, "creds")
    git(repo, "rm", "-q", "old/creds.py")
    commit_all(repo, "remove creds")

    snapshot_path = workspace / "aws" / "inventory.json"
    snapshot = json.loads(snapshot_path.read_text())
    region = next(iter(snapshot["regions"].values()))
    region["lambda_functions"][0]["tags"].update(
        {f"note{n}": written(k)[:256] for n, k in enumerate(kinds) if "\n" not in CANARIES[k]}
    )
    snapshot_path.write_text(json.dumps(snapshot))

    config = workspace / "execbrief.yaml"
    config.write_text(
        config.read_text().replace(
            "  region: us-west-2\n",
            f"  region: us-west-2\n  smtp: {{host: 127.0.0.1, port: {smtp_port}, "
            "security: none}\n",
        )
    )


def _values() -> dict[str, list[bytes]]:
    values = {kind: forms(value) for kind, value in CANARIES.items()}
    values["history"] = forms(CANARIES["generic_secret"] + "x9")
    return {kind: [form.encode() for form in found] for kind, found in values.items()}


def _hits(name: str, content: bytes) -> list[str]:
    return [
        f"{name}: {kind}" for kind, found in _values().items() if any(f in content for f in found)
    ]


def test_no_planted_secret_leaves_in_any_output(
    cli: Any,
    example_workspace: Path,
    inbox: tuple[Inbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, port = inbox
    _plant(example_workspace, port)
    # smtp refuses reserved example domains before sending
    config = example_workspace / "execbrief.yaml"
    config.write_text(use_addresses(config.read_text(), "file"))
    monkeypatch.setenv("SES_TO_ADDRESS", f"owner@{DOMAIN}")
    outputs = example_workspace.parent.parent / "outputs"
    printed: list[str] = []

    offline = cli("run", "--workspace", example_workspace, "--no-send")
    printed += [offline.out, offline.err]
    assert offline.code == 0, offline.err
    with MessagesApiServer() as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        online = cli("run", "--workspace", example_workspace, "--no-send")
        bodies = [json.dumps(r.body).encode() for r in api.log]
    printed += [online.out, online.err]
    assert online.code == 0, online.err
    approved = cli("approve", "--workspace", example_workspace, "--all", "--accept-warnings")
    assert approved.code == 0, approved.err
    sent = cli("send", "--workspace", example_workspace, "--transport", "smtp")
    printed += [sent.out, sent.err]
    assert sent.code == 0, sent.err

    leaks = [
        hit
        for path in sorted(outputs.rglob("*"))
        if path.is_file()
        for hit in _hits(str(path.relative_to(outputs)), path.read_bytes())
    ]
    leaks += [hit for n, body in enumerate(bodies) for hit in _hits(f"request {n}", body)]
    leaks += [
        hit for n, (_, mail) in enumerate(handler.received) for hit in _hits(f"mail {n}", mail)
    ]
    leaks += [hit for n, text in enumerate(printed) for hit in _hits(f"output {n}", text.encode())]
    assert leaks == []

    bundle = Bundle.model_validate_json((outputs / "latest" / "bundle.json").read_bytes())
    exposures: dict[str, set[str]] = {
        f.kind: set() for f in bundle.facts if f.kind.startswith("secret.")
    }
    for fact in bundle.facts:
        if fact.kind.startswith("secret."):
            exposures[fact.kind].add(fact.source.section or "")
    assert len({s.split()[0] for s in exposures["secret.in_note"]}) == len(CANARIES)
    assert len(exposures["secret.in_ledger"]) == len(CANARIES) - 1
    assert "secret.in_history" in exposures and "secret.hardcoded" in exposures
    assert len(bodies) >= 8 and len(handler.received) == 8
