"""Symlinks do not lead evidence out of the workspace (issue 13.4): a linked note, a linked
handoff folder, a linked ledger file or a `repos/*` entry pointing outside is a gap naming
the link, and nothing behind it is read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from execbrief.boundary import glob_inside
from execbrief.collectors.code_audit import CodeAuditCollector
from execbrief.collectors.handoffs import HandoffsCollector
from execbrief.collectors.ledger import LedgerCollector
from execbrief.config import CollectContext, LedgerSource, Sources, WorkspaceConfig
from execbrief.models import CollectResult, Entity
from tests.adversarial.canaries import CANARIES
from tests.fixtures_repos import commit_all, init_repo, write

NOW = datetime(2026, 11, 25, 14, 15, tzinfo=UTC)
SECRET_LINE = "root:x:0:0:" + CANARIES["generic_secret"]


def _ctx(root: Path, **sources: object) -> CollectContext:
    config = WorkspaceConfig(
        portfolio="p", entities=[Entity(id="jada", name="JADA")], sources=Sources(**sources)
    )
    return CollectContext(root=root, config=config, now=NOW)


def _outside(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "passwd").write_text(f"# JADA\n\n## Access\n\n- {SECRET_LINE}\n")
    (outside / "ledger.csv").write_text("date,amount,memo\n2026-10-01,5.00,OUTSIDE-ROW\n")
    return outside


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "handoffs").mkdir(parents=True)
    (root / "handoffs" / "jada.md").write_text("# JADA\n\n## Notes\n\n- TODO inside\n")
    return root


def _read(result: CollectResult) -> str:
    return result.model_dump_json()


def test_a_note_symlinked_outside_is_a_gap_naming_the_link(tmp_path: Path) -> None:
    outside, root = _outside(tmp_path), _workspace(tmp_path)
    (root / "handoffs" / "passwd.md").symlink_to(outside / "passwd")

    result = HandoffsCollector().collect(_ctx(root, handoffs=["handoffs/*.md"]))

    assert "root:x" not in _read(result)
    [gap] = [g for g in result.gaps if "passwd" in g.source]
    assert gap.source == "handoffs/passwd.md"
    assert "symlink handoffs/passwd.md points outside the workspace" in gap.reason
    assert "elsewhere" not in gap.reason
    assert any(f.title == "TODO inside" for f in result.facts)


def test_a_handoff_folder_symlinked_outside_is_not_read(tmp_path: Path) -> None:
    outside, root = _outside(tmp_path), _workspace(tmp_path)
    (outside / "notes").mkdir()
    (outside / "notes" / "x.md").write_text(f"# JADA\n\n- {SECRET_LINE}\n")
    (root / "shared").symlink_to(outside / "notes")

    result = HandoffsCollector().collect(_ctx(root, handoffs=["shared/*.md", "handoffs/*.md"]))

    assert "root:x" not in _read(result)
    assert any("symlink shared points outside" in g.reason for g in result.gaps)


def test_a_link_inside_the_workspace_is_read(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    (root / "handoffs" / "alias.md").symlink_to(root / "handoffs" / "jada.md")

    result = HandoffsCollector().collect(_ctx(root, handoffs=["handoffs/alias.md"]))

    assert result.gaps == [] and any(f.title == "TODO inside" for f in result.facts)


def test_a_ledger_file_symlinked_outside_is_not_read(tmp_path: Path) -> None:
    outside, root = _outside(tmp_path), _workspace(tmp_path)
    (root / "books").mkdir()
    (root / "books" / "ok.csv").write_text("date,amount,memo\n2026-10-01,7.00,INSIDE-ROW\n")
    (root / "books" / "linked.csv").symlink_to(outside / "ledger.csv")

    result = LedgerCollector().collect(_ctx(root, ledger=LedgerSource(path=Path("books"))))

    assert "OUTSIDE-ROW" not in _read(result)
    assert any(
        g.source == "books/linked.csv" and "points outside the workspace" in g.reason
        for g in result.gaps
    )


def test_a_repos_glob_entry_symlinked_outside_is_not_audited(tmp_path: Path) -> None:
    root = _workspace(tmp_path)
    elsewhere = init_repo(tmp_path / "elsewhere-repo")
    write(elsewhere, "app.py", f'api_token = "{CANARIES["generic_secret"]}"\n')
    commit_all(elsewhere)
    inside = init_repo(root / "repos" / "jada-app")
    write(inside, "main.py", "print('hi')\n")
    commit_all(inside)
    (root / "repos" / "other").symlink_to(elsewhere)

    result = CodeAuditCollector().collect(_ctx(root, repos=["repos/*"]))

    assert not [f for f in result.facts if f.kind.startswith("secret.")]
    assert any("symlink repos/other points outside the workspace" in g.reason for g in result.gaps)


def test_one_glob_helper_splits_matches_by_where_they_resolve(tmp_path: Path) -> None:
    root, outside = tmp_path / "ws", _outside(tmp_path)
    (root / "notes" / "sub").mkdir(parents=True)
    (root / "notes" / "a.md").write_text("a")
    (root / "notes" / "b.md").symlink_to(outside / "passwd")
    (root / "notes" / "c.md").symlink_to(root / "notes" / "a.md")

    files = glob_inside(root, "notes/*", "file")
    folders = glob_inside(root, "notes/*", "dir")
    absolute = glob_inside(root, f"{root}/notes/*.md", "file")

    assert files.inside == [root / "notes" / "a.md", root / "notes" / "c.md"]
    assert files.outside == [
        (root / "notes" / "b.md", "symlink notes/b.md points outside the workspace")
    ]
    assert folders.inside == [root / "notes" / "sub"] and not folders.outside
    assert absolute.inside == files.inside
    assert not glob_inside(root, "nothing/*", "file")
