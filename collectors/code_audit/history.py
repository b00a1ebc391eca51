"""The git history the secret check reads: added lines of every commit that can hold a
value the work tree does not already show.

Two passes over git. `git log --raw` lists, per commit, the blob each changed file got:
no file contents, so it is quick. A commit whose every new blob is the one a clean file of
the work tree has now adds only lines the tree scan reads anyway; the rest are read once
as one `git log -p -U0` stream, which `DiffCursor` walks in a single forward pass. Which
files are clean the file scan tells by hashing the bytes it read as git hashes a blob;
`git diff-files` is asked only when some indexed file was not read or does not match.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .repo_files import GIT, run_git

# Bounds on the history scan, so a huge monorepo history cannot stall an audit.
HISTORY_MAX_COMMITS = 5000
HISTORY_MAX_BYTES = 256 * 1024 * 1024
HISTORY_TIMEOUT = 120.0
_COMMON = (
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "--relative",
)
_NULL_BLOB = "0" * 40


@dataclass
class History:
    """The diffs to scan, and which blobs the tree scan already covered."""

    log: bytes = b""
    stopped: str | None = None
    # Blob ids some commit gave a file: a clean file whose blob is here is in history.
    committed: set[str] = field(default_factory=set)
    # path -> blob id of each tracked file whose work-tree content is that blob.
    clean: dict[str, str] = field(default_factory=dict)

    def covers(self, rel: str) -> bool:
        """Whether the file at `rel`, as the tree scan read it, is committed."""
        blob = self.clean.get(rel)
        return blob is not None and blob in self.committed


def read_raw_log(root: Path) -> bytes | None:
    """`git log --all --raw`: the blob each commit gave each file; None when git fails.

    Needs nothing from the file scan, so it runs while the files are read.
    """
    raw = run_git(
        root,
        "log",
        "--all",
        "--raw",
        "--no-abbrev",
        f"--max-count={HISTORY_MAX_COMMITS}",
        "--format=%x01%H",
        *_COMMON,
        "--",
        ".",
        timeout=HISTORY_TIMEOUT,
    )
    return raw.stdout if raw is not None else None


def read_history(
    root: Path, raw: bytes | None, index_blobs: dict[str, str], clean: dict[str, str] | None
) -> History:
    """What `git log` holds beyond the work tree; stops at the bounds and says why.

    `raw` is `read_raw_log`'s output; `index_blobs` the index's blob ids by path, from the
    file listing; `clean` those of them the file scan found unchanged in the work tree,
    or None when it could not tell for every file (then git is asked).
    """
    history = History(clean=clean if clean is not None else clean_blobs(root, index_blobs))
    if raw is None:
        history.stopped = "git log failed; history was not scanned"
        return history
    needed = _commits_beyond_tree(raw, history)
    if needed:
        history.log, history.stopped = _read_diffs(root, needed)
    return history


def blob_id(data: bytes, like: str) -> str:
    """The id git gives a blob of `data`, in the hash of `like` (SHA-1, or SHA-256)."""
    digest = hashlib.sha256() if len(like) == 64 else hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def clean_blobs(root: Path, index_blobs: dict[str, str]) -> dict[str, str]:
    """The index blobs of files whose work-tree content is that blob."""
    dirty = run_git(root, "diff-files", "--name-only", "-z", "--relative")
    if dirty is None:
        return {}
    changed = set(dirty.stdout.decode("utf-8", errors="surrogateescape").split("\0"))
    return {rel: blob for rel, blob in index_blobs.items() if rel not in changed}


def _commits_beyond_tree(raw: bytes, history: History) -> list[str]:
    """Commits (newest first) that give some file a blob the clean work tree lacks."""
    needed: list[str] = []
    commit = ""
    marked = False
    for line in raw.decode("utf-8", errors="surrogateescape").splitlines():
        if line.startswith("\x01"):
            commit, marked = line[1:].strip(), False
            continue
        if not line.startswith(":"):
            continue
        meta, _, rel = line.partition("\t")
        fields = meta.split(" ")
        if len(fields) < 5 or fields[1] == "160000" or fields[3] == _NULL_BLOB:
            continue  # a submodule, or a deletion, which adds no line
        blob = fields[3]
        history.committed.add(blob)
        if not marked and history.clean.get(rel.strip('"')) != blob:
            needed.append(commit)
            marked = True
    return needed


def _read_diffs(root: Path, commits: list[str]) -> tuple[bytes, str | None]:
    """`git log -p -U0` of just `commits`, newest first, as one stream."""
    cmd = [
        *GIT,
        "log",
        "-p",
        "--no-walk",
        "--stdin",
        "-U0",
        "--format=%x01%H %cI",
        *_COMMON,
        "--",
        ".",
    ]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        return b"", f"cannot run git log: {exc.strerror}"
    assert proc.stdin is not None and proc.stdout is not None
    # git reads every revision from stdin before it writes, so this cannot deadlock.
    proc.stdin.write("\n".join(commits).encode() + b"\n")
    proc.stdin.close()
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


class DiffCursor:
    """Where in a `git log -p -U0` stream a line sits, for offsets given in rising order.

    Keeps the last commit marker, file header and hunk header seen, and the count of added
    lines since that hunk, updating them only over the bytes between the previous offset
    and the next, so every byte of the log is looked at a bounded number of times.
    """

    def __init__(self, log: bytes) -> None:
        self._log = log
        self._done = 0  # everything before this offset has been accounted for
        self._commit_at = -1
        self._commit = ("", "")
        self._header_at = -1
        self._path = ""
        self._hunk_at = -1
        self._first = 0
        self._added = 0  # "\n+" seen from the hunk header's end up to `_done`
        self._bad_hunk = False

    def position(self, line_start: int) -> tuple[str, int, str, str] | None:
        """(file, new-file line, commit, date) of the added line starting at `line_start`."""
        log = self._log
        if line_start < self._done:
            return None  # the windows come sorted; an earlier offset cannot recur
        lo = max(0, self._done - 1)  # a marker's newline may be the last byte already seen
        commit_at = log.rfind(b"\x01", lo, line_start)
        if commit_at >= 0:
            self._commit_at = commit_at
            end = log.find(b"\n", commit_at)
            commit, _, date = log[commit_at + 1 : end].decode(errors="replace").partition(" ")
            self._commit = (commit, date)
        header = log.rfind(b"\n+++ ", lo, line_start)
        if header >= 0:
            self._header_at = header
            raw = log[header + 5 : log.find(b"\n", header + 1)].decode("utf-8", errors="replace")
            path = raw.strip('"')
            self._path = path[2:] if path.startswith("b/") else path
        hunk = log.rfind(b"\n@@ ", lo, line_start)
        if hunk >= 0:
            self._hunk_at = hunk
            hunk_end = log.find(b"\n", hunk + 1)
            fields = log[hunk + 4 : hunk_end]
            plus = fields.split(b" ")[1] if b" " in fields else b""
            try:
                self._first = int(plus.lstrip(b"+").split(b",")[0])
                self._bad_hunk = False
            except ValueError:
                self._bad_hunk = True
            self._added = log.count(b"\n+", hunk_end, line_start)
        else:
            self._added += log.count(b"\n+", lo, line_start)
        self._done = line_start
        if (
            min(self._hunk_at, self._header_at, self._commit_at) < 0
            or self._header_at > self._hunk_at
            or self._commit_at > self._header_at
            or self._bad_hunk
        ):
            return None
        return self._path, self._first + self._added, *self._commit
