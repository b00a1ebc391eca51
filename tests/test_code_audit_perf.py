"""The code audit's cheaper paths find what the plain ones found: one walk per Python file
shared by the checks, bandit on the audit's own parse, clean files told by their blob
ids, the inventory's single git log, and the result cache (`--no-cache`, new commits)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from execbrief.collectors.code_audit import collector, history, py_tree, secrets_scan
from execbrief.collectors.code_audit.audit_cache import AuditCache
from execbrief.collectors.code_audit.bandit_run import LOW_ONLY_TESTS
from execbrief.collectors.code_audit.collector import CHECKS, audit_repo
from execbrief.collectors.code_audit.endpoints import EndpointsCheck
from execbrief.collectors.code_audit.python_checks import PythonCheck
from execbrief.collectors.code_audit.repo_files import AuditScope, RepoFile, SourceFile
from execbrief.collectors.code_audit.repo_inventory import InventoryCheck
from execbrief.models import CollectResult
from tests.conftest import Cli
from tests.fixtures_repos import Keys, commit_all, git, git_env, init_repo, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
ALL = frozenset(CHECKS)

# Shapes where the order of a walk matters: a name defined twice, an import after its
# use, names resolved per function scope, dispatch tables, nested functions and classes.
TRICKY = {
    "dup_names.py": """
        def handler(event, context):
            return {"headers": {"Access-Control-Allow-Origin": "*"}}
        def handler(event, context):
            body = event.get("body")
            table.put_item(Item=body)
            return {"headers": {"Access-Control-Allow-Origin": "*"}}
    """,
    "late_import.py": """
        def f(tok):
            opts = {"verify_signature": False}
            return decode(tok, options=opts)
        def g(p):
            payload = {"sub": p}
            return enc(payload, "k")
        from jwt import decode, encode as enc
    """,
    "scopes.py": """
        import jwt as J
        opts = {"verify_exp": False}
        def a(t):
            return J.decode(t, options=opts)
        def b(t):
            opts = {"verify_exp": True}
            return J.decode(t, options=opts, algorithms=["none"])
        def c(u):
            claims = {"sub": u}
            claims["exp"] = 5
            return J.encode(claims, "s")
        class K:
            def m(self, u):
                x = {"u": u}
                return J.encode(x, "s")
    """,
    "routes.py": """
        import json
        def create(event):
            data = json.loads(event["body"])
            db.put_item(Item=data)
        def read(event):
            return event["queryStringParameters"]
        def guarded(event):
            verify_token(event)
            db.delete_item(Key=event["pathParameters"])
        ROUTES = {("POST", "/items"): create, ("GET", "/items"): read, "DELETE /x": guarded}
        def lambda_handler(event, context):
            route = ROUTES.get(event["routeKey"])
            return route(event)
        def helper(evt, ctx):
            inner(evt)
        def inner(e):
            return e.get("body")
        H = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST"}
    """,
    "nested.py": """
        def handler(event, context):
            def inner():
                return event["body"]
            class C:
                def m(self):
                    return {"Access-Control-Allow-Origin": "*"}
            if event.get("body"):
                s3.put_object(Body=inner())
            return [x for x in event.get("queryStringParameters", [])]
    """,
}

# What the checks found in TRICKY before they shared a walk, each walking on its own
# (commit 2bdef6c); the shared walk must find the same.
TRICKY_FOUND = {
    ("auth.endpoint_unauthenticated", "dup_names.py", 3),
    ("auth.endpoint_unauthenticated", "nested.py", 1),
    ("auth.endpoint_unauthenticated", "routes.py", 2),
    ("auth.endpoint_unauthenticated", "routes.py", 5),
    ("auth.jwt_no_expiry", "late_import.py", 3),
    ("auth.jwt_no_expiry", "late_import.py", 6),
    ("auth.jwt_no_expiry", "scopes.py", 4),
    ("auth.jwt_no_expiry", "scopes.py", 7),
    ("auth.jwt_no_expiry", "scopes.py", 15),
    ("http.cors_wildcard", "dup_names.py", 6),
    ("http.cors_wildcard", "nested.py", 6),
    ("http.cors_wildcard", "routes.py", 18),
}


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = init_repo(tmp_path / "app")
    for rel, text in files.items():
        write(repo, rel, textwrap.dedent(text).lstrip("\n"))
    commit_all(repo)
    return repo


def _found(result: CollectResult, kinds: set[str]) -> set[tuple[str, str, int]]:
    return {
        (f.kind, f.source.path or "", f.source.line or 0) for f in result.facts if f.kind in kinds
    }


def test_one_shared_walk_finds_what_the_separate_walks_found(tmp_path: Path) -> None:
    repo = _repo(tmp_path, TRICKY)
    result = audit_repo(repo, ALL, NOW, None)
    kinds = {"auth.endpoint_unauthenticated", "http.cors_wildcard", "auth.jwt_no_expiry"}

    assert _found(result, kinds) == TRICKY_FOUND
    # The second `handler` is the one kept; its header literal counts for both definitions.
    cors = [f for f in result.facts if f.kind == "http.cors_wildcard"]
    assert [f.source.path for f in cors].count("dup_names.py") == 2
    [deps] = [f for f in result.facts if f.kind == "repo.dependencies"]
    assert "jwt" in deps.detail


def test_each_python_file_is_parsed_and_walked_once_for_every_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, {**TRICKY, "broken.py": "def (:\n", "notes.md": "# jwt\n"})
    walked: list[int] = []
    parsed: list[str] = []
    real_walk, real_parse = py_tree.walk_once, ast.parse

    def counting_walk(tree: ast.Module, listeners: list[object]) -> None:
        walked.append(id(tree))
        real_walk(tree, listeners)  # type: ignore[arg-type]

    def counting_parse(source: object, filename: str = "<unknown>", **kw: object) -> object:
        if filename != "<unknown>":
            parsed.append(filename)
        return real_parse(source, filename, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(collector, "walk_once", counting_walk)
    monkeypatch.setattr(ast, "parse", counting_parse)
    audit_repo(repo, frozenset({"secrets", "env"}), NOW, None)
    assert not parsed and not walked  # no check here reads a tree the prefilter did not ask for
    result = audit_repo(repo, ALL, NOW, None)

    assert sorted(parsed) == sorted([*TRICKY, "broken.py"])
    assert len(walked) == len(set(walked)) == len(TRICKY)  # not the file that does not parse
    assert _found(result, {"auth.jwt_no_expiry"}) <= TRICKY_FOUND
    assert any(f.kind == "code.syntax_error" for f in result.facts)


def test_a_check_visited_on_its_own_walks_the_tree_itself(tmp_path: Path) -> None:
    """Outside the shared walk (a check used alone) each check still reads its facts."""
    repo = _repo(tmp_path, TRICKY)
    scope = AuditScope(repo="app", root=repo, entity=None, now=NOW)
    checks: list[EndpointsCheck | PythonCheck | InventoryCheck]
    checks = [EndpointsCheck(scope), PythonCheck(scope), InventoryCheck(scope)]
    for rel in sorted(TRICKY):
        source = SourceFile(RepoFile(rel, str(repo / rel), True), (repo / rel).read_bytes())
        for check in checks:
            check.visit(source)
    kinds = {"auth.endpoint_unauthenticated", "http.cors_wildcard", "auth.jwt_no_expiry"}

    assert _found(CollectResult(facts=scope.facts), kinds) == TRICKY_FOUND


# --- bandit ------------------------------------------------------------------------------


def test_bandit_honours_nosec_on_the_shared_parse(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "plain.py": "import subprocess\nsubprocess.call(input(), shell=True)\n",
            "waived.py": "import subprocess\nsubprocess.call(input(), shell=True)  # nosec\n",
            "waived_one.py": (
                "import subprocess\nsubprocess.call(input(), shell=True)  # nosec B602\n"
            ),
            "other_waived.py": (
                "import subprocess\nsubprocess.call(input(), shell=True)  # nosec B101\n"
            ),
        },
    )
    facts = audit_repo(repo, frozenset({"python"}), NOW, None).facts
    bandit = [f for f in facts if f.kind == "code.bandit"]

    assert sorted({f.source.path or "" for f in bandit}) == ["other_waived.py", "plain.py"]
    assert {f.source.section for f in bandit} == {"B602"}


def test_the_tests_bandit_skips_only_ever_report_low_severity() -> None:
    """Skipping them cannot hide a medium or high issue; this fails if bandit changes one."""
    from bandit.core import extension_loader

    plugins = {p.plugin._test_id: p.plugin for p in extension_loader.MANAGER.plugins}
    for test_id in sorted(LOW_ONLY_TESTS):
        source = inspect.getsource(inspect.getmodule(plugins[test_id]))  # type: ignore[arg-type]
        assert set(re.findall(r"severity=bandit\.(\w+)", source)) == {"LOW"}, test_id


# --- git ---------------------------------------------------------------------------------


def test_blob_ids_are_gits_own(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    data = b"KEY = 1\n\x00\xff tail"
    path = write(repo, "f.bin", data)
    assert history.blob_id(data, "0" * 40) == git(repo, "hash-object", str(path))


def test_clean_files_need_no_diff_files_and_edited_ones_still_get_it_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Keys(41).stripe_live()
    repo = _repo(tmp_path, {"keys.py": f'KEY = "{key}"\n', "app.py": "x = 1\n"})
    asked: list[Path] = []
    real = history.clean_blobs

    def spy(root: Path, index_blobs: dict[str, str]) -> dict[str, str]:
        asked.append(root)
        return real(root, index_blobs)

    monkeypatch.setattr(history, "clean_blobs", spy)

    def in_history() -> float:
        [fact] = audit_repo(repo, frozenset({"secrets"}), NOW, None).facts
        return fact.metrics["in_history"]

    assert in_history() == 1.0
    assert asked == []
    write(repo, "app.py", "x = 2\n")  # another file edited: git is asked, same answer
    assert in_history() == 1.0
    assert asked == [repo]
    write(repo, "keys.py", f'KEY = "{key}"\nOTHER = 1\n')  # the file itself edited
    assert in_history() == 1.0
    write(repo, "fresh.py", f'NEW = "{Keys(42).stripe_live()}"\n')
    git(repo, "add", "fresh.py")  # staged, never committed
    facts = audit_repo(repo, frozenset({"secrets"}), NOW, None).facts
    assert {f.source.path: f.metrics["in_history"] for f in facts}["fresh.py"] == 0.0


def test_a_large_repository_asks_git_which_files_are_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = Keys(44).stripe_live()
    repo = _repo(tmp_path, {"keys.py": f'KEY = "{key}"\n'})
    asked: list[Path] = []
    real = history.clean_blobs
    monkeypatch.setattr(secrets_scan, "HASH_MAX_FILES", 1)

    def spy(root: Path, index_blobs: dict[str, str]) -> dict[str, str]:
        asked.append(root)
        return real(root, index_blobs)

    monkeypatch.setattr(secrets_scan, "clean_blobs", spy)
    [fact] = audit_repo(repo, frozenset({"secrets"}), NOW, None).facts

    assert asked == [repo]
    assert fact.metrics["in_history"] == 1.0


def _commit_at(repo: Path, when: datetime, rel: str) -> None:
    write(repo, rel, f"# {when.isoformat()}\n")
    stamp = when.isoformat()
    env = {**git_env(), "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    for args in (["add", "-A"], ["commit", "-q", "-m", rel]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


@pytest.mark.parametrize("ages", [[40, 31, 29.99, 2, 0.5], [400, 45, 31], [30, 29]])
def test_inventory_dates_and_counts_agree_with_git_rev_list(
    tmp_path: Path, ages: list[float]
) -> None:
    repo = init_repo(tmp_path / "r")
    for n, days in enumerate(ages):
        _commit_at(repo, NOW - timedelta(days=days), f"f{n}.py")
    since = (NOW - timedelta(days=30)).isoformat()
    expected = int(git(repo, "rev-list", "--count", f"--since={since}", "HEAD", "--", "."))
    last = datetime.fromisoformat(git(repo, "log", "-1", "--format=%cI", "--", "."))

    [fact] = [
        f for f in audit_repo(repo, frozenset({"inventory"}), NOW, None).facts
        if f.kind == "repo.inventory"
    ]  # fmt: skip
    assert fact.metrics["commits_last_30_days"] == expected
    assert fact.metrics["days_since_last_commit"] == (NOW - last).days


# --- cache -------------------------------------------------------------------------------


def test_a_cached_repository_with_a_new_commit_is_audited_again(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"app.py": "x = 1\n"})
    cache = AuditCache(tmp_path / "cache")
    first = audit_repo(repo, ALL, NOW, None, cache=cache)
    assert not [f for f in first.facts if f.kind == "secret.hardcoded"]

    write(repo, "keys.py", f'KEY = "{Keys(43).stripe_live()}"\n')
    commit_all(repo, "add a key")
    again = audit_repo(repo, ALL, NOW, None, cache=cache)

    assert [f.source.path for f in again.facts if f.kind == "secret.hardcoded"] == ["keys.py"]
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    repo = _repo(root / "repos", {"app.py": "import os\nprint(os.getcwd())\n"})
    (root / "execbrief.yaml").write_text(
        "portfolio: Test\n"
        "entities:\n  - {id: app, name: App}\n"
        "sources:\n  repos: [repos/*]\n"
        "llm:\n  provider: offline\n",
        encoding="utf-8",
    )
    assert repo.parent == root / "repos"
    return root


def test_collect_no_cache_audits_every_repository_afresh(tmp_path: Path, cli: Cli) -> None:
    root = _workspace(tmp_path)
    folder = Path(os.environ["EXECBRIEF_CACHE_DIR"]) / "code-audit"

    def titles(*extra: str) -> set[str]:
        assert cli("collect", "--workspace", root, *extra).code == 0
        bundle = json.loads((root / "outputs" / "latest" / "bundle.json").read_text())
        return {f["title"] for f in bundle["facts"] if f["collector"] == "code_audit"}

    real = titles()
    [stored] = folder.glob("*.json")
    # A stored result that says something else shows whether the cache was read.
    stored.write_text(stored.read_text().replace("app: ", "CACHED app: "))
    assert any(t.startswith("CACHED") for t in titles())
    assert titles("--no-cache") == real
    assert any(t.startswith("CACHED") for t in titles())  # --no-cache left the cache alone
