"""The secret check: keys in the files of a repository and in its git history.

Raw values stay inside this module and the redaction step of the collector; facts carry
only the masked form.
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from execbrief.models import Severity
from execbrief.secrets.mask import mask
from execbrief.secrets.rules import (
    AWS_KEY_ID,
    Prefilter,
    SecretRule,
    classify_assignment,
    is_config_file,
    is_lock_file,
    match_aws_secret_near,
    match_line,
    match_pem,
)

from .repo_files import AuditScope, SourceFile, is_vendored

TAGS = ["security", "secrets"]
# A key near the end of a window may extend past it; a window is this far either side of
# a prefilter hit, clipped to its line.
_REACH = 700
# Bounds on the history scan, so a huge monorepo history cannot stall an audit.
HISTORY_MAX_COMMITS = 5000
HISTORY_MAX_BYTES = 256 * 1024 * 1024
HISTORY_TIMEOUT = 120.0
_HISTORY_ARGS = (
    "log",
    "-p",
    "--all",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "-U0",
    f"--max-count={HISTORY_MAX_COMMITS}",
    "--format=%x01%H %cI",
    "--relative",
    "--",
    ".",
)
# A value folded from several literals is found in history by its tail, which sits
# within one literal piece.
_ANCHOR = 16


@dataclass(frozen=True)
class Finding:
    rule: SecretRule
    value: str
    rel: str
    line: int
    tracked: bool | None


@dataclass(frozen=True)
class HistoryHit:
    rule: SecretRule
    value: str
    rel: str
    line: int
    commit: str
    date: str


class SecretsCheck:
    """Finds secrets in each file visited, then in the repository's git history."""

    name = "secrets"

    def __init__(self, scope: AuditScope, engine: Prefilter) -> None:
        self._scope = scope
        self._engine = engine
        self._findings: list[Finding] = []
        self.raw_values: set[str] = set()

    def visit(self, source: SourceFile) -> None:
        if is_lock_file(source.rel):
            return
        data = source.data
        python = source.rel.endswith(".py")
        hits, concatenated = self._engine.hits(data, python)
        seen: set[tuple[str, int]] = set()
        for rule, value, offset in _scan_bytes(data, hits, is_config_file(source.rel)):
            line = data.count(b"\n", 0, offset) + 1
            self._add(seen, source, rule, value, line)
        if concatenated:
            tree = source.python_tree()
            if isinstance(tree, ast.Module):
                known = {value for value, _ in seen}
                for rule, value, line in _scan_constants(tree):
                    if value not in known:
                        self._add(seen, source, rule, value, line)

    def _add(
        self,
        seen: set[tuple[str, int]],
        source: SourceFile,
        rule: SecretRule,
        value: str,
        line: int,
    ) -> None:
        if (value, line) in seen:
            return
        seen.add((value, line))
        self.raw_values.add(value)
        self._findings.append(Finding(rule, value, source.rel, line, source.file.tracked))

    def finish(self) -> None:
        history: bytes = b""
        hits: list[HistoryHit] = []
        if self._scope.is_git:
            history, stopped = read_history(self._scope.root)
            if stopped:
                self._scope.gap(".git", stopped, hint="older commits were not scanned for secrets")
            hits = list(scan_history(history, self._engine))
        in_tree = {f.value for f in self._findings}
        for finding in self._findings:
            in_history = None
            if self._scope.is_git:
                in_history = finding.value[-_ANCHOR:].encode() in history
            self._emit_hardcoded(finding, in_history)
        oldest: dict[str, HistoryHit] = {}
        for hit in hits:
            self.raw_values.add(hit.value)
            if hit.value not in in_tree:
                oldest[hit.value] = hit  # git log lists newest first
        for hit in oldest.values():
            self._emit_history(hit)

    def _emit_hardcoded(self, f: Finding, in_history: bool | None) -> None:
        tracked = {True: "yes", False: "no", None: "not a git repository"}[f.tracked]
        also = {True: "yes", False: "no", None: "unknown"}[in_history]
        severity = f.rule.severity
        if f.tracked is False and not in_history:
            severity = _lower(severity)  # on disk only, not yet committed
        metrics: dict[str, float] = {}
        if f.tracked is not None:
            metrics["tracked"] = float(f.tracked)
        if in_history is not None:
            metrics["in_history"] = float(in_history)
        self._scope.fact(
            "secret.hardcoded",
            severity,
            f"{f.rule.label} in {f.rel}:{f.line}",
            path=f.rel,
            line=f.line,
            section=f.rule.id,
            detail=(
                f"{f.rule.label} {mask(f.value)} at {f.rel}:{f.line} (rule {f.rule.id}). "
                f"File tracked by git: {tracked}. Value also in git history: {also}."
            ),
            metrics=metrics,
            tags=[*TAGS, f.rule.id],
            key=hashlib.sha256(f.value.encode()).hexdigest()[:16],  # one identity, code or history
        )

    def _emit_history(self, hit: HistoryHit) -> None:
        self._scope.fact(
            "secret.in_history",
            hit.rule.severity,
            f"{hit.rule.label} in git history of {hit.rel}",
            path=hit.rel,
            line=hit.line,
            section=hit.rule.id,
            detail=(
                f"{hit.rule.label} {mask(hit.value)} was committed to {hit.rel}:{hit.line} in "
                f"{hit.commit[:10]} ({hit.date}) and is no longer in the working tree; anyone "
                f"with a clone can still read it, so it needs rotating (rule {hit.rule.id})."
            ),
            tags=[*TAGS, hit.rule.id],
            key=hashlib.sha256(hit.value.encode()).hexdigest()[:16],
        )


