"""The secret check: keys in the files of a repository and in its git history.

Raw values stay inside this module and the redaction step of the collector; facts carry
only the masked form.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from execbrief.models import Severity
from execbrief.secrets.mask import mask
from execbrief.secrets.rules import (
    AWS_KEY_ID,
    Match,
    Prefilter,
    SecretRule,
    classify_assignment,
    is_config_file,
    is_lock_file,
    join_literals,
    match_aws_secret_near,
    match_line,
    match_pem,
)

from .false_alarms import dismissed
from .history import DiffCursor, History, blob_id, clean_blobs, read_history, read_raw_log
from .key_use import keys_in_use
from .py_tree import TreeListener, statements_over
from .repo_files import AuditScope, SourceFile, is_vendored

TAGS = ["security", "secrets"]
# A key near the end of a window may extend past it; a window is this far either side of
# a prefilter hit, clipped to its line.
_REACH = 700
_PEM_HEADER_TEXT = b"PRIVATE KEY"
# Repositories with more indexed files than this ask git which files are clean.
HASH_MAX_FILES = 1000
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

    def __init__(self, scope: AuditScope, engine: Prefilter, history: bool = True) -> None:
        self._scope = scope
        self._engine = engine
        self._memo = MatchMemo()
        self._findings: list[Finding] = []
        self.raw_values: set[str] = set()
        # Tracked files read whose bytes are the index's blob: clean, as git would say.
        self._clean: dict[str, str] = {}
        # A small repository's clean files are told by hashing what the scan reads, which
        # costs less than a git process; a large one asks `git diff-files`, which reads
        # the index's file stamps, on the history thread.
        self._hash_blobs = len(scope.index_blobs) < HASH_MAX_FILES
        self._history_inputs: Future[tuple[bytes | None, dict[str, str] | None]] | None = None
        if scope.is_git and history:
            # git writes the log on another core while the files are scanned here.
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="git-log")
            self._history_inputs = pool.submit(
                _history_inputs, scope.root, scope.index_blobs, not self._hash_blobs
            )
            pool.shutdown(wait=False)

    def listener(self, source: SourceFile) -> TreeListener | None:
        return None  # reads only the statements over its prefilter's hits

    def visit(self, source: SourceFile) -> None:
        indexed = self._scope.index_blobs.get(source.rel) if self._hash_blobs else None
        if indexed is not None and blob_id(source.data, indexed) == indexed:
            self._clean[source.rel] = indexed
        if is_lock_file(source.rel):
            return
        data = source.data
        python = source.rel.endswith(".py")
        unquoted = is_config_file(source.rel)
        scan = self._engine.scan(data, python, quoted_only=not unquoted)
        seen: set[tuple[str, int]] = set()
        for m in _scan_bytes(data, scan.hits, unquoted, self._memo):
            self._add(seen, source, m.rule, m.value, data.count(b"\n", 0, m.offset) + 1)
        if not python:
            return
        known = {value for value, _ in seen}
        found: list[tuple[SecretRule, str, int]] = []
        if scan.folds:
            found.extend(_scan_folded(source, scan.folds, self._memo))
        if scan.key_uses:
            tree = source.python_tree()
            if isinstance(tree, ast.Module):
                lines = [data.count(b"\n", 0, end) + 1 for end in scan.key_uses]
                found.extend(keys_in_use(tree, lines))
        for rule, value, line in found:
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

    def part(self) -> object:
        return (self._findings, self.raw_values, self._clean)

    def absorb(self, part: object) -> None:
        findings, raw_values, clean = cast(tuple[list[Finding], set[str], dict[str, str]], part)
        self._findings.extend(findings)
        self.raw_values.update(raw_values)
        self._clean.update(clean)

    def finish(self) -> None:
        history = History()
        hits: list[HistoryHit] = []
        if self._history_inputs is not None:
            index = self._scope.index_blobs
            raw, clean = self._history_inputs.result()
            if clean is None and len(self._clean) == len(index):
                clean = self._clean  # every indexed file read and unchanged: git need not say
            history = read_history(self._scope.root, raw, index, clean)
            if history.stopped:
                self._scope.gap(
                    ".git", history.stopped, hint="older commits were not scanned for secrets"
                )
            hits = list(scan_history(history.log, self._engine, self._memo))
        in_tree = {f.value for f in self._findings}
        # A value counts as in history when a committed file the tree scan read holds it,
        # or when the extra diffs do (a folded value by its tail, within one literal).
        committed = {f.value for f in self._findings if history.covers(f.rel)}
        for finding in self._findings:
            in_history = None
            if self._scope.is_git:
                in_history = (
                    finding.value in committed or finding.value[-_ANCHOR:].encode() in history.log
                )
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


def _history_inputs(
    root: Path, index_blobs: dict[str, str], ask_git: bool
) -> tuple[bytes | None, dict[str, str] | None]:
    """The raw log, and (when `ask_git`) the clean files as `git diff-files` tells them."""
    return read_raw_log(root), clean_blobs(root, index_blobs) if ask_git else None


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


def _scan_bytes(data: bytes, hits: list[int], unquoted: bool, memo: MatchMemo) -> Iterator[Match]:
    """Every rule match near the prefilter's hits, with offsets into `data`."""
    for start, end in _windows(data, hits):
        chunk = data[start:end]
        for m in memo.match_line(chunk, unquoted):
            yield replace(m, offset=start + m.offset)
            if m.rule is AWS_KEY_ID:
                near_start = data.rfind(b"\n", 0, max(0, start - 1)) + 1
                near_end = _nth_newline(data, end, 3)
                for near in match_aws_secret_near(data[near_start:near_end]):
                    yield replace(near, offset=near_start + near.offset)
        yield from match_pem(data, start, end)


