"""An existing SES setup keeps working: its env file and SES_* variables fill the gaps."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from execbrief.persona_files import shipped_persona_dir
from tests.conftest import Cli

ENV_FILE = """\
SES_FROM_ADDRESS=briefs@example.com
SES_TO_ADDRESS=owner@example.com, partner@example.com
SES_BCC_ADDRESS=records@example.com
AWS_SECRET_ACCESS_KEY=not-a-real-secret-but-never-copied
"""


@pytest.fixture
def legacy_workspace(cli: Cli, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    assert cli("init", root).code == 0
    config = root / "execbrief.yaml"
    text = config.read_text()
    text = text.replace("  from: reports@example.com", "  env_file: repos.env")
    text = text.replace("  bcc_audit: audit@example.com", "  bcc_audit: null")
    config.write_text(text)
    (root / "repos.env").write_text(ENV_FILE)
    ceo = (shipped_persona_dir() / "ceo.yaml").read_text()
    lines = ceo.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("to:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    - "):
        end += 1
    (root / "personas" / "ceo.yaml").write_text("\n".join(lines[:start] + lines[end:]) + "\n")
    return root


def test_env_file_fills_sender_recipients_and_audit_copy(cli: Cli, legacy_workspace: Path) -> None:
    result = cli("run", "--workspace", legacy_workspace, "--persona", "ceo", "--send")

    assert result.code == 0, result.err
    run = legacy_workspace / "outputs" / "latest"
    envelope = json.loads((run / "ceo" / "envelope.json").read_text())
    assert envelope["sender"] == "briefs@example.com"
    assert set(envelope["recipients"]) == {
        "owner@example.com",
        "partner@example.com",
        "records@example.com",
    }
    message = message_from_bytes((run / "outbox" / "ceo.eml").read_bytes(), policy=policy.default)
    assert str(message["To"]) == "owner@example.com, partner@example.com"
    leaked = [p for p in run.rglob("*") if p.is_file() and b"never-copied" in p.read_bytes()]
    assert leaked == []


def test_no_recipients_anywhere_is_bad_input(cli: Cli, legacy_workspace: Path) -> None:
    env = legacy_workspace / "repos.env"
    env.write_text(env.read_text().replace("SES_TO_ADDRESS", "UNUSED_TO_ADDRESS"))

    result = cli("run", "--workspace", legacy_workspace, "--persona", "ceo")

    assert result.code == 2
    assert "has no recipients" in result.err