def _lower(severity: Severity) -> Severity:
    order = list(Severity)
    return order[min(order.index(severity) + 1, len(order) - 1)]


def _windows(data: bytes, hits: list[int]) -> Iterator[tuple[int, int]]:
    """Merged spans around the hits, each within the hit's line and _REACH of the hit."""
    current: tuple[int, int] | None = None
    for hit in sorted(hits):
        line_start = data.rfind(b"\n", 0, hit) + 1
        line_end = data.find(b"\n", hit)
        if line_end < 0:
            line_end = len(data)
        span = (max(line_start, hit - _REACH), min(line_end, hit + _REACH))
        if current and span[0] <= current[1]:
            current = (current[0], max(current[1], span[1]))
            continue
        if current:
            yield current
        current = span
    if current:
        yield current


def _scan_bytes(
    data: bytes, hits: list[int], unquoted: bool
) -> Iterator[tuple[SecretRule, str, int]]:
    """(rule, value, absolute offset) for every rule match near the prefilter's hits."""
    for start, end in _windows(data, hits):
        chunk = data[start:end]
        for m in match_line(chunk, unquoted):
            yield m.rule, m.value, start + m.offset
            if m.rule is AWS_KEY_ID:
                near_start = data.rfind(b"\n", 0, max(0, start - 1)) + 1
                near_end = _nth_newline(data, end, 3)
                for near in match_aws_secret_near(data[near_start:near_end]):
                    yield near.rule, near.value, near_start + near.offset
        for m in match_pem(data, start, end):
            yield m.rule, m.value, m.offset


def _nth_newline(data: bytes, start: int, n: int) -> int:
    pos = start
    for _ in range(n):
        nxt = data.find(b"\n", pos + 1)
        if nxt < 0:
            return len(data)
        pos = nxt
    return pos


def _scan_constants(tree: ast.Module) -> Iterator[tuple[SecretRule, str, int]]:
    """Rule matches in string constants as Python folds them (`"sk_live_" "51N..."`)."""
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        for name, value in _named_values(node):
            names[id(value)] = name
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if len(node.value) < 8:
            continue
        raw = node.value.encode("utf-8", errors="replace")
        for m in match_line(raw, unquoted=False):
            yield m.rule, m.value, node.lineno
        for m in match_pem(raw, 0, len(raw)):
            yield m.rule, m.value, node.lineno
        owner = names.get(id(node))
        named = classify_assignment(owner, node.value) if owner else None
        if named is not None:
            yield named, node.value, node.lineno