class MatchMemo:
    """`match_line` results by chunk: the history's added lines repeat the tree's lines,
    so each distinct window is matched once per repository."""

    def __init__(self) -> None:
        self._seen: dict[tuple[bytes, bool], tuple[Match, ...]] = {}

    def match_line(self, chunk: bytes, unquoted: bool) -> tuple[Match, ...]:
        key = (chunk, unquoted)
        found = self._seen.get(key)
        if found is None:
            matches = match_line(chunk, unquoted)
            found = tuple(m for m in matches if not dismissed(m.rule, m.name, m.value))
            self._seen[key] = found
        return found


def _nth_newline(data: bytes, start: int, n: int) -> int:
    pos = start
    for _ in range(n):
        nxt = data.find(b"\n", pos + 1)
        if nxt < 0:
            return len(data)
        pos = nxt
    return pos


def _scan_folded(
    source: SourceFile, folds: list[tuple[int, int]], memo: MatchMemo
) -> Iterator[tuple[SecretRule, str, int]]:
    """Rule matches in string literals that Python folds together (`"sk_live_" "51N..."`).

    The line rules run first on the text around each fold with the literals joined; only
    where they fire is the syntax tree read, for the exact value and line. Most folds are
    long messages, and cost one pass of the line rules.
    """
    data = source.data
    spans: list[tuple[int, int]] = []
    for fold_start, fold_end in folds:
        lo = data.rfind(b"\n", 0, max(0, data.rfind(b"\n", 0, fold_start))) + 1
        hi = _nth_newline(data, fold_end, 2)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(hi, spans[-1][1]))
        else:
            spans.append((lo, hi))
    lines = [
        (data.count(b"\n", 0, lo) + 1, data.count(b"\n", 0, hi) + 1)
        for lo, hi in spans
        if _folded_candidate(data[lo:hi], memo)
    ]
    if not lines:
        return
    tree = source.python_tree()
    if isinstance(tree, ast.Module):
        for node in statements_over(tree.body, lines):
            yield from _scan_constants(node)


# `NAME = (` before a parenthesised run of literals, so the assignment rule sees a quote.
_OPEN_PAREN = re.compile(rb"(=|:)[ \t]*\(\s*")


def _folded_candidate(chunk: bytes, memo: MatchMemo) -> bool:
    joined = _OPEN_PAREN.sub(rb"\1 ", join_literals(chunk))
    return bool(memo.match_line(joined, False)) or bool(_PEM_HEADER_TEXT in joined)


def _scan_constants(root: ast.AST) -> Iterator[tuple[SecretRule, str, int]]:
    """Rule matches in the string constants under `root`, as Python folded them.

    One breadth-first walk: a node that names a value (an assignment, keyword, dict entry
    or two-argument call) comes before the value itself, so names are known in time.
    """
    names: dict[int, str] = {}
    for node in ast.walk(root):
        for name, value in _named_values(node):
            names[id(value)] = name
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if len(node.value) < 8:
            continue
        raw = node.value.encode("utf-8", errors="replace")
        for m in match_line(raw, unquoted=False):
            if not dismissed(m.rule, m.name, m.value):
                yield m.rule, m.value, node.lineno
        for m in match_pem(raw, 0, len(raw)):
            yield m.rule, m.value, node.lineno
        owner = names.get(id(node))
        named = classify_assignment(owner, node.value) if owner else None
        if named is not None and owner and not dismissed(named, owner, node.value):
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


def scan_history(
    log: bytes, engine: Prefilter, memo: MatchMemo | None = None
) -> Iterator[HistoryHit]:
    """Secrets on added lines of a `git log -p -U0` output, with file, line and commit.

    One pass: the hits are visited in order and `_DiffCursor` moves forward only, so the
    cost is linear in the size of the log however many hits it holds.
    """
    memo = memo if memo is not None else MatchMemo()
    hits, _ = engine.hits(log, python=False)
    cursor = DiffCursor(log)
    for start, end in _windows(log, hits):
        line_start = log.rfind(b"\n", 0, start) + 1
        if log[line_start : line_start + 1] != b"+" or log.startswith(b"+++ ", line_start):
            continue
        where = cursor.position(line_start)
        if where is None:
            continue
        rel, line, commit, date = where
        if is_vendored(rel) or is_lock_file(rel):
            continue
        chunk = log[max(start, line_start + 1) : end]
        for m in memo.match_line(chunk, is_config_file(rel)):
            yield HistoryHit(m.rule, m.value, rel, line, commit, date)
        for m in match_pem(log, start, end):
            yield HistoryHit(m.rule, m.value.lstrip("+"), rel, line, commit, date)
