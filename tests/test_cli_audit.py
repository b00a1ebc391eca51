"""`execbrief audit`: the code audit as a stand-alone scanner for hooks and CI."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from execbrief.models import Fact, Severity
from tests.conftest import Cli

REPO = Path(__file__).resolve().parents[1]
LAMBDA = "queenofsandiego-app"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / LAMBDA
    shutil.copytree(REPO / "examples" / "portfolio" / "repos" / LAMBDA, target)
    return target


def _planted_key(repo: Path) -> str:
    """The example's Stripe-shaped key, joined the way Python joins it."""
    import ast

    tree = ast.parse((repo / "lambda" / "lambda_function.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and str(node.value).startswith("sk_live_"):
            return str(node.value)
    raise AssertionError("no planted key")


def test_json_output_is_only_facts_with_masked_values(cli: Cli, repo: Path) -> None:
    result = cli("audit", repo, "--json")

    facts = TypeAdapter(list[Fact]).validate_json(result.out)
    key = _planted_key(repo)
    assert key not in result.out and key not in result.err
    assert base64.b64encode(key.encode()).decode() not in result.out
    secret = next(f for f in facts if f.kind == "secret.hardcoded")
    assert secret.source.path == "lambda/lambda_function.py"
    assert secret.source.line is not None
    assert f"{key[:8]}…{key[-4:]}" in secret.detail + secret.title
    assert result.code == 1  # default --fail-on high, and a live key is critical


@pytest.mark.parametrize(("fail_on", "code"), [("critical", 1), ("high", 1), ("info", 1)], ids=str)
def test_fail_on_sets_the_exit_code(cli: Cli, repo: Path, fail_on: str, code: int) -> None:
    assert cli("audit", repo, "--fail-on", fail_on).code == code


def test_a_clean_repo_passes_and_checks_can_be_narrowed(cli: Cli, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "app.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")

    result = cli("audit", clean, "--checks", "secrets,python", "--json", "--fail-on", "low")

    assert result.code == 0, result.out
    assert json.loads(result.out) == []


def test_table_output_names_file_and_line(cli: Cli, repo: Path) -> None:
    result = cli("audit", repo, "--checks", "secrets")

    assert "lambda/lambda_function.py:" in result.out
    assert _planted_key(repo) not in result.out


def test_an_unknown_check_or_severity_is_bad_input(cli: Cli, repo: Path) -> None:
    assert cli("audit", repo, "--checks", "telepathy").code == 2
    assert cli("audit", repo, "--fail-on", "dire").code == 2


def test_a_missing_folder_is_bad_input_not_zero_findings(
    cli: Cli, repo: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-repo"

    result = cli("audit", str(repo), str(missing))

    assert result.code == 2
    assert f"error: {missing}: no such repository folder" in result.err
    assert "findings" not in result.err


def test_severity_enum_is_what_fail_on_accepts() -> None:
    assert [s.value for s in Severity] == ["critical", "high", "medium", "low", "info"]