def _named_values(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """(name, value) pairs: assignments, keyword arguments, dict entries, getenv defaults."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            name = _target_name(target)
            if name:
                yield name, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        name = _target_name(node.target)
        if name:
            yield name, node.value
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg, node.value
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value, value
    elif isinstance(node, ast.Call) and len(node.args) == 2:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value, node.args[1]


def _target_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    return None


def read_history(root: Path) -> tuple[bytes, str | None]:
    """`git log -p` of every ref, as added lines matter; stops at the bounds and says why."""
    cmd = ["git", "-c", "core.quotepath=off", "-c", "core.fsmonitor=false", *_HISTORY_ARGS]
    try:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError as exc:
        return b"", f"cannot run git log: {exc.strerror}"
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + HISTORY_TIMEOUT
    stopped: str | None = None
    # os.read returns what the pipe holds now, so the bounds are checked as output arrives.
    while chunk := os.read(proc.stdout.fileno(), 1 << 20):
        chunks.append(chunk)
        size += len(chunk)
        if size > HISTORY_MAX_BYTES:
            stopped = f"git history scan stopped at {HISTORY_MAX_BYTES // 2**20} MiB of diffs"
        elif time.monotonic() > deadline:
            stopped = f"git history scan stopped after {HISTORY_TIMEOUT:.0f} s"
        if stopped:
            proc.kill()
            break
    proc.stdout.close()
    proc.wait()
    return b"".join(chunks), stopped


def scan_history(log: bytes, engine: Prefilter) -> Iterator[HistoryHit]:
    """Secrets on added lines of a `git log -p -U0` output, with file, line and commit."""
    hits, _ = engine.hits(log, python=False)
    for start, end in _windows(log, hits):
        line_start = log.rfind(b"\n", 0, start) + 1
        if log[line_start : line_start + 1] != b"+" or log.startswith(b"+++ ", line_start):
            continue
        where = _diff_position(log, line_start)
        if where is None:
            continue
        rel, line, commit, date = where
        if is_vendored(rel) or is_lock_file(rel):
            continue
        chunk = log[max(start, line_start + 1) : end]
        for m in match_line(chunk, is_config_file(rel)):
            yield HistoryHit(m.rule, m.value, rel, line, commit, date)
        for m in match_pem(log, start, end):
            yield HistoryHit(m.rule, m.value.lstrip("+"), rel, line, commit, date)


def _diff_position(log: bytes, line_start: int) -> tuple[str, int, str, str] | None:
    """(file, new-file line, commit, date) of the added line starting at `line_start`."""
    hunk = log.rfind(b"\n@@ ", 0, line_start)
    header = log.rfind(b"\n+++ ", 0, line_start)
    commit_at = log.rfind(b"\x01", 0, line_start)
    if min(hunk, header, commit_at) < 0 or header > hunk or commit_at > header:
        return None
    hunk_end = log.find(b"\n", hunk + 1)
    plus = log[hunk + 4 : hunk_end].split(b" ")[1] if b" " in log[hunk + 4 : hunk_end] else b""
    try:
        first = int(plus.lstrip(b"+").split(b",")[0])
    except ValueError:
        return None
    line = first + log.count(b"\n+", hunk_end, line_start)
    path = log[header + 5 : log.find(b"\n", header + 1)].decode("utf-8", errors="replace")
    path = path.strip('"')
    path = path[2:] if path.startswith("b/") else path
    commit_line = log[commit_at + 1 : log.find(b"\n", commit_at)].decode(errors="replace")
    commit, _, date = commit_line.partition(" ")
    return path, line, commit, date
