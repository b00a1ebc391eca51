"""Which files of a repository the code audit reads, and how it reads them.

Inside git the listing is git's own (tracked plus untracked-but-not-ignored files, so
.gitignore is honoured); outside git it is a plain walk. Vendored folders, binaries,
symlinks and files over the size cap are never read; what cannot be read becomes a gap.
"""

from __future__ import annotations

import ast
import errno
import os
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cached_property
from pathlib import Path

from execbrief.models import Fact, Gap, Severity, Source
from execbrief.secrets.rules import suffix_of

COLLECTOR = "code_audit"

VENDORED_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        "bower_components",
        "jspm_packages",
        "vendor",
        "vendored",
        "third_party",
        "third-party",
        "site-packages",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".terraform",
        ".aws-sam",
    }
)

BINARY_SUFFIXES = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".tif",
        ".tiff",
        ".psd",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".jar",
        ".war",
        ".ear",
        ".class",
        ".so",
        ".dll",
        ".dylib",
        ".exe",
        ".bin",
        ".o",
        ".a",
        ".pyc",
        ".pyo",
        ".whl",
        ".egg",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".mp3",
        ".mp4",
        ".mov",
        ".avi",
        ".wav",
        ".flac",
        ".ogg",
        ".webm",
        ".mkv",
        ".sqlite",
        ".sqlite3",
        ".db",
        ".parquet",
        ".pkl",
        ".pickle",
        ".npy",
        ".npz",
        ".h5",
        ".onnx",
        ".dmg",
        ".iso",
        ".heic",
        ".avif",
    ]
)

# Git's own heuristic: a NUL byte in the first 8000 bytes makes a file binary.
_BINARY_PROBE = 8000
GIT_TIMEOUT = 60.0
# fsmonitor is off because it runs a configured program: audited repos are untrusted.
# No optional locks: `git status` would otherwise rewrite the audited repo's index.
GIT = ("git", "--no-optional-locks", "-c", "core.quotepath=off", "-c", "core.fsmonitor=false")


@dataclass(frozen=True)
class RepoFile:
    """One file of a repository: its path relative to the root, and whether git tracks it."""

    rel: str
    # A string, not a Path: building 12,000 Paths costs a fifth of a second before the
    # scan can split, and the file is only ever opened and stat'ed by name.
    path: str
    tracked: bool | None

    @cached_property
    def name(self) -> str:
        return self.rel.rpartition("/")[2]

    @cached_property
    def suffix(self) -> str:
        # PurePosixPath's rule without building one per file: ".bashrc" has no suffix.
        return suffix_of(self.name)


class ReadOutcome(Enum):
    TEXT = "text"
    BINARY = "binary"
    TOO_LARGE = "too_large"
    SKIPPED = "skipped"
    UNREADABLE = "unreadable"


@dataclass
class SourceFile:
    """A text file's bytes, with its decoded text and Python tree computed once, on demand."""

    file: RepoFile
    data: bytes
    not_utf8: bool = False
    _text: str | None = None
    _tree: ast.Module | SyntaxError | None = None

    @property
    def rel(self) -> str:
        return self.file.rel

    def text(self) -> str:
        """The file as UTF-8; invalid bytes become U+FFFD and the file is marked not UTF-8."""
        if self._text is None:
            try:
                self._text = self.data.decode("utf-8")
            except UnicodeDecodeError:
                self.not_utf8 = True
                self._text = self.data.decode("utf-8", errors="replace")
        return self._text

    def python_tree(self) -> ast.Module | SyntaxError:
        """The parsed module, or the SyntaxError that stopped the parse."""
        if self._tree is None:
            try:
                # Bytes, so that a PEP 263 coding line is honoured as Python would.
                self._tree = ast.parse(self.data, filename=self.rel)
            except SyntaxError as exc:
                self._tree = exc
            except ValueError as exc:  # e.g. source with NUL bytes past the binary probe
                self._tree = SyntaxError(str(exc))
        return self._tree


@dataclass
class RepoListing:
    """The files to read in one repository, and what the listing itself could not see."""

    root: Path
    git_root: Path | None
    files: list[RepoFile] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    # path -> blob id of each tracked file as the index holds it (stage 0 only)
    index_blobs: dict[str, str] = field(default_factory=dict)

    @property
    def is_git(self) -> bool:
        return self.git_root is not None


@dataclass
class AuditScope:
    """One repository being audited: builds its facts and gaps with the shared labels."""

    repo: str
    root: Path
    entity: str | None
    now: datetime
    is_git: bool = False
    index_blobs: dict[str, str] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    def fact(
        self,
        kind: str,
        severity: Severity,
        title: str,
        *,
        path: str | None = None,
        line: int | None = None,
        section: str | None = None,
        detail: str = "",
        metrics: dict[str, float] | None = None,
        tags: list[str],
        key: str | None = None,
    ) -> None:
        """Record a fact; the repository name is its resource so equal paths in two repos differ."""
        source = Source(path=path, line=line, section=section, resource=self.repo)
        self.facts.append(
            Fact.create(
                collector=COLLECTOR,
                kind=kind,
                source=source,
                key=f"{self.repo}:{key}" if key else None,
                severity=severity,
                title=title,
                detail=detail,
                entity=self.entity,
                metrics=metrics or {},
                tags=tags,
                observed_at=self.now,
            )
        )

    def gap(self, where: str, reason: str, hint: str | None = None) -> None:
        """Record what could not be read, as `repo/path`."""
        source = f"{self.repo}/{where}" if where else self.repo
        self.gaps.append(Gap(collector=COLLECTOR, source=source, reason=reason, hint=hint))


