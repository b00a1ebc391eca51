"""The code audit on the example portfolio finds each problem planted there."""

from __future__ import annotations

import ast
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from execbrief.collectors.code_audit.collector import CodeAuditCollector
from execbrief.config import CollectContext, load_workspace
from execbrief.models import CollectResult, Fact, Severity
from tests.fixtures_repos import commit_all, init_repo, line_of

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
QOSD = Path("repos/queenofsandiego-app")
LAMBDA = "lambda/lambda_function.py"


def planted_stripe_key(path: Path) -> str:
    """The key as Python folds it; the file never holds it in one piece."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and str(node.value).startswith("sk_" + "live_"):
            return str(node.value)
    raise AssertionError("no Stripe-shaped key planted")


def find(result: CollectResult, kind: str, repo: str, path: str) -> list[Fact]:
    return [
        f
        for f in result.facts
        if f.kind == kind and f.source.resource == repo and f.source.path == path
    ]


@pytest.fixture(params=["git", "plain"])
def audited(request: pytest.FixtureRequest, example_workspace: Path) -> tuple[Path, CollectResult]:
    """The example audited with each repository as its own git repo, and as plain folders."""
    if request.param == "git":
        for repo in sorted((example_workspace / "repos").iterdir()):
            init_repo(repo)
            commit_all(repo, "import")
    workspace = load_workspace(example_workspace)
    ctx = CollectContext(root=workspace.root, config=workspace.config, now=NOW)
    return example_workspace, CodeAuditCollector().collect(ctx)


def test_stripe_key_is_found_where_it_is_planted(audited: tuple[Path, CollectResult]) -> None:
    root, result = audited
    source = root / QOSD / LAMBDA

    [fact] = find(result, "secret.hardcoded", "queenofsandiego-app", LAMBDA)

    assert fact.source.line == line_of(source, '"sk_' + 'live_"')
    assert (fact.severity, fact.entity) == (Severity.CRITICAL, "queenofsandiego")
    assert fact.source.section == "stripe_live_secret"


def test_committed_env_file_is_found(audited: tuple[Path, CollectResult]) -> None:
    _, result = audited

    [fact] = find(result, "repo.env_file_tracked", "queenofsandiego-app", "repos.env")

    assert "STRIPE_SECRET_KEY" in fact.detail
    assert fact.entity == "queenofsandiego"


def test_apps_script_do_post_without_auth_is_found(audited: tuple[Path, CollectResult]) -> None:
    root, result = audited

    facts = find(result, "auth.endpoint_unauthenticated", "jada-forms", "Code.gs")

    assert [(f.source.line, f.entity) for f in facts] == [
        (line_of(root / "repos/jada-forms/Code.gs", "function doPost"), "jada")
    ]


def test_jwt_decode_without_expiry_is_found(audited: tuple[Path, CollectResult]) -> None:
    root, result = audited

    facts = find(result, "auth.jwt_no_expiry", "queenofsandiego-app", LAMBDA)

    decode_line = line_of(root / QOSD / LAMBDA, "jwt.decode(")
    assert decode_line in [f.source.line for f in facts if f.severity is Severity.HIGH]


def test_look_alikes_in_the_example_are_not_secrets(audited: tuple[Path, CollectResult]) -> None:
    _, result = audited

    assert {f.source.resource for f in result.facts if f.kind.startswith("secret.")} == {
        "queenofsandiego-app"
    }


def test_planted_key_never_leaves_the_collector(audited: tuple[Path, CollectResult]) -> None:
    root, result = audited
    key = planted_stripe_key(root / QOSD / LAMBDA)
    dumped = result.model_dump_json()

    assert key not in dumped
    assert base64.b64encode(key.encode()).decode() not in dumped
    assert key[8:-4] not in dumped
