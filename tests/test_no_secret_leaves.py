"""No secret leaves the machine: the example's planted key is nowhere in a run or a prompt."""

from __future__ import annotations

import ast
import base64
import json
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.messages_api_server import MessagesApiServer


def _planted_key(workspace: Path) -> str:
    source = workspace / "repos" / "queenofsandiego-app" / "lambda" / "lambda_function.py"
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Constant) and str(node.value).startswith("sk_live_"):
            return str(node.value)
    raise AssertionError("the example plants no key")


def _forms(key: str) -> list[bytes]:
    raw = key.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]


def test_the_planted_key_is_in_no_file_of_a_sent_run(cli: Cli, example_workspace: Path) -> None:
    key = _planted_key(example_workspace)

    assert cli("run", "--workspace", example_workspace).code == 0

    outputs = example_workspace.parent.parent / "outputs"
    files = [p for p in outputs.rglob("*") if p.is_file()]
    assert len(files) > 40
    for path in files:
        content = path.read_bytes()
        assert not [form for form in _forms(key) if form in content], path
    for eml in outputs.rglob("*.eml"):
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                assert key not in part.get_content(), eml
    masked = f"{key[:8]}…{key[-4:]}"
    bundle = (outputs / "latest" / "bundle.json").read_text()
    assert masked in bundle


@pytest.mark.slow
def test_the_planted_key_is_in_no_prompt(
    cli: Cli, example_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _planted_key(example_workspace)
    with MessagesApiServer() as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)

        assert cli("run", "--workspace", example_workspace, "--no-send").code == 0

        bodies = [json.dumps(r.body) for r in api.log]
    assert len(bodies) >= 8
    assert not [b for b in bodies if key in b or key[8:-4] in b]