def run_git(
    cwd: Path, *args: str, timeout: float = GIT_TIMEOUT
) -> subprocess.CompletedProcess[bytes] | None:
    """Run git in `cwd`; None when git is missing, fails or times out."""
    cmd = [*GIT, *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc if proc.returncode == 0 else None


def is_vendored(rel: str) -> bool:
    """Whether any folder on the path is a vendored or generated one."""
    return any(part in VENDORED_DIRS for part in rel.split("/")[:-1])


def list_repo(root: Path) -> RepoListing:
    """Every file the audit should consider in `root`, git-aware when it is a work tree."""
    # One git call lists tracked ("H", "S", ...) and untracked ("?") files, and fails
    # outside a work tree, which is how a plain folder is told apart.
    # With -s each tracked entry also carries its blob id: "H 100644 <blob> 0\tpath".
    proc = run_git(root, "ls-files", "-z", "-t", "-s", "--cached", "--others", "--exclude-standard")
    listing = RepoListing(root=root, git_root=root if proc is not None else None)
    base = str(root)
    if proc is not None:
        rels: set[tuple[str, bool]] = set()
        for entry in proc.stdout.decode("utf-8", errors="surrogateescape").split("\0"):
            tag, _, rest = entry.partition(" ")
            if tag == "?":
                rels.add((rest, False))
                continue
            info, tab, rel = rest.partition("\t")
            fields = info.split(" ")
            if not tab or len(fields) != 3:
                continue
            rels.add((rel, True))
            if fields[2] == "0":
                listing.index_blobs[rel] = fields[1]
        if not rels and any(p.name != ".git" for p in root.iterdir()):
            # A folder the enclosing repository ignores: git lists nothing, yet it has files.
            listing.gaps.append(
                _gap(root, "", "ignored by the enclosing git repository; walked the folder")
            )
            listing.git_root = None
        else:
            listing.files = [
                RepoFile(rel, f"{base}/{rel}", is_tracked)
                for rel, is_tracked in sorted(rels)
                if not is_vendored(rel)
            ]
            return listing
    listing.files = [RepoFile(rel, f"{base}/{rel}", None) for rel in _walk(root, listing.gaps)]
    return listing


def _walk(root: Path, gaps: list[Gap]) -> Iterator[str]:
    def on_error(exc: OSError) -> None:
        rel = Path(exc.filename).relative_to(root).as_posix() if exc.filename else ""
        gaps.append(_gap(root, rel, f"cannot list folder: {exc.strerror}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = sorted(d for d in dirnames if d not in VENDORED_DIRS)
        base = Path(dirpath).relative_to(root)
        for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
            yield (base / name).as_posix()


def read_source(
    file: RepoFile, max_bytes: int, scope: AuditScope
) -> tuple[ReadOutcome, SourceFile | None]:
    """Read one file as bytes, or say why not; unreadable files and symlink loops are gaps."""
    try:
        info = os.lstat(file.path)
    except FileNotFoundError:
        return ReadOutcome.SKIPPED, None  # listed by git but deleted from the work tree
    except OSError as exc:
        scope.gap(file.rel, f"cannot stat: {exc.strerror}")
        return ReadOutcome.UNREADABLE, None
    if stat.S_ISLNK(info.st_mode):
        if _is_symlink_loop(Path(file.path), scope.root):
            scope.gap(file.rel, "symlink loop; not followed")
        return ReadOutcome.SKIPPED, None
    if not stat.S_ISREG(info.st_mode):
        return ReadOutcome.SKIPPED, None  # sockets, FIFOs, submodule folders
    if file.suffix in BINARY_SUFFIXES:
        return ReadOutcome.BINARY, None
    if info.st_size > max_bytes:
        return ReadOutcome.TOO_LARGE, None
    try:
        data = _read_upto(file.path, info.st_size, max_bytes + 1)
    except OSError as exc:
        scope.gap(file.rel, f"cannot read: {exc.strerror}")
        return ReadOutcome.UNREADABLE, None
    if len(data) > max_bytes:
        return ReadOutcome.TOO_LARGE, None
    if b"\0" in data[:_BINARY_PROBE]:
        return ReadOutcome.BINARY, None
    return ReadOutcome.TEXT, SourceFile(file=file, data=data)


def _read_upto(path: str, size: int, limit: int) -> bytes:
    """At most `limit` bytes of the file, read at the size it was stat'ed at: a file object
    and its buffer cost twice the read itself over thousands of small files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, min(size + 1, limit))
        while len(data) < limit:  # grew since the stat, or a short read
            more = os.read(fd, limit - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


def _is_symlink_loop(link: Path, root: Path) -> bool:
    """A link that cannot resolve for its own cycle, or that points at a folder above it."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as exc:
        return exc.errno == errno.ELOOP
    except RuntimeError:
        return True
    if not target.is_dir():
        return False
    parent = Path(os.path.realpath(link.parent))
    return parent == target or target in parent.parents


def _gap(root: Path, rel: str, reason: str) -> Gap:
    source = f"{root.name}/{rel}" if rel else root.name
    return Gap(collector=COLLECTOR, source=source, reason=reason)
